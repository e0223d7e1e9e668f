//! HTTP plumbing shared by the remote clients: one blocking `reqwest` client per provider,
//! POSTs with retries (exponential backoff with jitter, `Retry-After` honoured) on 429/5xx and
//! connection failures, timeouts, cancellation, error-body parsing and a server-sent-events
//! (SSE) parser.
//!
//! Each attempt runs on its own short-lived thread that pushes the response head and body
//! chunks through a channel; the caller's thread waits on that channel in short slices so a
//! [`CancelToken`] takes effect within ~50 ms even while the server is silent (a model still
//! reading a long prompt), and so the blocking client never runs inside a caller's async
//! runtime.
use crate::chat::CancelToken;
use crate::{Error, Result};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How often a waiting caller looks at its [`CancelToken`].
const CANCEL_POLL: Duration = Duration::from_millis(50);
/// Longest SSE line or non-streamed body accepted (a hostile server cannot exhaust memory).
const MAX_BODY: usize = 32 * 1024 * 1024;
/// Longest error body kept for the message.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Timeouts and retry policy of a remote client.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpOptions {
    /// Longest wait for the response head and for each read of the body (an idle timeout
    /// while streaming): a model that stops producing tokens for this long fails with
    /// [`Error::Timeout`].
    pub timeout: Duration,
    /// Longest wait to open the connection.
    pub connect_timeout: Duration,
    /// Retries after the first attempt on 429, 500, 502, 503, 504 (and 529 for Anthropic) and
    /// on connection failures.
    pub max_retries: u32,
    /// First backoff delay; it doubles each retry (with jitter).
    pub backoff_base: Duration,
    /// Largest backoff delay, and the cap on a server's `Retry-After`.
    pub backoff_max: Duration,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            max_retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
        }
    }
}

/// A blocking HTTP client with the retry policy.
#[derive(Clone)]
pub(crate) struct HttpClient {
    client: reqwest::blocking::Client,
    opts: HttpOptions,
    /// Extra statuses retried besides 429/500/502/503/504 (Anthropic's 529 "overloaded").
    extra_retry: &'static [u16],
    /// Secrets scrubbed from any error message.
    secrets: Vec<String>,
}

/// What one attempt's worker thread reports.
enum Chunk {
    Head { status: u16, content_type: String, retry_after: Option<Duration> },
    Data(Vec<u8>),
    End,
    Failed(reqwest::Error),
    ReadFailed(std::io::Error),
}

/// An open successful (2xx) response whose body is read chunk by chunk.
pub(crate) struct Opened {
    /// The response's `Content-Type` (lower case).
    pub content_type: String,
    rx: Receiver<Chunk>,
    url: String,
    timeout: Duration,
}

impl Opened {
    /// The URL the request went to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the body is an SSE stream (otherwise: one JSON document).
    pub fn is_sse(&self) -> bool {
        self.content_type.contains("text/event-stream")
    }

    /// The next body chunk (`None` at the end), checking `cancel` while waiting.
    pub fn next_chunk(&mut self, cancel: &CancelToken) -> Result<Option<Vec<u8>>> {
        match recv(&self.rx, cancel, self.timeout)? {
            Chunk::Data(bytes) => Ok(Some(bytes)),
            Chunk::End => Ok(None),
            Chunk::ReadFailed(e) => Err(read_error(&self.url, &e, self.timeout)),
            Chunk::Failed(e) => Err(send_error(&self.url, &e, self.timeout)),
            Chunk::Head { .. } => Err(Error::Protocol("a second response head".into())),
        }
    }

    /// Reads the whole body (bounded) and parses it as JSON.
    pub fn json(mut self, cancel: &CancelToken) -> Result<Value> {
        let mut body = Vec::new();
        while let Some(chunk) = self.next_chunk(cancel)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BODY {
                return Err(Error::Protocol(format!("response larger than {MAX_BODY} bytes")));
            }
        }
        serde_json::from_slice(&body)
            .map_err(|e| Error::Protocol(format!("response is not JSON ({e}): {}", snippet(&body))))
    }
}

/// Waits for the worker's next message, polling the cancel token. The worker enforces the
/// read timeout itself; the extra margin here only covers a worker that never reports.
fn recv(rx: &Receiver<Chunk>, cancel: &CancelToken, timeout: Duration) -> Result<Chunk> {
    let deadline = Instant::now() + timeout + Duration::from_secs(5);
    loop {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        match rx.recv_timeout(CANCEL_POLL) {
            Ok(chunk) => return Ok(chunk),
            Err(RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(RecvTimeoutError::Timeout) => return Err(Error::Timeout(timeout)),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Error::Protocol("the HTTP worker stopped".into()));
            }
        }
    }
}

impl HttpClient {
    /// A client with these options; `extra_retry` lists backend-specific retryable statuses.
    pub fn new(opts: HttpOptions, extra_retry: &'static [u16]) -> Result<HttpClient> {
        // reqwest is built without a default rustls crypto provider (aws-lc needs cmake and a
        // long C build); install ring's as the process default unless one already is.
        crate::install_tls_provider();
        // Built on a thread of its own: the blocking client refuses to start inside an async
        // runtime, and providers may be created from one (a server's startup).
        let (timeout, connect_timeout) = (opts.timeout, opts.connect_timeout);
        let client = std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    reqwest::blocking::Client::builder()
                        .timeout(timeout)
                        .connect_timeout(connect_timeout)
                        .build()
                })
                .join()
        })
        .map_err(|_| Error::Config("cannot build the HTTP client (its thread failed)".into()))?
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpClient { client, opts, extra_retry, secrets: Vec::new() })
    }

    /// Registers a secret (API key, token) to scrub from error messages.
    pub fn add_secret(&mut self, secret: &str) {
        if secret.len() >= 4 {
            self.secrets.push(secret.to_string());
        }
    }

    fn retryable(&self, status: u16) -> bool {
        matches!(status, 429 | 500 | 502 | 503 | 504) || self.extra_retry.contains(&status)
    }

    /// POSTs `body` as JSON with `headers`, retrying per the policy, and returns the open 2xx
    /// response. Non-2xx answers become [`Error::Http`] with the error body's message.
    pub fn post_json(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &Value,
        cancel: &CancelToken,
    ) -> Result<Opened> {
        let payload = serde_json::to_vec(body)
            .map_err(|e| Error::Protocol(format!("cannot encode the request: {e}")))?;
        let mut rng = SmallRng::seed_from_u64(seed());
        let mut attempt = 0u32;
        loop {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let outcome = self.attempt(url, headers, &payload, cancel);
            let retry_after = match outcome {
                Ok(opened) => return Ok(opened),
                Err(Failure::Final(e)) => return Err(self.scrub(e)),
                Err(Failure::Retryable(e, retry_after)) => {
                    if attempt >= self.opts.max_retries {
                        return Err(self.scrub(e));
                    }
                    retry_after
                }
            };
            let delay = match retry_after {
                Some(d) => d.min(self.opts.backoff_max),
                None => backoff(&self.opts, attempt, &mut rng),
            };
            attempt += 1;
            sleep_cancellable(delay, cancel)?;
        }
    }

    fn attempt(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        payload: &[u8],
        cancel: &CancelToken,
    ) -> Result<Opened, Failure> {
        let mut req = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream, application/json");
        for (name, value) in headers {
            req = req.header(*name, value.as_str());
        }
        let req = req.body(payload.to_vec());
        let (tx, rx) = mpsc::sync_channel::<Chunk>(64);
        std::thread::Builder::new()
            .name("bulwark-llm-http".into())
            .spawn(move || worker(req, tx))
            .map_err(|e| Failure::Final(Error::Protocol(format!("cannot start a thread: {e}"))))?;
        let timeout = self.opts.timeout;
        let head = recv(&rx, cancel, timeout).map_err(Failure::Final)?;
        let (status, content_type, retry_after) = match head {
            Chunk::Head { status, content_type, retry_after } => {
                (status, content_type, retry_after)
            }
            Chunk::Failed(e) => {
                let err = send_error(url, &e, timeout);
                return Err(if matches!(err, Error::Connect { .. }) {
                    Failure::Retryable(err, None)
                } else {
                    Failure::Final(err)
                });
            }
            Chunk::ReadFailed(e) => return Err(Failure::Final(read_error(url, &e, timeout))),
            Chunk::Data(_) | Chunk::End => {
                return Err(Failure::Final(Error::Protocol("body before the head".into())));
            }
        };
        let mut opened = Opened { content_type, rx, url: url.to_string(), timeout };
        if (200..300).contains(&status) {
            return Ok(opened);
        }
        // Error: read (a bounded part of) the body for its message.
        let mut body = Vec::new();
        loop {
            match opened.next_chunk(cancel) {
                Ok(Some(chunk)) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > MAX_ERROR_BODY {
                        break;
                    }
                }
                Ok(None) => break,
                Err(Error::Cancelled) => return Err(Failure::Final(Error::Cancelled)),
                Err(_) => break,
            }
        }
        let err = Error::Http { url: url.to_string(), status, message: error_message(&body) };
        if self.retryable(status) {
            Err(Failure::Retryable(err, retry_after))
        } else {
            Err(Failure::Final(err))
        }
    }

    fn scrub(&self, err: Error) -> Error {
        let clean = |s: String| -> String {
            self.secrets.iter().fold(s, |acc, secret| acc.replace(secret.as_str(), "[redacted]"))
        };
        match err {
            Error::Http { url, status, message } => {
                Error::Http { url: clean(url), status, message: clean(message) }
            }
            Error::Connect { url, message } => {
                Error::Connect { url: clean(url), message: clean(message) }
            }
            Error::Protocol(m) => Error::Protocol(clean(m)),
            other => other,
        }
    }
}

enum Failure {
    Retryable(Error, Option<Duration>),
    Final(Error),
}

/// One attempt: send, report the head, then pump the body until the end, an error, or the
/// caller hanging up (the receiver dropped after a cancel).
fn worker(req: reqwest::blocking::RequestBuilder, tx: mpsc::SyncSender<Chunk>) {
    use std::io::Read;
    let mut resp = match req.send() {
        Ok(resp) => resp,
        Err(e) => {
            let _ = tx.send(Chunk::Failed(e));
            return;
        }
    };
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok());
    let content_type = header("content-type").unwrap_or("").to_ascii_lowercase();
    let retry_after = retry_after(header("retry-after-ms"), header("retry-after"));
    let status = resp.status().as_u16();
    if tx.send(Chunk::Head { status, content_type, retry_after }).is_err() {
        return;
    }
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match resp.read(&mut buf) {
            Ok(0) => {
                let _ = tx.send(Chunk::End);
                return;
            }
            Ok(n) => {
                if tx.send(Chunk::Data(buf[..n].to_vec())).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = tx.send(Chunk::ReadFailed(e));
                return;
            }
        }
    }
}

/// The server's requested delay: OpenAI's `retry-after-ms`, else `Retry-After` in seconds
/// (an HTTP date is not parsed: the exponential backoff applies instead).
fn retry_after(ms: Option<&str>, secs: Option<&str>) -> Option<Duration> {
    if let Some(ms) = ms.and_then(|v| v.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64((ms / 1000.0).min(86_400.0)));
    }
    let secs = secs.and_then(|v| v.trim().parse::<f64>().ok())?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// Exponential backoff with "equal jitter": half the doubled delay fixed, half random, so
/// clients that failed together do not retry together.
fn backoff(opts: &HttpOptions, attempt: u32, rng: &mut SmallRng) -> Duration {
    let exp = opts.backoff_base.saturating_mul(1u32 << attempt.min(16));
    let capped = exp.min(opts.backoff_max);
    let half = capped / 2;
    let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    half + Duration::from_millis(if jitter_ms == 0 { 0 } else { rng.random_range(0..=jitter_ms) })
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

fn sleep_cancellable(delay: Duration, cancel: &CancelToken) -> Result<()> {
    let end = Instant::now() + delay;
    loop {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(CANCEL_POLL));
    }
}

fn send_error(url: &str, e: &reqwest::Error, timeout: Duration) -> Error {
    if e.is_connect() {
        Error::Connect { url: url.to_string(), message: chain(e) }
    } else if e.is_timeout() {
        Error::Timeout(timeout)
    } else {
        Error::Connect { url: url.to_string(), message: chain(e) }
    }
}

fn read_error(url: &str, e: &std::io::Error, timeout: Duration) -> Error {
    let timed_out = e.kind() == std::io::ErrorKind::TimedOut
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
            .is_some_and(reqwest::Error::is_timeout);
    if timed_out {
        Error::Timeout(timeout)
    } else {
        Error::Connect { url: url.to_string(), message: format!("reading the answer: {e}") }
    }
}

/// An error with its causes ("error sending request: connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    let mut depth = 0;
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
        depth += 1;
        if depth > 8 {
            break;
        }
    }
    out
}

/// The human message of an error body: OpenAI's and Anthropic's `{"error":{"message"}}`,
/// `{"error":"…"}`, `{"message"|"detail":"…"}`, else the (shortened) text itself.
pub(crate) fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some(m) = json_error_message(&v)
    {
        return m;
    }
    let text = snippet(body);
    if text.is_empty() { "(empty body)".to_string() } else { text }
}

/// The message inside an error JSON, if it has one.
pub(crate) fn json_error_message(v: &Value) -> Option<String> {
    let err = v.get("error");
    let candidates = [
        err.and_then(|e| e.get("message")),
        err.filter(|e| e.is_string()),
        v.get("message"),
        v.get("detail"),
    ];
    candidates.into_iter().flatten().find_map(|m| m.as_str()).map(str::to_string)
}

/// The first 500 characters of a body, lossily decoded.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(2048)]);
    let text = text.trim();
    let mut out: String = text.chars().take(500).collect();
    if text.chars().count() > 500 {
        out.push('…');
    }
    out
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SseEvent {
    /// The `event:` field (empty when absent).
    pub event: String,
    /// The `data:` lines joined by newlines.
    pub data: String,
}

/// Incremental SSE parser (WHATWG rules: `\n`, `\r\n` or `\r` line ends, `:` comments,
/// `field: value`, a blank line dispatches). Bytes are buffered up to a line end so a UTF-8
/// character split across chunks decodes correctly.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    event: String,
    data: Vec<String>,
    /// The previous chunk ended in `\r` (a following `\n` belongs to the same line end).
    after_cr: bool,
}

impl SseParser {
    /// Feeds bytes; complete events are appended to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<()> {
        for &b in bytes {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' => self.end_line(out),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(out);
                }
                _ => {
                    if self.line.len() >= MAX_BODY {
                        return Err(Error::Protocol("an SSE line is too long".into()));
                    }
                    self.line.push(b);
                }
            }
        }
        Ok(())
    }

    /// Flushes a final event the server did not terminate with a blank line.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if !self.line.is_empty() {
            self.end_line(out);
        }
        self.dispatch(out);
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        if self.line.is_empty() {
            self.dispatch(out);
            return;
        }
        let line = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_str(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "data" => self.data.push(value.to_string()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.data.is_empty() {
            self.event.clear();
            return;
        }
        out.push(SseEvent {
            event: std::mem::take(&mut self.event),
            data: std::mem::take(&mut self.data).join("\n"),
        });
    }
}

/// Reads a server-sent-event stream of JSON payloads to its end, handing each payload with
/// its event name to `on_json`, which returns `true` to stop early. Empty payloads are
/// skipped, OpenAI's `[DONE]` ends the stream, and cancellation is checked between events.
pub(crate) fn read_json_stream(
    mut opened: Opened,
    cancel: &CancelToken,
    on_json: &mut dyn FnMut(&str, &Value, &str) -> Result<bool>,
) -> Result<()> {
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    loop {
        let chunk = opened.next_chunk(cancel)?;
        match &chunk {
            Some(bytes) => parser.feed(bytes, &mut events)?,
            None => parser.finish(&mut events),
        }
        for ev in events.drain(..) {
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let data = ev.data.trim();
            if data == "[DONE]" {
                return Ok(());
            }
            if data.is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(data).map_err(|e| {
                Error::Protocol(format!(
                    "stream event is not JSON ({e}): {}",
                    data.chars().take(200).collect::<String>()
                ))
            })?;
            if on_json(&ev.event, &value, opened.url())? {
                return Ok(());
            }
        }
        if chunk.is_none() {
            return Ok(());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse_in_pieces(text: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        for chunk in text.chunks(piece) {
            p.feed(chunk, &mut out).unwrap();
        }
        p.finish(&mut out);
        out
    }

    #[test]
    fn sse_parses_events_whatever_the_chunking() {
        let text = "event: a\r\ndata: {\"x\":1}\r\n\r\n: comment\n\ndata: l1\ndata: l2\n\ndata: é€\rdata:x\r\r"
            .as_bytes();
        let expected = vec![
            SseEvent { event: "a".into(), data: "{\"x\":1}".into() },
            SseEvent { event: String::new(), data: "l1\nl2".into() },
            SseEvent { event: String::new(), data: "é€\nx".into() },
        ];
        for piece in [1, 2, 3, 7, 1000] {
            assert_eq!(parse_in_pieces(text, piece), expected, "piece {piece}");
        }
    }

    #[test]
    fn sse_flushes_an_unterminated_event() {
        assert_eq!(parse_in_pieces(b"data: [DONE]", 4)[0].data, "[DONE]");
    }

    #[test]
    fn error_messages_from_common_shapes() {
        assert_eq!(error_message(br#"{"error":{"message":"bad key","type":"x"}}"#), "bad key");
        assert_eq!(
            error_message(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            "Overloaded"
        );
        assert_eq!(error_message(br#"{"error":"model not found"}"#), "model not found");
        assert_eq!(error_message(b"plain failure"), "plain failure");
        assert_eq!(error_message(b""), "(empty body)");
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after(None, Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(Some("150"), Some("2")), Some(Duration::from_millis(150)));
        assert_eq!(retry_after(None, Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after(None, Some("-1")), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let opts = HttpOptions {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            ..HttpOptions::default()
        };
        let mut rng = SmallRng::seed_from_u64(7);
        for attempt in 0..40 {
            let d = backoff(&opts, attempt, &mut rng);
            let full = (Duration::from_millis(100) * 2u32.pow(attempt.min(16)))
                .min(Duration::from_millis(1000));
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }
}
