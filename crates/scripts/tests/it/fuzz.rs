//! Property tests: arbitrary and PowerShell-shaped inputs never panic and respect limits.

use bulwark_scripts::{AnalyzeOptions, analyze};
use proptest::prelude::*;

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("iex".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("$(".to_string()),
        Just("${x}".to_string()),
        Just("+".to_string()),
        Just(" -f ".to_string()),
        Just(" -join ".to_string()),
        Just(" -replace ".to_string()),
        Just("[char]".to_string()),
        Just("[char[]]".to_string()),
        Just("|%{".to_string()),
        Just("}".to_string()),
        Just("..".to_string()),
        Just(",".to_string()),
        Just("`".to_string()),
        Just("[Convert]::FromBase64String('".to_string()),
        Just("powershell -enc ".to_string()),
        Just("%x:~1,2%".to_string()),
        Just("String.fromCharCode(".to_string()),
        Just("Chr(".to_string()),
        Just("$'\\x".to_string()),
        "[a-zA-Z0-9+/=]{0,12}",
        "[0-9]{1,4}",
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,400}") {
        let a = analyze(&s, &AnalyzeOptions::default());
        prop_assert!(!a.layers.is_empty());
    }

    #[test]
    fn script_shaped_text_never_panics(parts in proptest::collection::vec(fragment(), 0..60)) {
        let s = parts.concat();
        let opts = AnalyzeOptions { max_depth: 8, ..AnalyzeOptions::default() };
        let a = analyze(&s, &opts);
        prop_assert!(a.layers.len() <= 9);
        let json = serde_json::to_string(&a).unwrap();
        let back: bulwark_scripts::Analysis = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, a);
    }
}
