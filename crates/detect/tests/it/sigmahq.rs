//! SigmaHQ corpus: load percentage and the regression harness.

use bulwark_detect::{Criterion, JsonRendering, RuleSet, run_regression, run_regression_with};

/// The SigmaHQ rule set, loaded once for all tests of this binary (loading takes seconds).
pub fn sigmahq() -> Option<&'static (RuleSet, bulwark_detect::LoadReport)> {
    static SET: std::sync::OnceLock<Option<(RuleSet, bulwark_detect::LoadReport)>> =
        std::sync::OnceLock::new();
    SET.get_or_init(load_sigmahq).as_ref()
}

fn load_sigmahq() -> Option<(RuleSet, bulwark_detect::LoadReport)> {
    let base = bulwark_testutil::shared_path("sigma")?;
    let started = std::time::Instant::now();
    let mut rules = RuleSet::new();
    let dirs = ["rules", "rules-threat-hunting", "rules-emerging-threats"].map(|d| base.join(d));
    let dirs: Vec<&std::path::Path> = dirs.iter().map(|d| d.as_path()).collect();
    let report = rules.load_dirs(&dirs).expect("rules folders readable");
    eprintln!("SigmaHQ loaded in {:.1}s", started.elapsed().as_secs_f64());
    Some((rules, report))
}

#[test]
fn sigmahq_rules_load_at_least_99_percent() {
    let Some((_, report)) = sigmahq() else { return };
    eprintln!(
        "files {} loaded {} correlations {} failed {} unmapped {} => {:.2}%",
        report.files,
        report.loaded,
        report.correlations,
        report.failed.len(),
        report.unmapped.len(),
        report.load_percent()
    );
    for f in &report.failed {
        eprintln!("FAILED {}: {}", f.origin, f.feature);
    }
    // Failures must name the file and the reason.
    assert!(report.failed.iter().all(|f| !f.origin.is_empty() && !f.feature.is_empty()));
    assert!(report.files > 3000, "expected the full SigmaHQ corpus");
    assert!(report.load_percent() >= 99.0, "load {:.2}%", report.load_percent());
}

#[test]
fn sigmahq_regression_passes_at_least_98_percent() {
    let Some((rules, _)) = sigmahq() else { return };
    let Some(dir) = bulwark_testutil::shared_path("sigma/regression_data") else { return };
    let report = run_regression(rules, &dir, &JsonRendering).expect("regression folder readable");
    for f in &report.failures {
        eprintln!(
            "FAIL {} {} expected {:?} got {:?}: {}",
            f.test, f.rule_id, f.expected, f.actual, f.reason
        );
    }
    eprintln!(
        "regression: {}/{} = {:.2}% (unscored tests firing: {}/{})",
        report.passed,
        report.total,
        report.pass_percent(),
        report.unscored_fired,
        report.unscored
    );
    assert!(report.total >= 150, "expected ~170 scored tests, got {}", report.total);
    assert!(report.pass_percent() >= 98.0, "pass {:.2}%", report.pass_percent());

    // The exact-count view of the same run.
    eprintln!("regression (exact counts): {:.2}%", report.exact_percent());
    for f in &report.count_mismatches {
        eprintln!("EXACT-MISMATCH {} expected {:?} got {:?}", f.test, f.expected, f.actual);
    }
    // Where the count differs, the file holds more genuinely matching events than info.yml
    // says (checked by hand: e.g. AnyDesk writes user.conf three times); never fewer.
    assert!(
        report.count_mismatches.iter().all(|f| f.actual > f.expected),
        "an exact-count test under-matched"
    );
    assert!(report.exact_percent() >= 97.0, "exact {:.2}%", report.exact_percent());
}

#[test]
fn exact_count_criterion_scores_mismatches_as_failures() {
    let Some((rules, _)) = sigmahq() else { return };
    // One folder known to hold three matching events where info.yml says one.
    let Some(dir) = bulwark_testutil::shared_path(
        "sigma/regression_data/rules/windows/file/file_event/file_event_win_anydesk_artefact",
    ) else {
        return;
    };
    let exact =
        run_regression_with(rules, &dir, &JsonRendering, Criterion::ExactCount).expect("readable");
    let upstream = run_regression(rules, &dir, &JsonRendering).expect("readable");
    assert_eq!((exact.total, exact.passed), (1, 0));
    assert_eq!((upstream.total, upstream.passed), (1, 1));
    assert_eq!(exact.failures[0].actual, Some(3));
}
