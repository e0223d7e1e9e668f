//! Data endpoints over the caller's workspace engine only: incidents (with the analysts'
//! overlay), alerts, KQL run/check/generate and script analysis.
use crate::audit::{AuditEvent, Outcome};
use crate::auth::Auth;
use crate::db::IncidentUpdate;
use crate::error::{ApiError, Json, Query};
use crate::names::Role;
use crate::state::AppState;
use crate::workspace::Workspace;
use axum::extract::{Path, State};
use bulwark_kql::exec::{QueryError, QueryOptions, QueryOutput};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Longest KQL text accepted.
pub const MAX_QUERY: usize = 100_000;
/// Rows returned by `POST /kql/run` unless `max_rows` says otherwise, and the most allowed.
pub const DEFAULT_ROWS: usize = 1_000;
/// See [`DEFAULT_ROWS`].
pub const MAX_ROWS: usize = 10_000;

/// Runs KQL on the workspace's engine, on a blocking thread.
pub async fn run_kql(
    state: &AppState,
    ws: Arc<Workspace>,
    text: String,
    max_rows: usize,
) -> Result<QueryOutput, (String, QueryError)> {
    let options = QueryOptions { now: state.config.now, max_rows: Some(max_rows) };
    let handle = tokio::runtime::Handle::current();
    let t = text.clone();
    let Ok(slot) = state.run_slot().await else {
        return Err((text, QueryError::Execution("the server is shutting down".into())));
    };
    match tokio::task::spawn_blocking(move || {
        let _slot = slot;
        handle.block_on(ws.engine.query(&t, &options))
    })
    .await
    {
        Ok(r) => r.map_err(|e| (text, e)),
        Err(e) => Err((text, QueryError::Execution(format!("the query stopped: {e}")))),
    }
}

/// Runs KQL that reads `BulwarkAudit_CL` (owners): an engine over the workspace's store plus
/// the workspace's audit rows.
async fn run_audit_kql(
    state: &AppState,
    auth: &Auth,
    ws: &Arc<Workspace>,
    text: String,
    max_rows: usize,
) -> Result<Result<QueryOutput, (String, QueryError)>, ApiError> {
    let entries = state.db.audit_entries(100_000, Some(&auth.workspace))?;
    let dir = ws.dir.clone();
    let options = QueryOptions { now: state.config.now, max_rows: Some(max_rows) };
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let engine = crate::audit_table::engine_with_audit(&dir, &entries)?;
        Ok::<_, ApiError>(handle.block_on(engine.query(&text, &options)).map_err(|e| (text, e)))
    })
    .await?
}

fn diagnostics(text: &str, e: &QueryError) -> Vec<Value> {
    let one = |d: &bulwark_kql::Diagnostic| {
        let (line, column) = d.line_col(text);
        json!({"line": line, "column": column, "message": d.message, "code": d.code})
    };
    match e {
        QueryError::Syntax(d) | QueryError::Check(d) => {
            d.iter().filter(|d| d.is_error()).map(one).collect()
        }
        QueryError::Plan { message, span: Some(span) } => {
            vec![one(&bulwark_kql::Diagnostic::error("KQL2001", *span, message.clone()))]
        }
        QueryError::Plan { message, span: None } => {
            vec![json!({"line": 1, "column": 1, "message": message})]
        }
        QueryError::Execution(m) => vec![json!({"line": 1, "column": 1, "message": m})],
    }
}

fn query_error(text: &str, e: &QueryError) -> ApiError {
    ApiError::Query { message: e.to_string(), diagnostics: diagnostics(text, e) }
}

async fn table_rows(
    state: &AppState,
    ws: &Arc<Workspace>,
    kql: &str,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    match run_kql(state, Arc::clone(ws), kql.to_string(), 100_000).await {
        Ok(out) => Ok(out.to_json_rows()),
        // A workspace without the table yet has no incidents.
        Err((_, QueryError::Check(_))) => Ok(Vec::new()),
        Err((t, e)) => Err(ApiError::Internal(e.render(&t))),
    }
}

fn text(row: &Map<String, Value>, key: &str) -> String {
    match row.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn json_field(row: &Map<String, Value>, key: &str) -> Value {
    match row.get(key) {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

fn entities(row: &Map<String, Value>) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut devices, mut users, mut ips) = (Vec::new(), Vec::new(), Vec::new());
    if let Some(Value::Array(list)) = json_field(row, "AdditionalData").get("entities") {
        for e in list {
            let kind = e.get("kind").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
            let Some(value) = e.get("value").and_then(Value::as_str) else { continue };
            let target = if kind.contains("host") || kind.contains("device") {
                &mut devices
            } else if kind.contains("account") || kind.contains("user") {
                &mut users
            } else if kind.contains("ip") {
                &mut ips
            } else {
                continue;
            };
            if !target.iter().any(|v| v == value) {
                target.push(value.to_string());
            }
        }
    }
    (devices, users, ips)
}

fn incident_json(row: &Map<String, Value>, overlay: Option<&IncidentUpdate>) -> Value {
    let (devices, users, _) = entities(row);
    let owner = overlay.and_then(|o| o.owner.clone()).or_else(|| {
        json_field(row, "Owner").get("assignedTo").and_then(Value::as_str).map(String::from)
    });
    let alerts = match json_field(row, "AlertIds") {
        Value::Array(a) => a.len(),
        _ => 0,
    };
    json!({
        "id": text(row, "IncidentName"),
        "number": row.get("IncidentNumber").and_then(Value::as_i64),
        "title": text(row, "Title"),
        "description": text(row, "Description"),
        "severity": text(row, "Severity"),
        "status": overlay.and_then(|o| o.status.clone()).unwrap_or_else(|| text(row, "Status")),
        "classification": overlay.and_then(|o| o.classification.clone()).unwrap_or_else(|| text(row, "Classification")),
        "owner": owner,
        "created": text(row, if row.get("CreatedTime").is_some_and(|v| !v.is_null()) { "CreatedTime" } else { "TimeGenerated" }),
        "first_activity": text(row, "FirstActivityTime"),
        "last_activity": text(row, "LastActivityTime"),
        "alerts": alerts,
        "devices": devices.len(),
        "users": users.len(),
    })
}

/// `GET /incidents` filters.
#[derive(Debug, Deserialize)]
pub struct IncidentFilter {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    owner: Option<String>,
}

async fn incidents_of(state: &AppState, auth: &Auth) -> Result<Vec<Value>, ApiError> {
    let ws = state.workspace(&auth.workspace).await?;
    let rows = table_rows(state, &ws, "SecurityIncident | sort by IncidentNumber desc").await?;
    let overlay = state.db.incident_overlay(&auth.workspace)?;
    Ok(rows
        .iter()
        .map(|r| {
            let n = r.get("IncidentNumber").and_then(Value::as_i64).unwrap_or(0);
            incident_json(r, overlay.get(&n))
        })
        .collect())
}

/// The workspace's incidents.
#[utoipa::path(get, path = "/incidents", tag = "incidents", params(("status" = Option<String>, Query, description = "Status"), ("severity" = Option<String>, Query, description = "Severity"), ("owner" = Option<String>, Query, description = "Owner")), responses((status = 200, description = "Incidents, newest first")))]
pub async fn incidents(
    State(state): State<AppState>,
    auth: Auth,
    Query(f): Query<IncidentFilter>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Reader, "incidents")?;
    let matches = |v: &Value, key: &str, want: &Option<String>| {
        want.as_deref().is_none_or(|w| {
            w.is_empty() || v[key].as_str().is_some_and(|s| s.eq_ignore_ascii_case(w))
        })
    };
    let list: Vec<Value> = incidents_of(&state, &auth)
        .await?
        .into_iter()
        .filter(|i| {
            matches(i, "status", &f.status)
                && matches(i, "severity", &f.severity)
                && matches(i, "owner", &f.owner)
        })
        .collect();
    Ok(Json(Value::Array(list)))
}

fn parse_number(n: &str) -> Result<i64, ApiError> {
    n.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| ApiError::not_found("no such incident"))
}

async fn alerts_of(
    state: &AppState,
    ws: &Arc<Workspace>,
    ids: &[String],
) -> Result<Vec<Value>, ApiError> {
    let rows = table_rows(state, ws, "AlertInfo | sort by TimeGenerated asc").await?;
    let evidence =
        if ids.is_empty() { Vec::new() } else { table_rows(state, ws, "AlertEvidence").await? };
    Ok(rows
        .iter()
        .filter(|r| ids.is_empty() || ids.contains(&text(r, "AlertId")))
        .take(1000)
        .map(|r| {
            let id = text(r, "AlertId");
            let mut entity = String::new();
            for e in evidence.iter().filter(|e| text(e, "AlertId") == id) {
                for k in ["DeviceName", "AccountUpn", "AccountName", "RemoteIP", "FileName"] {
                    if entity.is_empty() {
                        entity = text(e, k);
                    }
                }
            }
            json!({
                "id": id, "time": text(r, "TimeGenerated"), "title": text(r, "Title"),
                "severity": text(r, "Severity"), "category": text(r, "Category"),
                "techniques": text(r, "AttackTechniques"), "source": text(r, "ServiceSource"), "entity": entity,
            })
        })
        .collect())
}

/// One incident with its alerts, timeline and entities.
#[utoipa::path(get, path = "/incidents/{number}", tag = "incidents", params(("number" = i64, Path, description = "Incident number")), responses((status = 200, description = "The incident"), (status = 404, description = "No such incident")))]
pub async fn incident(
    State(state): State<AppState>,
    auth: Auth,
    Path(number): Path<String>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Reader, "incidents")?;
    let n = parse_number(&number)?;
    let ws = state.workspace(&auth.workspace).await?;
    let rows =
        table_rows(&state, &ws, &format!("SecurityIncident | where IncidentNumber == {n}")).await?;
    let row = rows.first().ok_or_else(|| ApiError::not_found("no such incident"))?;
    let overlay = state.db.incident_overlay(&auth.workspace)?;
    let mut out = incident_json(row, overlay.get(&n));
    let ids: Vec<String> = match json_field(row, "AlertIds") {
        Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    };
    let alerts = if ids.is_empty() { Vec::new() } else { alerts_of(&state, &ws, &ids).await? };
    let timeline: Vec<Value> = alerts
        .iter()
        .map(|a| json!({"time": a["time"], "title": a["title"], "entity": a["entity"]}))
        .collect();
    let (devices, users, ips) = entities(row);
    out["alerts"] = Value::Array(alerts);
    out["timeline"] = Value::Array(timeline);
    out["entities"] = json!({"devices": devices, "users": users, "ips": ips});
    state.audit(AuditEvent {
        actor: &auth.user,
        workspace: auth.workspace.as_str(),
        action: "data_read",
        target: &format!("incident:{n}"),
        outcome: Outcome::Ok,
        detail: json!({"tables": ["SecurityIncident", "AlertInfo", "AlertEvidence"]}),
    });
    Ok(Json(out))
}

/// `PATCH /incidents/{number}` body.
#[derive(Debug, Deserialize)]
pub struct IncidentPatch {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    classification: Option<String>,
    #[serde(default)]
    owner: Option<String>,
}

/// Updates an incident's status, classification or owner (stored as an overlay; audited).
#[utoipa::path(patch, path = "/incidents/{number}", tag = "incidents", params(("number" = i64, Path, description = "Incident number")), responses((status = 200, description = "The updated incident")))]
pub async fn update_incident(
    State(state): State<AppState>,
    auth: Auth,
    Path(number): Path<String>,
    Json(p): Json<IncidentPatch>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "incident.update")?;
    let n = parse_number(&number)?;
    let pick =
        |v: &Option<String>, allowed: &[&str], what: &str| -> Result<Option<String>, ApiError> {
            match v {
                None => Ok(None),
                Some(s) => allowed
                    .iter()
                    .find(|a| a.eq_ignore_ascii_case(s.trim()))
                    .map(|a| Some(a.to_string()))
                    .ok_or_else(|| {
                        ApiError::bad(format!("{what} must be one of {}", allowed.join(", ")))
                    }),
            }
        };
    let update = IncidentUpdate {
        status: pick(&p.status, &["New", "Active", "Closed"], "status")?,
        classification: pick(
            &p.classification,
            &["Undetermined", "TruePositive", "BenignPositive", "FalsePositive"],
            "classification",
        )?,
        owner: match &p.owner {
            None => None,
            Some(o) => Some(crate::names::user_name(o).map_err(ApiError::from)?.to_string()),
        },
    };
    if update == IncidentUpdate::default() {
        return Err(ApiError::bad("nothing to update: send status, classification or owner"));
    }
    let ws = state.workspace(&auth.workspace).await?;
    if table_rows(&state, &ws, &format!("SecurityIncident | where IncidentNumber == {n} | take 1"))
        .await?
        .is_empty()
    {
        return Err(ApiError::not_found("no such incident"));
    }
    state.db.update_incident(&auth.workspace, n, &update, &auth.user)?;
    state.audit(AuditEvent {
        actor: &auth.user,
        workspace: auth.workspace.as_str(),
        action: "incident.update",
        target: &n.to_string(),
        outcome: Outcome::Ok,
        detail: json!(update),
    });
    let list = incidents_of(&state, &auth).await?;
    let found = list.into_iter().find(|i| i["number"] == json!(n)).unwrap_or(Value::Null);
    Ok(Json(found))
}

/// `GET /alerts?incident=`.
#[derive(Debug, Deserialize)]
pub struct AlertFilter {
    #[serde(default)]
    incident: Option<String>,
}

/// Alerts (of one incident, or the newest 1000).
#[utoipa::path(get, path = "/alerts", tag = "incidents", params(("incident" = Option<i64>, Query, description = "Incident number")), responses((status = 200, description = "Alerts")))]
pub async fn alerts(
    State(state): State<AppState>,
    auth: Auth,
    Query(f): Query<AlertFilter>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Reader, "alerts")?;
    let ws = state.workspace(&auth.workspace).await?;
    let ids = match f.incident.as_deref().filter(|s| !s.is_empty()) {
        None => Vec::new(),
        Some(n) => {
            let n = parse_number(n)?;
            let rows =
                table_rows(&state, &ws, &format!("SecurityIncident | where IncidentNumber == {n}"))
                    .await?;
            let row = rows.first().ok_or_else(|| ApiError::not_found("no such incident"))?;
            match json_field(row, "AlertIds") {
                Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
                _ => return Ok(Json(json!([]))),
            }
        }
    };
    Ok(Json(Value::Array(alerts_of(&state, &ws, &ids).await?)))
}

/// `POST /kql/run` body.
#[derive(Debug, Deserialize)]
pub struct KqlRun {
    query: String,
    #[serde(default)]
    max_rows: Option<usize>,
}

fn check_query(q: &str) -> Result<(), ApiError> {
    if q.trim().is_empty() {
        return Err(ApiError::bad("the query is empty"));
    }
    if q.len() > MAX_QUERY {
        return Err(ApiError::bad(format!("the query is longer than {MAX_QUERY} bytes")));
    }
    Ok(())
}

/// Runs KQL over the caller's workspace.
#[utoipa::path(post, path = "/kql/run", tag = "kql", responses((status = 200, description = "Columns and rows"), (status = 400, description = "Invalid query, with diagnostics")))]
pub async fn kql_run(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<KqlRun>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "kql")?;
    check_query(&b.query)?;
    let max_rows = b.max_rows.unwrap_or(DEFAULT_ROWS).clamp(1, MAX_ROWS);
    let ws = state.workspace(&auth.workspace).await?;
    let result = if crate::audit_table::mentions_audit(&b.query) && auth.role == Role::Owner {
        run_audit_kql(&state, &auth, &ws, b.query.clone(), max_rows).await?
    } else {
        run_kql(&state, ws, b.query.clone(), max_rows).await
    };
    state.audit(AuditEvent {
        actor: &auth.user,
        workspace: auth.workspace.as_str(),
        action: "kql",
        target: "",
        outcome: if result.is_ok() { Outcome::Ok } else { Outcome::Failed },
        detail: json!({"query": crate::names::shorten(&b.query, 10_000), "rows": result.as_ref().map(|o| o.row_count).ok()}),
    });
    let out = result.map_err(|(t, e)| query_error(&t, &e))?;
    let names: Vec<&str> = out.columns.iter().map(|c| c.name.as_str()).collect();
    let rows: Vec<Value> = out
        .to_json_rows()
        .into_iter()
        .map(|mut r| {
            Value::Array(names.iter().map(|n| r.remove(*n).unwrap_or(Value::Null)).collect())
        })
        .collect();
    Ok(Json(json!({
        "columns": out.columns.iter().map(|c| json!({"name": c.name, "type": c.ty.name()})).collect::<Vec<_>>(),
        "rows": rows,
        "row_count": out.row_count,
        "truncated": out.truncated,
        "elapsed_ms": out.elapsed.as_millis() as u64,
        "render": out.render.as_ref().map(|r| json!({"chart": r.chart, "properties": r.properties})),
        "warnings": out.warnings.iter().map(|d| d.message.clone()).collect::<Vec<_>>(),
    })))
}

/// `POST /kql/check` body.
#[derive(Debug, Deserialize)]
pub struct KqlText {
    query: String,
}

/// Parses and checks KQL against the workspace's schemas.
#[utoipa::path(post, path = "/kql/check", tag = "kql", responses((status = 200, description = "Validity and diagnostics")))]
pub async fn kql_check(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<KqlText>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "kql")?;
    check_query(&b.query)?;
    let ws = state.workspace(&auth.workspace).await?;
    let parsed = bulwark_kql::parse(&b.query);
    let mut diags = parsed.diagnostics.clone();
    if parsed.has_valid_syntax() {
        diags.extend(bulwark_kql::check(&parsed.syntax, ws.engine.registry()).diagnostics);
    }
    let valid = !diags.iter().any(|d| d.is_error());
    let list: Vec<Value> = diags
        .iter()
        .map(|d| {
            let (line, column) = d.line_col(&b.query);
            json!({"line": line, "column": column, "message": d.message, "code": d.code, "severity": if d.is_error() { "error" } else { "warning" }})
        })
        .collect();
    Ok(Json(json!({"valid": valid, "diagnostics": list})))
}

/// `POST /kql/generate` body.
#[derive(Debug, Deserialize)]
pub struct Question {
    question: String,
}

/// Natural language to KQL (checked).
#[utoipa::path(post, path = "/kql/generate", tag = "kql", responses((status = 200, description = "KQL, validity, diagnostics, table")))]
pub async fn kql_generate(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<Question>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "kql")?;
    if b.question.trim().is_empty() || b.question.len() > 10_000 {
        return Err(ApiError::bad("the question must have 1 to 10000 characters"));
    }
    let g =
        tokio::task::spawn_blocking(move || bulwark_copilot::nl2kql::generate(&b.question)).await?;
    let mut out = g.to_json();
    out["table"] = json!(g.table);
    out["notes"] = json!(g.notes);
    Ok(Json(out))
}

/// `POST /scripts/analyze` body.
#[derive(Debug, Deserialize)]
pub struct ScriptBody {
    script: String,
    #[serde(default)]
    language: Option<String>,
}

/// Reverse-engineers a script without running it, linking its indicators to the workspace.
#[utoipa::path(post, path = "/scripts/analyze", tag = "scripts", responses((status = 200, description = "Analysis with links")))]
pub async fn analyze_script(
    State(state): State<AppState>,
    auth: Auth,
    Json(b): Json<ScriptBody>,
) -> Result<Json<Value>, ApiError> {
    auth.require(&state, Role::Contributor, "script")?;
    let lang = match b.language.as_deref().filter(|l| !l.is_empty() && *l != "auto") {
        None => None,
        Some(l) => Some(
            bulwark_scripts::Language::parse(l)
                .ok_or_else(|| ApiError::bad("unsupported language"))?,
        ),
    };
    let ws = state.workspace(&auth.workspace).await?;
    let st = state.clone();
    let value = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let options = bulwark_scripts::AnalyzeOptions { lang, ..Default::default() };
        let analysis = bulwark_scripts::analyze_bytes(b.script.as_bytes(), &options);
        let store =
            bulwark_store::Store::open(&ws.dir).map_err(|e| ApiError::Internal(e.to_string()))?;
        let tables: std::collections::BTreeSet<String> = store
            .table_stats()
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .into_iter()
            .filter(|t| t.rows > 0)
            .map(|t| t.name)
            .collect();
        let mut v =
            serde_json::to_value(&analysis).map_err(|e| ApiError::Internal(e.to_string()))?;
        if !tables.is_empty() {
            let links = bulwark_scripts::link(
                &analysis,
                &ws.engine,
                &bulwark_scripts::LinkOptions { tables: Some(tables), ..Default::default() },
            );
            v["links"] = json!(links.links);
            v["links_not_seen"] = json!(links.not_seen);
            v["link_errors"] = json!(links.errors);
        } else {
            v["links"] = json!([]);
        }
        st.audit(AuditEvent {
            actor: &auth.user,
            workspace: auth.workspace.as_str(),
            action: "skill",
            target: "ScriptAnalysis",
            outcome: Outcome::Ok,
            detail: json!({"bytes": b.script.len(), "verdict": v.get("verdict")}),
        });
        Ok(v)
    })
    .await??;
    Ok(Json(value))
}
