//! The grounding guard, as the copilot calls it: `bulwark_llm::guard` checks a model-written
//! answer against an [`EvidenceIndex`] of everything the answer may rely on (the numbered
//! evidence items, plus the prompt, the session context and the skills' results as supporting
//! context); sentences with unsupported claims are removed (or flagged) and the answer ends
//! with a note saying what was. This module is the one place the copilot touches the guard.
pub use bulwark_llm::guard::{EvidenceIndex, GuardPolicy};

/// The guard's verdict on one answer, as the copilot logs it.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardReport {
    /// The answer after the guard (sentences removed or flagged, a note appended).
    pub text: String,
    /// Claims checked.
    pub claims: usize,
    /// Unsupported claims, as the guard names them (`10.9.9.9`, `'host EVIL-PC'`).
    pub unsupported: Vec<String>,
}

/// Checks `answer` against `index` under `policy`.
pub fn check(answer: &str, index: &EvidenceIndex, policy: GuardPolicy) -> GuardReport {
    let report = bulwark_llm::guard::check_with(answer, index, policy);
    GuardReport {
        unsupported: report.unsupported().iter().map(|c| c.describe()).collect(),
        claims: report.claims.len(),
        text: report.text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn index() -> EvidenceIndex {
        let mut ix = EvidenceIndex::new();
        ix.add_json(
            &json!([{"DeviceName": "wks-fin-003", "RemoteIP": "45.142.212.61", "Count": 12}]),
        );
        ix.add_context("who did wks-fin-003 talk to?");
        ix
    }

    #[test]
    fn supported_claims_pass_unchanged() {
        let answer = "wks-fin-003 talked to 45.142.212.61 12 times [E1].";
        let r = check(answer, &index(), GuardPolicy::Remove);
        assert!(r.unsupported.is_empty(), "{r:?}");
        assert!(r.claims >= 3, "{r:?}");
        assert_eq!(r.text, answer);
    }

    #[test]
    fn invented_ip_host_and_count_are_removed_and_noted() {
        let answer = "- wks-fin-003 reached 45.142.212.61 [E1].\n- It also reached 10.66.6.6 [E1].\n- The host SRV-EVIL-01 was involved.\n- 4711 files were copied.";
        let r = check(answer, &index(), GuardPolicy::Remove);
        assert_eq!(r.unsupported.len(), 3, "{r:?}");
        assert!(r.text.contains("wks-fin-003 reached 45.142.212.61"), "{}", r.text);
        for gone in ["It also reached", "was involved", "files were copied"] {
            assert!(!r.text.contains(gone), "{}", r.text);
        }
        assert!(r.text.contains("10.66.6.6"), "the note names what was removed: {}", r.text);
        let flagged = check(answer, &index(), GuardPolicy::Flag);
        assert!(flagged.text.contains("It also reached 10.66.6.6"), "{}", flagged.text);
    }
}
