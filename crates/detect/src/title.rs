//! Incident titles written the way Defender XDR writes them, so an analyst reads the story from
//! the queue: "Multi-stage incident involving Initial access & Exfiltration on multiple
//! endpoints", "Password spray followed by a successful sign-in and a malicious inbox rule",
//! "'AgentTesla' malware was prevented on one endpoint", "Execution incident on one endpoint".
//!
//! A title never lists host names (Defender keeps those in the entity list): the scope says how
//! many endpoints or users are involved.

use std::collections::BTreeSet;

use bulwark_model::EntityKind;

use crate::alert::Alert;

/// Defender's display name of an ATT&CK tactic (tag spelling in, sentence case out).
pub fn tactic_name(tag: &str) -> String {
    match tag {
        "command-and-control" => "Command and control".into(),
        "stealth" | "defense-impairment" => "Defense evasion".into(),
        other => {
            let text = other.replace('-', " ");
            let mut c = text.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        }
    }
}

/// Where the incident happened: " on one endpoint", " on multiple endpoints", " involving one
/// user", " involving multiple users", or nothing.
fn scope(alerts: &[&Alert]) -> String {
    let mut devices = BTreeSet::new();
    let mut users = BTreeSet::new();
    for a in alerts {
        for e in &a.links {
            let v = e.value.to_ascii_lowercase();
            match e.kind {
                EntityKind::Device => {
                    // `ws1` and `ws1.contoso.com` are one endpoint.
                    devices.insert(v.split('.').next().unwrap_or(&v).to_string());
                }
                EntityKind::User => {
                    let bare = v.rsplit('\\').next().and_then(|s| s.split('@').next());
                    users.insert(bare.unwrap_or(&v).to_string());
                }
                _ => {}
            }
        }
    }
    match (devices.len(), users.len()) {
        (1, _) => " on one endpoint".into(),
        (n, _) if n > 1 => " on multiple endpoints".into(),
        (_, 1) => " involving one user".into(),
        (_, n) if n > 1 => " involving multiple users".into(),
        _ => String::new(),
    }
}

/// Steps of an identity attack, in story order (the title names the first three present; a
/// forwarding rule says more than the mailbox reads before it): (techniques, phrase).
const IDENTITY_STEPS: &[(&[&str], &str)] = &[
    (&["T1110.003"], "Password spray"),
    (&["T1110.001", "T1110.004"], "Brute force"),
    (&["T1078.004", "T1078"], "a successful sign-in"),
    (&["T1114.003", "T1564.008"], "a malicious inbox rule"),
    (&["T1114.002"], "suspicious mailbox access"),
    (&["T1098.005", "T1556.006"], "a new MFA method"),
    (&["T1098"], "account manipulation"),
];

/// "Password spray followed by a successful sign-in and a malicious inbox rule": when an
/// incident without endpoints starts with a spray or brute force and goes on.
fn identity_story(alerts: &[&Alert]) -> Option<String> {
    let techniques: BTreeSet<&str> =
        alerts.iter().flat_map(|a| a.techniques.iter().map(String::as_str)).collect();
    let present = |prefixes: &[&str]| techniques.iter().any(|t| prefixes.contains(t));
    let steps: Vec<&str> =
        IDENTITY_STEPS.iter().filter(|(p, _)| present(p)).map(|(_, s)| *s).take(3).collect();
    let first = steps.first()?;
    if !matches!(*first, "Password spray" | "Brute force") || steps.len() < 2 {
        return None;
    }
    let rest = &steps[1..];
    let tail = match rest {
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
        [] => return None,
    };
    Some(format!("{first} followed by {tail}"))
}

/// The title of an incident made of `alerts` spanning `tactics` (kill-chain order).
pub fn incident_title(alerts: &[&Alert], tactics: &[String]) -> String {
    let scope = scope(alerts);
    let has_devices = scope.contains("endpoint");
    if !has_devices && let Some(story) = identity_story(alerts) {
        return story;
    }
    // A product's own verdict ("'AgentTesla' malware was prevented") names the threat better
    // than our generic rules when the incident is that one event.
    let product = alerts
        .iter()
        .filter(|a| a.table == "AlertInfo")
        .max_by_key(|a| (crate::incident::rank(a.level.as_deref()), a.title.clone()));
    if let Some(p) = product
        && tactics.len() <= 2
    {
        return format!("{}{scope}", p.title);
    }
    let titles: BTreeSet<&str> = alerts.iter().map(|a| a.title.as_str()).collect();
    if titles.len() == 1 {
        return format!("{}{scope}", alerts.first().map_or("", |a| a.title.as_str()));
    }
    match tactics {
        [] => format!("Incident with {} related alerts{scope}", alerts.len()),
        [one] => format!("{} incident{scope}", tactic_name(one)),
        [first, .., last] => format!(
            "Multi-stage incident involving {} & {}{scope}",
            tactic_name(first),
            tactic_name(last)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertKind;
    use serde_json::{Value, json};

    fn alert(title: &str, table: &str, tags: &[&str], row: Value) -> Alert {
        Alert::new(
            AlertKind::Detection,
            title.into(),
            title.into(),
            Some("high".into()),
            tags.iter().map(|t| (*t).to_string()).collect(),
            None,
            table,
            row.as_object().unwrap_or(&serde_json::Map::new()),
        )
    }

    fn title(alerts: &[Alert]) -> String {
        let refs: Vec<&Alert> = alerts.iter().collect();
        // Tactics present, in kill-chain order, as `incident::build` passes them.
        let tactics: Vec<String> = crate::incident::KILL_CHAIN
            .iter()
            .filter(|k| alerts.iter().any(|a| a.tags.iter().any(|t| t == &format!("attack.{k}"))))
            .map(|k| (*k).to_string())
            .collect();
        incident_title(&refs, &tactics)
    }

    #[test]
    fn multi_stage_names_first_and_last_tactic_and_counts_endpoints() {
        let a =
            alert("A", "DeviceProcessEvents", &["attack.execution"], json!({"DeviceName": "ws1"}));
        let b = alert(
            "B",
            "DeviceProcessEvents",
            &["attack.command-and-control"],
            json!({"DeviceName": "ws1.contoso.com"}),
        );
        // `ws1` and `ws1.contoso.com` are one endpoint.
        assert_eq!(
            title(&[a.clone(), b.clone()]),
            "Multi-stage incident involving Execution & Command and control on one endpoint"
        );
        let c = alert("C", "DeviceFileEvents", &["attack.impact"], json!({"DeviceName": "srv2"}));
        assert_eq!(
            title(&[a.clone(), b, c]),
            "Multi-stage incident involving Execution & Impact on multiple endpoints"
        );
        let d = alert("D", "DeviceFileEvents", &["attack.execution"], json!({"DeviceName": "ws1"}));
        assert_eq!(title(&[a.clone(), d]), "Execution incident on one endpoint");
        assert_eq!(title(&[a]), "A on one endpoint");
    }

    #[test]
    fn identity_attacks_read_as_a_story() {
        let mut spray = alert(
            "S",
            "SigninLogs",
            &["attack.credential-access"],
            json!({"IPAddress": "185.220.101.4"}),
        );
        spray.techniques = vec!["T1110.003".into()];
        let mut signin = alert(
            "I",
            "SigninLogs",
            &["attack.initial-access"],
            json!({"UserPrincipalName": "a@b.c"}),
        );
        signin.techniques = vec!["T1078.004".into()];
        let mut rule =
            alert("R", "OfficeActivity", &["attack.collection"], json!({"UserId": "a@b.c"}));
        rule.techniques = vec!["T1114.003".into()];
        assert_eq!(
            title(&[spray.clone(), signin.clone(), rule]),
            "Password spray followed by a successful sign-in and a malicious inbox rule"
        );
        assert_eq!(
            title(&[spray.clone(), signin]),
            "Password spray followed by a successful sign-in"
        );
        // A spray alone is no story.
        assert_eq!(title(&[spray]), "S");
    }

    #[test]
    fn a_product_verdict_names_the_threat() {
        let av = alert(
            "Antivirus Detected Malware",
            "DeviceEvents",
            &["attack.execution"],
            json!({"DeviceName": "ws1"}),
        );
        let product = alert(
            "'AgentTesla' malware was prevented",
            "AlertInfo",
            &[],
            json!({"DeviceName": "ws1"}),
        );
        assert_eq!(title(&[av, product]), "'AgentTesla' malware was prevented on one endpoint");
    }
}
