//! TEMPORARY stand-in for `bulwark_kql::exec` until the engine lands on main.
#![allow(missing_docs, dead_code)]
use chrono::{DateTime, Utc};

#[derive(Debug, Clone)]
pub struct Engine;
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    pub now: Option<DateTime<Utc>>,
    pub max_rows: Option<usize>,
}
pub struct OutputColumn {
    pub name: String,
}
pub struct QueryOutput {
    pub query: String,
    pub columns: Vec<OutputColumn>,
    pub row_count: usize,
    pub truncated: bool,
}
impl QueryOutput {
    pub fn to_json_rows(&self) -> Vec<serde_json::Map<String, serde_json::Value>> {
        Vec::new()
    }
}
#[derive(Debug)]
pub struct QueryError;
impl QueryError {
    pub fn render(&self, _t: &str) -> String {
        "engine not available".into()
    }
}
impl Engine {
    pub fn empty() -> Engine {
        Engine
    }
    pub fn open(_s: &bulwark_store::Store) -> Result<Engine, QueryError> {
        Ok(Engine)
    }
    pub async fn query(&self, _t: &str, _o: &QueryOptions) -> Result<QueryOutput, QueryError> {
        Err(QueryError)
    }
}
