//! Both ways of running a rule give the same hits: streaming evaluation (rsigma, on batches as
//! ingest writes them) and the rule converted to KQL and run by our KQL engine over the store.
//!
//! The data is the SigmaHQ regression set: every `.evtx` is ingested into one temporary store
//! (so each rule also sees every other test's events, which exercises false positives as well),
//! and each regression rule's streaming hit count on the table its KQL reads is compared with
//! the KQL's row count.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use bulwark_detect::{RuleSet, to_kql};
use bulwark_kql::exec::{Engine, QueryOptions};

use crate::sigmahq::sigmahq;

/// One rule's outcome on both paths.
struct Outcome {
    rule_id: String,
    table: String,
    streaming: u64,
    kql_rows: Result<usize, String>,
    kql: String,
    /// Streaming hits of the rule on every table (the KQL reads one).
    all_tables: Vec<(String, u64)>,
}

/// The regression cases: (rule id, evtx path), from the corpus index.
fn cases() -> Option<Vec<(String, PathBuf)>> {
    let base = bulwark_testutil::shared_path("sigma")?;
    let index = std::fs::read_to_string(base.join("regression_data/_index.jsonl")).ok()?;
    let mut out = Vec::new();
    for line in index.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let (Some(id), Some(evtx)) = (v["rule_id"].as_str(), v["evtx"].as_str()) else {
            continue;
        };
        let path = base.join(evtx);
        if path.is_file() {
            out.push((id.to_string(), path));
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// [`run_here`] on a thread with a large stack: planning a rule with hundreds of `or`ed values
/// recurses deeply in a debug build.
fn run(rules: &'static RuleSet, cases: Vec<(String, PathBuf)>) -> Vec<Outcome> {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || run_here(rules, &cases))
        .expect("spawn")
        .join()
        .expect("run")
}

/// Ingests the cases' files, counting streaming hits per (rule, table), then runs each rule's KQL.
fn run_here(rules: &RuleSet, cases: &[(String, PathBuf)]) -> Vec<Outcome> {
    let wanted: BTreeSet<&str> = cases.iter().map(|(id, _)| id.as_str()).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = bulwark_store::Store::open(dir.path()).expect("store");
    let mut paths: Vec<PathBuf> = cases.iter().map(|(_, p)| p.clone()).collect();
    paths.sort();
    paths.dedup();
    let tables: BTreeSet<&str> = rules.tables().into_iter().collect();
    let mut hits: HashMap<(String, String), u64> = HashMap::new();
    let options = bulwark_ingest::IngestOptions::default();
    bulwark_ingest::ingest_with(&store, &paths, &options, &|_| {}, &mut |table, batch| {
        if !tables.contains(table) {
            return;
        }
        let rows =
            bulwark_detect::event::json_rows(std::slice::from_ref(batch)).expect("batch to rows");
        for row in &rows {
            for id in rules.matching_rule_ids(table, row) {
                if wanted.contains(id.as_str()) {
                    *hits.entry((id, table.to_string())).or_default() += 1;
                }
            }
        }
    })
    .expect("ingest");

    let engine = Engine::open(&store).expect("engine");
    let by_id: HashMap<&str, &rsigma_parser::SigmaRule> =
        rules.parsed_rules().iter().filter_map(|r| Some((r.id.as_deref()?, r))).collect();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let options = QueryOptions::default();
    let mut out = Vec::new();
    for id in wanted {
        let Some(rule) = by_id.get(id) else { continue };
        let Ok(kql) = to_kql(rule) else { continue };
        let table = kql
            .lines()
            .find(|l| !l.starts_with("//"))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_default()
            .to_string();
        let kql_rows = rt.block_on(engine.query(&kql, &options)).map(|o| o.row_count);
        let kql_rows = kql_rows.map_err(|e| e.to_string());
        let streaming = hits.get(&(id.to_string(), table.clone())).copied().unwrap_or_default();
        let all_tables =
            hits.iter().filter(|((r, _), _)| r == id).map(|((_, t), n)| (t.clone(), *n)).collect();
        out.push(Outcome { rule_id: id.to_string(), table, streaming, kql_rows, kql, all_tables });
    }
    out
}

/// Prints every disagreement and returns the agreement in percent of converted rules.
fn agreement(outcomes: &[Outcome]) -> f64 {
    let mut agree = 0usize;
    let mut by_table: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for o in outcomes {
        let same = o.kql_rows.as_ref().is_ok_and(|n| *n as u64 == o.streaming);
        let t = by_table.entry(o.table.as_str()).or_default();
        t.0 += 1;
        if same {
            agree += 1;
            t.1 += 1;
        } else {
            eprintln!(
                "DISAGREE {} on {}: streaming {} kql {:?} (streaming on all tables: {:?})\n{}\n",
                o.rule_id, o.table, o.streaming, o.kql_rows, o.all_tables, o.kql
            );
        }
    }
    let fired = outcomes.iter().filter(|o| o.streaming > 0).count();
    let pct = agree as f64 * 100.0 / outcomes.len().max(1) as f64;
    eprintln!(
        "both paths agree on {agree}/{} converted rules = {pct:.2}% ({fired} fire in \
         streaming); by table (rules, agreeing): {by_table:?}",
        outcomes.len()
    );
    pct
}

/// Every third regression case (about a third of the rules) keeps the debug run short; the
/// ignored test below runs them all.
#[test]
fn streaming_and_kql_agree_on_regression_sample() {
    let Some((rules, _)) = sigmahq() else { return };
    let Some(cases) = cases() else { return };
    let sample: Vec<_> = cases.into_iter().step_by(3).collect();
    let outcomes = run(rules, sample);
    assert!(outcomes.len() >= 40, "only {} rules converted", outcomes.len());
    // Rules that fire on their own data must be most of them, or the comparison proves little.
    assert!(outcomes.iter().filter(|o| o.streaming > 0).count() * 2 > outcomes.len());
    let pct = agreement(&outcomes);
    assert!(pct >= 98.0, "agreement {pct:.2}%");
}

#[test]
#[ignore = "the whole regression set: about a minute in release, several in debug"]
fn streaming_and_kql_agree_on_all_regression_rules() {
    let Some((rules, _)) = sigmahq() else { return };
    let Some(cases) = cases() else { return };
    let outcomes = run(rules, cases);
    let pct = agreement(&outcomes);
    assert!(pct >= 98.0, "agreement {pct:.2}%");
}
