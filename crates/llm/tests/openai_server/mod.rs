//! A scripted HTTP server on 127.0.0.1:0 for the remote-client tests (shared by `openai.rs`
//! and `anthropic.rs`): every request is recorded, and a script decides the reply (status,
//! headers, body chunks each sent after a delay) from the attempt number.
#![allow(dead_code, clippy::unwrap_used)]
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use futures::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path_and_query: String,
    /// Header names lower case.
    pub headers: HashMap<String, String>,
    pub body: Value,
}

/// The reply to one request.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Body pieces, each sent after waiting its delay in milliseconds.
    pub chunks: Vec<(u64, String)>,
    /// Wait before sending the head, in milliseconds.
    pub head_delay_ms: u64,
}

impl Reply {
    pub fn sse(chunks: Vec<(u64, String)>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            chunks,
            head_delay_ms: 0,
        }
    }
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            chunks: vec![(0, body.to_string())],
            head_delay_ms: 0,
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Script = Arc<dyn Fn(usize, &Seen) -> Reply + Send + Sync>;

#[derive(Clone)]
struct St {
    script: Script,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A running server (it lives until the test process ends).
pub struct Server {
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Server {
    pub fn start(script: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> Server {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let st = St { script: Arc::new(script), seen: seen.clone() };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = Router::new().fallback(handle).with_state(st);
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        Server { base: format!("http://{addr}"), seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn attempts(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

async fn handle(State(st): State<St>, req: Request) -> Response {
    let path_and_query = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let bytes = axum::body::to_bytes(req.into_body(), usize::MAX).await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let seen = Seen { path_and_query, headers, body };
    let attempt = {
        let mut all = st.seen.lock().unwrap();
        all.push(seen.clone());
        all.len()
    };
    let reply = (st.script)(attempt, &seen);
    tokio::time::sleep(Duration::from_millis(reply.head_delay_ms)).await;
    let stream = futures::stream::iter(reply.chunks).then(|(delay, text)| async move {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        Ok::<_, std::io::Error>(Bytes::from(text))
    });
    let mut builder = Response::builder().status(reply.status);
    for (k, v) in reply.headers {
        builder = builder.header(k, v);
    }
    builder.body(Body::from_stream(stream)).unwrap()
}

/// One SSE `data:` event.
pub fn data(v: &Value) -> String {
    format!("data: {v}\n\n")
}
