//! The `bulwark` binary as a user runs it.
use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;

#[test]
fn demo_then_tables_shows_a_populated_tenant() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    cargo_bin_cmd!("bulwark")
        .args(["--data-dir"])
        .arg(&data)
        .args(["demo", "--events", "20000", "--seed", "7", "--end", "2026-11-20T12:00:00Z"])
        .assert()
        .success()
        .stdout(predicate::str::contains("attack scenarios are hidden in the data"));
    assert!(data.join("scenarios.json").is_file());

    let out = cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(&data)
        .args(["tables", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let tables: Vec<serde_json::Value> = serde_json::from_slice(&out).expect("json");
    assert!(tables.len() >= 20, "{} tables with rows", tables.len());
    // Telemetry is what --events scales; detection adds alerts and incidents on top.
    let findings = ["AlertInfo", "AlertEvidence", "SecurityIncident"];
    let rows_of = |name: &str| {
        tables.iter().find(|t| t["table"] == name).and_then(|t| t["rows"].as_u64()).unwrap_or(0)
    };
    let telemetry: u64 = tables
        .iter()
        .filter(|t| !findings.iter().any(|f| t["table"] == *f))
        .map(|t| t["rows"].as_u64().expect("rows"))
        .sum();
    assert!((18_000..=22_000).contains(&telemetry), "{telemetry}");
    assert!(
        rows_of("SecurityIncident") >= 3,
        "detection ran at the end of the demo and found the attacks"
    );
    assert!(rows_of("AlertInfo") > rows_of("SecurityIncident"));
    let process = tables.iter().find(|t| t["table"] == "DeviceProcessEvents").expect("table");
    let columns = process["columns"].as_array().expect("columns");
    assert!(columns.iter().any(|c| c[0] == "ProcessCommandLine" && c[1] == "string"));

    // Running the demo again replaces the previous demo tenant instead of doubling it.
    cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(&data)
        .args(["demo", "--events", "10000", "--quiet"])
        .assert()
        .success();
    let out = cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(&data)
        .args(["tables", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let tables: Vec<serde_json::Value> = serde_json::from_slice(&out).expect("json");
    let total: u64 = tables
        .iter()
        .filter(|t| !findings.iter().any(|f| t["table"] == *f))
        .map(|t| t["rows"].as_u64().expect("rows"))
        .sum();
    assert!((9_000..=11_000).contains(&total), "replaced, not appended: {total}");
}

#[test]
fn demo_refuses_a_data_dir_holding_other_data() {
    let dir = tempfile::tempdir().expect("tmp");
    let schema = dir.path().join("s.json");
    std::fs::write(&schema, r#"{"Notes_CL": [["TimeGenerated","datetime"],["Text","string"]]}"#)
        .expect("w");
    let data = dir.path().join("data");
    {
        let mut store = bulwark_store::Store::open(&data).expect("open");
        store.add_custom_schema(&schema).expect("schema");
        let t = store.table("Notes_CL").expect("t").clone();
        let mut b = bulwark_model::BatchBuilder::new(t.clone(), 1);
        b.set_str(t.index_of("Text").expect("c"), "keep me");
        b.end_row();
        let mut tx = store.begin().expect("tx");
        tx.write("Notes_CL", &b.finish().expect("batch")).expect("write");
        tx.commit().expect("commit");
    }
    cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(&data)
        .args(["demo", "--events", "10000"])
        .assert()
        .failure()
        .code(2)
        .stderr(
            predicate::str::contains("not a demo tenant").and(predicate::str::contains("--append")),
        );
}

#[test]
fn the_data_dir_comes_from_the_environment_when_not_given() {
    let dir = tempfile::tempdir().expect("tmp");
    cargo_bin_cmd!("bulwark")
        .env("BULWARK_DATA_DIR", dir.path())
        .args(["tables"])
        .assert()
        .success()
        .stdout(predicate::str::contains("No table in"));
    assert!(dir.path().join("tables").is_dir(), "the store was created in $BULWARK_DATA_DIR");
}

#[test]
fn bad_input_gets_one_clear_sentence_and_a_failure_code() {
    let dir = tempfile::tempdir().expect("tmp");
    cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["demo", "--end", "next tuesday"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--end 'next tuesday' is not a date and time"));
    cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["schema", "show", "DeviceProcesEvents"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("did you mean 'DeviceProcessEvents'"));
    std::fs::write(dir.path().join("manifest.json"), "garbage").expect("write");
    cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["tables"])
        .assert()
        .failure()
        .code(2)
        .stderr(predicate::str::contains("corrupt"));
}

#[test]
fn custom_tables_can_be_added_and_shown() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("vpn.json");
    std::fs::write(
        &file,
        r#"{"Vpn_CL": [["TimeGenerated","datetime"],["UserName","string"],["BytesIn","long"]]}"#,
    )
    .expect("write");
    let data = dir.path().join("data");
    cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(&data)
        .args(["schema", "add"])
        .arg(&file)
        .assert()
        .success();
    cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(&data)
        .args(["schema", "show", "Vpn_CL", "--format", "json"])
        .assert()
        .success()
        .stdout(predicate::str::contains(r#"["BytesIn","long"]"#));
}

#[test]
fn analyze_links_a_script_to_the_demo_tenant() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(&data)
        .args(["demo", "--events", "10000", "--no-detect", "--quiet"])
        .assert()
        .success();
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("scenarios.json")).expect("truth"))
            .expect("json");
    let intrusion = truth["scenarios"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == "intrusion"))
        .expect("intrusion");
    let cmd = intrusion["facts"]["macro_child_command_line"].as_str().expect("cmd");
    let device = intrusion["patient_zero_device"].as_str().expect("device");
    let script = dir.path().join("macro.txt");
    std::fs::write(&script, cmd).expect("write");
    let out = cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(&data)
        .arg("analyze")
        .arg(&script)
        .args(["--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
    let links = v["links"].as_array().expect("links");
    let hit = links
        .iter()
        .find(|l| l["kind"] == "command_line" && l["table"] == "DeviceProcessEvents")
        .expect("command line found");
    assert_eq!(hit["devices"][0], device);
    assert!(hit["query"].as_str().expect("query").contains("ProcessCommandLine contains"));
    cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(&data)
        .arg("analyze")
        .arg(&script)
        .assert()
        .success()
        .stdout(predicate::str::contains("## Seen in your environment"))
        .stdout(predicate::str::contains(device));
    // Without data nothing is linked, and no data directory is created.
    let none = dir.path().join("none");
    let out = cargo_bin_cmd!("bulwark")
        .arg("--data-dir")
        .arg(&none)
        .arg("analyze")
        .arg(&script)
        .args(["--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert!(v.get("links").is_none());
    assert!(!none.exists());
}
