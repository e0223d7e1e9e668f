//! The web app's files (embedded from `crates/server/web/` at build time; the directory may
//! be absent) and the embeddable widget script.
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "web/"]
#[allow_missing = true]
struct Assets;

/// The embed widget: reads `data-bulwark-endpoint`, `data-incident`, `data-script`,
/// `data-question` and `data-api-key` from its own script tag, calls the endpoint and shows
/// the Markdown as text (never as HTML) with the evidence sources listed below it.
pub const WIDGET_JS: &str = r#"(function () {
  var me = document.currentScript;
  if (!me) { return; }
  var endpoint = me.getAttribute('data-bulwark-endpoint') || 'incident-summary';
  if (!/^[a-z-]+$/.test(endpoint)) { return; }
  var base = me.src.replace(/\/embed\/widget\.js.*$/, '');
  var body = {};
  if (me.hasAttribute('data-incident')) { body.incident = me.getAttribute('data-incident'); }
  if (me.hasAttribute('data-script')) { body.script = me.getAttribute('data-script'); }
  if (me.hasAttribute('data-question')) { body.question = me.getAttribute('data-question'); }
  var box = document.createElement('div');
  box.className = 'bulwark-widget';
  var text = document.createElement('pre');
  text.style.whiteSpace = 'pre-wrap';
  text.textContent = 'Asking Bulwark...';
  box.appendChild(text);
  me.parentNode.insertBefore(box, me.nextSibling);
  fetch(base + '/api/v1/embed/' + endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Authorization': 'Bearer ' + (me.getAttribute('data-api-key') || '') },
    body: JSON.stringify(body)
  }).then(function (r) { return r.json(); }).then(function (j) {
    if (j.error) { text.textContent = 'Bulwark: ' + j.error.message; return; }
    text.textContent = j.markdown;
    var list = document.createElement('ol');
    (j.evidence || []).forEach(function (e) {
      var li = document.createElement('li');
      li.textContent = e.source + ' (' + e.row_count + ' rows)' + (e.query ? ': ' + e.query : '');
      list.appendChild(li);
    });
    box.appendChild(list);
  }).catch(function (e) { text.textContent = 'Bulwark: ' + e; });
})();
"#;

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `GET /embed/widget.js`.
pub async fn widget() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], WIDGET_JS).into_response()
}

/// Any other path: `/` is `index.html`, `/login` is `login.html`, others are files of the
/// web directory (no directory listing; `..` never resolves since names are looked up in
/// the embedded set).
pub async fn static_file(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let name = match path {
        "" => "index.html",
        "login" => "login.html",
        p => p,
    };
    match Assets::get(name) {
        Some(file) => {
            ([(header::CONTENT_TYPE, content_type(name))], file.data.into_owned()).into_response()
        }
        None if name == "index.html" => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Bulwark server: the web app is not built into this binary; the API is at /api/v1.",
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "not found",
        )
            .into_response(),
    }
}
