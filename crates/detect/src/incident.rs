//! Alert -> incident correlation, Defender-XDR-like: alerts that share a linking entity (device,
//! user, mailbox, IP, file hash, URL, domain; see [`Alert::links`]) within a time window join one
//! incident, and so do the firings of one correlation rule close in time (one campaign: a
//! password spray from four Tor exit nodes is one attack, not four). The incident orders its
//! alerts by time and ATT&CK kill-chain stage and gets a title the way Defender XDR writes them.
//!
//! Informational alerts (context such as "legacy authentication used") neither open incidents
//! nor join them: they stay in `AlertInfo` for hunting, as Defender XDR keeps informational
//! alerts out of incident correlation.
//!
//! [`correlate`] is a pure function: the same alerts (in any order) give the same incidents with
//! the same ids.

use std::collections::{BTreeMap, BTreeSet};

use bulwark_model::{Entity, EntityKind};
use serde::Serialize;
use serde_json::Value;

use crate::alert::{Alert, AlertKind};
use crate::rules::row_time_secs;

/// ATT&CK tactics in kill-chain order (tag spelling), including the v18 split of
/// defense evasion into `stealth` and `defense-impairment`.
pub const KILL_CHAIN: &[&str] = &[
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "stealth",
    "defense-impairment",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
];

/// Grouping settings.
#[derive(Debug, Clone, Copy)]
pub struct IncidentConfig {
    /// Two alerts sharing an entity join when at most this many seconds apart.
    pub window_secs: i64,
    /// The same for a shared user or mailbox, shorter: an account is touched by many unrelated
    /// events (a phishing mail it merely received, a password spray that merely tried it), and a
    /// day-long window would merge separate attacks on one person.
    pub user_window_secs: i64,
    /// Two firings of the same correlation rule join when at most this many seconds apart,
    /// whatever their entities (one campaign seen from several sources).
    pub campaign_window_secs: i64,
    /// An indicator (IP, domain, URL, file hash) seen in alerts about more than this many
    /// distinct devices and users is common infrastructure (a cloud service, a CDN, an update
    /// server) rather than an attack's, and does not link alerts.
    pub max_indicator_spread: usize,
}

impl Default for IncidentConfig {
    fn default() -> Self {
        IncidentConfig {
            window_secs: 24 * 3600,
            user_window_secs: 8 * 3600,
            campaign_window_secs: 3600,
            max_indicator_spread: 10,
        }
    }
}

/// A group of related alerts.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    /// Deterministic id (`INC-` + 16 hex digits hashed from the member alerts).
    pub id: String,
    /// Human title: stages and main devices.
    pub title: String,
    /// Highest alert level.
    pub severity: String,
    /// Tactics present, in kill-chain order.
    pub tactics: Vec<String>,
    /// Techniques present, sorted.
    pub techniques: Vec<String>,
    /// Earliest and latest alert time (Unix seconds), when known.
    pub first_seen: Option<i64>,
    /// See `first_seen`.
    pub last_seen: Option<i64>,
    /// Indices into the input slice, ordered by time then kill-chain stage.
    pub alerts: Vec<usize>,
    /// Entities of all member alerts, sorted and de-duplicated.
    pub entities: Vec<Entity>,
}

/// Level as a rank; an alert without a level counts as medium (Sigma's default).
pub(crate) fn rank(level: Option<&str>) -> u8 {
    match level.map(str::to_ascii_lowercase).as_deref() {
        Some("critical") => 4,
        Some("high") => 3,
        Some("medium") | None => 2,
        Some("low") => 1,
        _ => 0,
    }
}

/// Whether an alert takes part in incidents: informational alerts do not.
pub fn opens_incidents(alert: &Alert) -> bool {
    rank(alert.level.as_deref()) > 0
}

/// Earliest kill-chain stage of an alert (index into [`KILL_CHAIN`]).
fn stage(alert: &Alert) -> usize {
    alert
        .tags
        .iter()
        .filter_map(|t| t.strip_prefix("attack."))
        .filter_map(|t| KILL_CHAIN.iter().position(|k| *k == t))
        .min()
        .unwrap_or(KILL_CHAIN.len())
}

fn alert_time(alert: &Alert) -> Option<i64> {
    alert.row.as_object().and_then(row_time_secs)
}

/// Linking keys of an entity. Values compare case-insensitively (host and account names do).
/// Users and mailboxes share keys: the full UPN/address, and the bare account name (`jdoe` from
/// `jdoe@contoso.com` or `CONTOSO\jdoe`), because Defender tables name the same person by
/// `AccountName`, `AccountUpn` and mailbox address.
fn keys(e: &Entity) -> Vec<(EntityKind, String)> {
    let v = e.value.to_ascii_lowercase();
    match e.kind {
        EntityKind::User | EntityKind::Mailbox => {
            let bare =
                v.rsplit('\\').next().and_then(|s| s.split('@').next()).unwrap_or(&v).to_string();
            let mut k = vec![(EntityKind::User, v.clone())];
            if bare != v && bare.len() >= 3 {
                k.push((EntityKind::User, bare));
            }
            k
        }
        kind => vec![(kind, v)],
    }
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // The smaller index is the root, so the result does not depend on link order.
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi] = lo;
        }
    }
}

fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A stable identity of an alert, independent of its position in the input.
fn alert_key(a: &Alert) -> String {
    format!("{}|{}|{}|{}", a.rule_id, a.table, a.time.as_deref().unwrap_or(""), canonical(&a.row))
}

fn canonical(v: &Value) -> String {
    // serde_json's Map is ordered by key (no preserve_order feature), so this is canonical.
    v.to_string()
}

/// Groups alerts into incidents. Informational alerts are left out; `Incident::alerts` index
/// into `alerts`.
pub fn correlate(alerts: &[Alert], config: &IncidentConfig) -> Vec<Incident> {
    let times: Vec<Option<i64>> = alerts.iter().map(alert_time).collect();
    let mut uf = UnionFind((0..alerts.len()).collect());
    let live: Vec<usize> = (0..alerts.len()).filter(|&i| opens_incidents(&alerts[i])).collect();
    let order = |members: &mut Vec<usize>| {
        members.sort_by_key(|&i| (times[i].unwrap_or(i64::MIN), alert_key(&alerts[i])));
        members.dedup();
    };
    // An alert that folded repeats spans first..last hit (a beacon all night); the gap to the
    // next alert is measured from the end of that span.
    let ends: Vec<Option<i64>> = alerts
        .iter()
        .zip(&times)
        .map(|(a, t)| {
            let last = a.last_time.as_deref().and_then(crate::rules::time_text_secs);
            match (t, last) {
                (Some(t), Some(l)) => Some(l.max(*t)),
                (t, _) => *t,
            }
        })
        .collect();
    // Walking the members in time order and linking each to the one whose span reaches
    // furthest connects every chain of alerts whose gaps fit the window.
    let chain = |members: &[usize], window: i64, uf: &mut UnionFind| {
        let mut reach: Option<(i64, usize)> = None;
        let mut prev: Option<usize> = None;
        for &m in members {
            match (reach, times[m]) {
                (Some((end, r)), Some(start)) => {
                    if start - end <= window {
                        uf.union(r, m);
                    }
                }
                // Without times, neighbours link (as before any window applies).
                _ => {
                    if let Some(p) = prev {
                        uf.union(p, m);
                    }
                }
            }
            if let Some(end) = ends[m]
                && reach.is_none_or(|(r, _)| end > r)
            {
                reach = Some((end, m));
            }
            prev = Some(m);
        }
    };
    // entity -> alerts carrying it.
    let mut by_entity: BTreeMap<(EntityKind, String), Vec<usize>> = BTreeMap::new();
    // correlation rule -> its firings.
    let mut by_rule: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &i in &live {
        let a = &alerts[i];
        for e in &a.links {
            for k in keys(e) {
                by_entity.entry(k).or_default().push(i);
            }
        }
        if a.kind == AlertKind::Correlation {
            by_rule.entry(a.rule_id.as_str()).or_default().push(i);
        }
    }
    for ((kind, _), members) in by_entity.iter_mut() {
        if !matches!(kind, EntityKind::Device | EntityKind::User)
            && spread(alerts, members) > config.max_indicator_spread
        {
            continue;
        }
        order(members);
        let window =
            if *kind == EntityKind::User { config.user_window_secs } else { config.window_secs };
        chain(members, window, &mut uf);
    }
    for members in by_rule.values_mut() {
        order(members);
        chain(members, config.campaign_window_secs, &mut uf);
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in &live {
        let root = uf.find(i);
        groups.entry(root).or_default().push(i);
    }
    let mut incidents: Vec<Incident> =
        groups.into_values().map(|m| build(alerts, &times, &ends, m)).collect();
    incidents.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then_with(|| a.id.cmp(&b.id)));
    incidents
}

/// Distinct devices and users named by the alerts `members`.
fn spread(alerts: &[Alert], members: &[usize]) -> usize {
    let mut who = BTreeSet::new();
    for &i in members {
        for e in &alerts[i].links {
            if matches!(e.kind, EntityKind::Device | EntityKind::User | EntityKind::Mailbox) {
                who.extend(keys(e).into_iter().take(1));
            }
        }
    }
    who.len()
}

fn build(
    alerts: &[Alert],
    times: &[Option<i64>],
    ends: &[Option<i64>],
    mut members: Vec<usize>,
) -> Incident {
    members
        .sort_by_key(|&i| (times[i].unwrap_or(i64::MIN), stage(&alerts[i]), alert_key(&alerts[i])));
    let mut keys: Vec<String> = members.iter().map(|&i| alert_key(&alerts[i])).collect();
    keys.sort();
    let hash = keys.iter().fold(0xcbf2_9ce4_8422_2325, |h, k| fnv1a(k.as_bytes(), fnv1a(b"\n", h)));
    let mut tactics_idx = BTreeSet::new();
    let mut techniques = BTreeSet::new();
    let mut entities = BTreeSet::new();
    let mut severity = 0u8;
    for &i in &members {
        let a = &alerts[i];
        for t in a.tags.iter().filter_map(|t| t.strip_prefix("attack.")) {
            if let Some(p) = KILL_CHAIN.iter().position(|k| *k == t) {
                tactics_idx.insert(p);
            }
        }
        techniques.extend(a.techniques.iter().cloned());
        entities.extend(a.entities.iter().cloned());
        severity = severity.max(rank(a.level.as_deref()));
    }
    let tactics: Vec<String> = tactics_idx.iter().map(|&p| KILL_CHAIN[p].to_string()).collect();
    let members_alerts: Vec<&Alert> = members.iter().map(|&i| &alerts[i]).collect();
    let title = crate::title::incident_title(&members_alerts, &tactics);
    let mut known: Vec<i64> = members.iter().filter_map(|&i| times[i]).collect();
    known.extend(members.iter().filter_map(|&i| ends[i]));
    Incident {
        id: format!("INC-{hash:016x}"),
        title,
        severity: ["informational", "low", "medium", "high", "critical"][usize::from(severity)]
            .to_string(),
        tactics,
        techniques: techniques.into_iter().collect(),
        first_seen: known.iter().min().copied(),
        last_seen: known.iter().max().copied(),
        alerts: members,
        entities: entities.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alert(rule: &str, tag: &str, level: &str, time: &str, row: Value) -> Alert {
        let row = row.as_object().cloned().unwrap_or_default();
        let mut row = row;
        row.insert("TimeGenerated".into(), json!(time));
        Alert::new(
            AlertKind::Detection,
            rule.into(),
            rule.into(),
            Some(level.into()),
            vec![tag.into(), "attack.t1059".into()],
            None,
            "DeviceProcessEvents",
            &row,
        )
    }

    fn sample() -> Vec<Alert> {
        vec![
            alert(
                "cred",
                "attack.credential-access",
                "critical",
                "2026-11-20T10:00:00Z",
                json!({"DeviceName": "ws1", "AccountName": "jdoe"}),
            ),
            alert(
                "exec",
                "attack.execution",
                "high",
                "2026-11-20T09:00:00Z",
                json!({"DeviceName": "ws1"}),
            ),
            alert(
                "mail",
                "attack.initial-access",
                "medium",
                "2026-11-20T08:50:00Z",
                json!({"RecipientEmailAddress": "jdoe@contoso.com", "AccountName": "jdoe"}),
            ),
            alert(
                "other",
                "attack.discovery",
                "low",
                "2026-11-20T09:30:00Z",
                json!({"DeviceName": "ws9"}),
            ),
            alert(
                "late",
                "attack.impact",
                "high",
                "2026-11-25T09:30:00Z",
                json!({"DeviceName": "ws1"}),
            ),
        ]
    }

    #[test]
    fn groups_by_shared_entities_within_window_in_kill_chain_order() {
        let alerts = sample();
        let incidents = correlate(&alerts, &IncidentConfig::default());
        assert_eq!(incidents.len(), 3, "{incidents:#?}");
        let main = &incidents[0];
        // mail (user jdoe) -> cred (user jdoe, device ws1) -> exec (device ws1).
        assert_eq!(main.alerts, vec![2, 1, 0]);
        assert_eq!(main.severity, "critical");
        assert_eq!(main.tactics, vec!["initial-access", "execution", "credential-access"]);
        assert_eq!(
            main.title,
            "Multi-stage incident involving Initial access & Credential access on one endpoint"
        );
        // The ws1 alert five days later is outside the 24 h window.
        assert!(incidents.iter().any(|i| i.alerts == vec![4]));
        assert!(incidents.iter().any(|i| i.alerts == vec![3]));
    }

    #[test]
    fn a_folded_alert_links_from_the_end_of_its_span() {
        let mut beacon = alert(
            "beacon",
            "attack.command-and-control",
            "high",
            "2026-11-20T00:00:00Z",
            json!({"DeviceName": "ws1"}),
        );
        let exfil = alert(
            "exfil",
            "attack.exfiltration",
            "high",
            "2026-11-21T16:00:00Z",
            json!({"DeviceName": "ws1"}),
        );
        // 40 h after the first beacon: too far for one incident...
        assert_eq!(
            correlate(&[beacon.clone(), exfil.clone()], &IncidentConfig::default()).len(),
            2
        );
        // ...but the beacon went on until 10 h before the exfiltration.
        beacon.count = 360;
        beacon.last_time = Some("2026-11-21T06:00:00Z".into());
        let one = correlate(&[beacon, exfil], &IncidentConfig::default());
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].last_seen.map(|t| t - one[0].first_seen.unwrap_or(0)), Some(40 * 3600));
    }

    #[test]
    fn ids_do_not_depend_on_input_order() {
        let alerts = sample();
        let mut reversed = alerts.clone();
        reversed.reverse();
        let a: BTreeSet<String> =
            correlate(&alerts, &IncidentConfig::default()).into_iter().map(|i| i.id).collect();
        let b: BTreeSet<String> =
            correlate(&reversed, &IncidentConfig::default()).into_iter().map(|i| i.id).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
    }
}
