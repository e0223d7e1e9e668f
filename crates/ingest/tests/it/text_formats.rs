//! Syslog and CEF files.
use crate::util::{column_values, count, run, store};
use bulwark_ingest::IngestOptions;

#[test]
fn syslog_and_cef_lines_land_in_their_tables() {
    let s = store();
    let f = s.dir.path().join("messages");
    std::fs::write(
        &f,
        "<34>Oct 11 22:14:15 mymachine su[77]: 'su root' failed for lonvick on /dev/pts/8\n\
         <165>1 2003-10-11T22:14:15.003Z host2 evntslog - ID47 - An application event\n\
         \n\
         <13>Sep 19 08:26:10 fw1 CEF:0|Security|threatmanager|1.0|100|worm stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232 dpt=443 act=blocked msg=a b c cs1Label=rule cs1=r1 foo=bar\n",
    )
    .expect("write");
    let report = run(&s.store, std::slice::from_ref(&f), &IngestOptions::default());
    assert_eq!(report.records, 3);
    assert_eq!(count(&s.store, "Syslog"), 2);
    assert_eq!(count(&s.store, "CommonSecurityLog"), 1);
    assert_eq!(
        column_values(&s.store, "Syslog", "ProcessID"),
        vec![serde_json::json!(77), serde_json::Value::Null]
    );
    assert_eq!(
        column_values(&s.store, "CommonSecurityLog", "DestinationPort"),
        vec![serde_json::json!(443)]
    );
    assert_eq!(
        column_values(&s.store, "CommonSecurityLog", "SourceIP"),
        vec![serde_json::json!("10.0.0.1")]
    );
    assert_eq!(
        column_values(&s.store, "CommonSecurityLog", "DeviceCustomString1Label"),
        vec![serde_json::json!("rule")]
    );
    assert_eq!(
        column_values(&s.store, "CommonSecurityLog", "Computer"),
        vec![serde_json::json!("fw1")]
    );
    let extra = column_values(&s.store, "CommonSecurityLog", "AdditionalExtensions");
    assert_eq!(extra, vec![serde_json::json!("foo=bar")]);
}
