//! Hunting over stored data: every rule evaluated on every row of the tables it maps to, in
//! time order across tables (so correlation rules see one timeline), alerts correlated into
//! incidents, and the findings written back as `AlertInfo`, `AlertEvidence` and
//! `SecurityIncident` rows that KQL can query.
//!
//! Alerts that products raised themselves (rows of `AlertInfo` whose `ServiceSource` is not
//! Bulwark, e.g. Defender Antivirus) take part in the correlation too, as Defender XDR does, and
//! are kept when findings are rewritten.
use crate::{Alert, AlertKind, Incident, IncidentConfig, RuleSet, correlate};
use arrow::array::RecordBatch;
use bulwark_model::{BatchBuilder, EntityKind, SchemaRegistry};
use bulwark_store::{Store, table_ref};
use datafusion::prelude::{SessionContext, col, lit};
use futures::StreamExt;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The service name Bulwark's own alerts carry in `ServiceSource`.
pub const SERVICE_SOURCE: &str = "Bulwark";

/// What a hunt did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HuntReport {
    /// Rows evaluated, per table.
    pub rows_per_table: BTreeMap<String, u64>,
    /// Rows evaluated in all.
    pub rows_scanned: u64,
    /// Alerts raised by rules.
    pub alerts: usize,
    /// Alerts raised earlier by products and correlated too.
    pub product_alerts: usize,
    /// Incidents formed.
    pub incidents: usize,
    /// Alerts per rule title.
    pub alerts_per_rule: BTreeMap<String, u64>,
}

/// Alerts and incidents found by a hunt.
#[derive(Debug, Clone)]
pub struct Findings {
    /// Summary.
    pub report: HuntReport,
    /// Rule alerts, then product alerts, in the order incidents refer to.
    pub alerts: Vec<Alert>,
    /// Incidents, numbered by first activity.
    pub incidents: Vec<Incident>,
}

fn engine(e: impl std::fmt::Display) -> crate::Error {
    crate::Error::Store(e.to_string())
}

/// One table's rows, sorted by time, handed out one at a time.
struct TableCursor {
    table: String,
    stream: datafusion::physical_plan::SendableRecordBatchStream,
    /// The batch being read and the offset of its next unconverted row.
    batch: Option<(RecordBatch, usize)>,
    rows: std::vec::IntoIter<(i64, Map<String, Value>)>,
    head: Option<(i64, Map<String, Value>)>,
}

/// Rows converted to JSON at a time. All tables' cursors are open at once during the merge, and
/// a JSON row costs kilobytes: converting whole batches held every table's rows as JSON at
/// once (~300 MB for a 50k-event tenant); small chunks keep that to a few MB.
const JSON_CHUNK_ROWS: usize = 256;

impl TableCursor {
    async fn advance(&mut self) -> crate::Result<()> {
        loop {
            if let Some(next) = self.rows.next() {
                self.head = Some(next);
                return Ok(());
            }
            if let Some((batch, offset)) = self.batch.take()
                && offset < batch.num_rows()
            {
                let len = JSON_CHUNK_ROWS.min(batch.num_rows() - offset);
                self.rows = json_rows_with_time(&batch.slice(offset, len))?.into_iter();
                self.batch = Some((batch, offset + len));
                continue;
            }
            match self.stream.next().await {
                None => {
                    self.head = None;
                    return Ok(());
                }
                Some(batch) => {
                    self.batch = Some((batch.map_err(engine)?, 0));
                }
            }
        }
    }
}

/// Rows of a batch as JSON objects (nulls dropped, as events have no such fields), each with its
/// time in Unix seconds (`i64::MIN` when absent, so such rows go first).
fn json_rows_with_time(batch: &RecordBatch) -> crate::Result<Vec<(i64, Map<String, Value>)>> {
    let rows = crate::event::json_rows(std::slice::from_ref(batch)).map_err(engine)?;
    Ok(rows
        .into_iter()
        .map(|row| (crate::rules::row_time_secs(&row).unwrap_or(i64::MIN), row))
        .collect())
}

/// Evaluates `rules` over the store and correlates the alerts into incidents. `progress` gets
/// the number of rows evaluated so far.
pub fn hunt(
    store: &Store,
    rules: &RuleSet,
    config: &IncidentConfig,
    progress: &mut dyn FnMut(u64),
) -> crate::Result<Findings> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(engine)?;
    runtime.block_on(hunt_async(store, rules, config, progress))
}

async fn hunt_async(
    store: &Store,
    rules: &RuleSet,
    config: &IncidentConfig,
    progress: &mut dyn FnMut(u64),
) -> crate::Result<Findings> {
    let ctx = store.session_context().map_err(engine)?;
    let stats = store.table_stats().map_err(engine)?;
    let mut cursors = Vec::new();
    for table in rules.tables() {
        let Some(schema) = store.registry().get(table) else { continue };
        if !stats.iter().any(|s| s.name == schema.name() && s.rows > 0) {
            continue;
        }
        let mut df = ctx.table(table_ref(schema.name())).await.map_err(engine)?;
        if let Some(time) = schema.time_column() {
            df = df.sort(vec![col(format!("\"{time}\"")).sort(true, true)]).map_err(engine)?;
        }
        let stream = df.execute_stream().await.map_err(engine)?;
        let mut cursor = TableCursor {
            table: schema.name().to_string(),
            stream,
            batch: None,
            rows: Vec::new().into_iter(),
            head: None,
        };
        cursor.advance().await?;
        cursors.push(cursor);
    }
    let mut eval = Evaluation::new(rules)?;
    // k-way merge: always evaluate the earliest pending row of any table (ties: table order,
    // which is alphabetical, as the streaming detector breaks them).
    while let Some(next) = cursors
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.head.as_ref().map(|h| (h.0, i)))
        .min()
        .map(|(_, i)| i)
    {
        let cursor = &mut cursors[next];
        if let Some((_, row)) = cursor.head.take() {
            eval.row(&cursor.table, &row);
            if eval.report.rows_scanned % 50_000 == 0 {
                progress(eval.report.rows_scanned);
            }
        }
        cursor.advance().await?;
    }
    progress(eval.report.rows_scanned);
    let product = product_alerts(&ctx, store).await?;
    Ok(eval.finish(product, config))
}

/// A hit of one rule on the same entities at most this many seconds after that alert's last hit
/// is folded into it ([`Alert::count`], [`Alert::last_time`]), as Defender XDR aggregates a
/// detector's repeats: an implant beaconing every five minutes all night is one alert, not
/// three hundred. A pause longer than this starts a new alert.
pub const AGGREGATION_SECS: i64 = 3600;

/// The evaluation state shared by [`hunt`] and [`crate::stream::StreamingDetector`], so both
/// give the same alerts for the same rows in the same order.
pub(crate) struct Evaluation<'r> {
    correlator: crate::Correlator<'r>,
    quiet: std::collections::HashSet<String>,
    pub(crate) report: HuntReport,
    alerts: Vec<Alert>,
    /// (rule, kind, linking entities) -> (alert index, time of its last hit).
    open: std::collections::HashMap<String, (usize, i64)>,
}

/// What makes two hits "the same alert again": rule, kind and linking entities.
fn aggregation_key(alert: &Alert) -> String {
    let mut links: Vec<String> =
        alert.links.iter().map(|e| format!("{:?}={}", e.kind, e.value.to_lowercase())).collect();
    links.sort();
    format!("{}|{:?}|{}", alert.rule_id, alert.kind, links.join("|"))
}

impl<'r> Evaluation<'r> {
    pub(crate) fn new(rules: &'r RuleSet) -> crate::Result<Self> {
        Ok(Evaluation {
            correlator: rules.correlator()?,
            quiet: base_rules_without_alerts(rules),
            report: HuntReport::default(),
            alerts: Vec::new(),
            open: std::collections::HashMap::new(),
        })
    }

    /// Evaluates one row; returns the number of alerts it raised (the last ones in `alerts`).
    pub(crate) fn row(&mut self, table: &str, row: &Map<String, Value>) -> usize {
        let before = self.alerts.len();
        let time = crate::rules::row_time_secs(row);
        for alert in self.correlator.process_row(table, row) {
            if alert.kind == AlertKind::Detection && self.quiet.contains(&alert.rule_id) {
                continue;
            }
            let key = aggregation_key(&alert);
            if let (Some(t), Some(&mut (i, ref mut last))) = (time, self.open.get_mut(&key))
                && (0..=AGGREGATION_SECS).contains(&(t - *last))
                && let Some(existing) = self.alerts.get_mut(i)
            {
                *last = t;
                existing.count += 1;
                existing.last_time = alert.time;
                // The repeats' other evidence (each command line, each file) stays visible.
                for e in alert.entities {
                    if !existing.entities.contains(&e) {
                        existing.entities.push(e);
                    }
                }
                continue;
            }
            if let Some(t) = time {
                self.open.insert(key, (self.alerts.len(), t));
            }
            *self.report.alerts_per_rule.entry(alert.title.clone()).or_default() += 1;
            self.alerts.push(alert);
        }
        *self.report.rows_per_table.entry(table.to_string()).or_default() += 1;
        self.report.rows_scanned += 1;
        self.alerts.len() - before
    }

    pub(crate) fn alerts(&self) -> &[Alert] {
        &self.alerts
    }

    /// Adds product alerts and correlates everything into incidents.
    pub(crate) fn finish(self, product: Vec<Alert>, config: &IncidentConfig) -> Findings {
        let Evaluation { mut report, mut alerts, .. } = self;
        report.alerts = alerts.len();
        report.product_alerts = product.len();
        alerts.extend(product);
        let mut incidents = correlate(&alerts, config);
        incidents.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then_with(|| a.id.cmp(&b.id)));
        report.incidents = incidents.len();
        Findings { report, alerts, incidents }
    }
}

/// Ids of detection rules that only feed correlations: per the Sigma correlation
/// specification, rules a correlation references raise no alerts of their own unless that
/// correlation says `generate: true`. An informational rule a correlation references is a
/// building block ("a user registered an MFA method") and stays quiet even then: `generate`
/// is meant for the referenced rules that are alerts in their own right.
pub fn base_rules_without_alerts(rules: &RuleSet) -> std::collections::HashSet<String> {
    let mut quiet = std::collections::HashSet::new();
    let mut loud = std::collections::HashSet::new();
    for corr in rules.correlation_rules() {
        for reference in &corr.rules {
            for rule in rules.parsed_rules() {
                if rule.id.as_deref() == Some(reference.as_str())
                    || rule.name.as_deref() == Some(reference.as_str())
                {
                    let id = rule.id.clone().unwrap_or_else(|| rule.title.clone());
                    let building_block = rule.level.is_some_and(|l| l.as_str() == "informational");
                    if corr.generate && !building_block {
                        loud.insert(id);
                    } else {
                        quiet.insert(id);
                    }
                }
            }
        }
    }
    quiet.retain(|id| !loud.contains(id));
    quiet
}

/// Alerts raised by products (not by Bulwark), rebuilt from AlertInfo and AlertEvidence.
async fn product_alerts(ctx: &SessionContext, store: &Store) -> crate::Result<Vec<Alert>> {
    let rows = |table: &'static str| async move {
        let df = ctx.table(table_ref(table)).await.map_err(engine)?;
        let batches = df.collect().await.map_err(engine)?;
        bulwark_store::batches_to_json_rows(&batches).map_err(engine)
    };
    if store.registry().get("AlertInfo").is_none() {
        return Ok(Vec::new());
    }
    let infos = rows("AlertInfo").await?;
    let evidence = rows("AlertEvidence").await?;
    Ok(product_alerts_from_rows(&infos, &evidence))
}

/// Whether an `AlertInfo`/`AlertEvidence` row was written by a product other than Bulwark.
pub(crate) fn is_product_row(row: &Map<String, Value>) -> bool {
    row.get("ServiceSource").and_then(Value::as_str).is_some_and(|s| s != SERVICE_SOURCE)
}

/// Product alerts from `AlertInfo` and `AlertEvidence` rows (Bulwark's own rows are skipped):
/// one alert per `AlertId`, with the entities of all its evidence rows.
pub fn product_alerts_from_rows(
    infos: &[Map<String, Value>],
    evidence: &[Map<String, Value>],
) -> Vec<Alert> {
    let mut by_alert: std::collections::HashMap<&str, Vec<&Map<String, Value>>> =
        std::collections::HashMap::new();
    for e in evidence.iter().filter(|e| is_product_row(e)) {
        if let Some(id) = e.get("AlertId").and_then(Value::as_str) {
            by_alert.entry(id).or_default().push(e);
        }
    }
    let mut out = Vec::new();
    for info in infos.iter().filter(|i| is_product_row(i)) {
        let Some(id) = info.get("AlertId").and_then(Value::as_str) else { continue };
        let rows = by_alert.get(id).map(Vec::as_slice).unwrap_or(&[]);
        // One merged row per alert: the alert's fields plus every evidence row's entity columns.
        let mut merged = info.clone();
        for e in rows {
            for (k, v) in *e {
                merged.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let title = info.get("Title").and_then(Value::as_str).unwrap_or(id).to_string();
        let level = info.get("Severity").and_then(Value::as_str).map(str::to_lowercase);
        let techniques: Vec<String> = info
            .get("AttackTechniques")
            .and_then(Value::as_str)
            .map(|t| {
                t.split([',', ';', '[', ']', '"', ' '])
                    .filter(|s| s.starts_with('T'))
                    .map(|s| format!("attack.{}", s.to_lowercase()))
                    .collect()
            })
            .unwrap_or_default();
        let mut alert = Alert::new(
            AlertKind::Detection,
            id.to_string(),
            title,
            level,
            techniques,
            None,
            "AlertInfo",
            &merged,
        );
        // Evidence rows name one entity each; collect them all.
        for e in rows {
            for entity in crate::alert::extract_entities(e) {
                if crate::alert::is_linking(&entity) && !alert.links.contains(&entity) {
                    alert.links.push(entity.clone());
                }
                if !alert.entities.contains(&entity) {
                    alert.entities.push(entity);
                }
            }
        }
        out.push(alert);
    }
    out
}

fn fnv(text: &str) -> u64 {
    text.bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A deterministic alert id: the same rule on the same row gives the same id.
pub fn alert_id(alert: &Alert) -> String {
    if alert.table == "AlertInfo" {
        return alert.rule_id.clone();
    }
    format!("bw{:016x}", fnv(&format!("{}\n{}\n{}", alert.rule_id, alert.table, alert.row)))
}

/// Defender's severity names for Sigma levels.
pub fn severity(level: Option<&str>) -> &'static str {
    match level.unwrap_or("medium").to_ascii_lowercase().as_str() {
        "critical" | "high" => "High",
        "medium" => "Medium",
        "low" => "Low",
        _ => "Informational",
    }
}

/// The ATT&CK tactic of an alert, from its tags, as Defender names categories.
pub fn category(alert: &Alert) -> String {
    for tag in &alert.tags {
        let Some(t) = tag.strip_prefix("attack.") else { continue };
        if t.starts_with('t') && t[1..].chars().next().is_some_and(|c| c.is_ascii_digit()) {
            continue;
        }
        return t
            .split(['-', '_'])
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
    }
    "SuspiciousActivity".into()
}

fn to_ns(secs: Option<i64>) -> Option<i64> {
    secs.and_then(|s| s.checked_mul(1_000_000_000))
}

/// Replaces Bulwark's previous findings in the store with `findings` (product alerts stay).
pub fn write_findings(store: &Store, findings: &Findings) -> crate::Result<()> {
    let registry: &SchemaRegistry = store.registry();
    let get = |name: &'static str| {
        registry.get(name).cloned().ok_or_else(|| crate::Error::Store(format!("no table {name}")))
    };
    let info_schema = get("AlertInfo")?;
    let evidence_schema = get("AlertEvidence")?;
    let incident_schema = get("SecurityIncident")?;

    // Keep product alerts as they are.
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(engine)?;
    let ctx = store.session_context().map_err(engine)?;
    let keep = |table: &'static str| -> crate::Result<Vec<RecordBatch>> {
        runtime.block_on(async {
            let df = ctx.table(table_ref(table)).await.map_err(engine)?;
            let df = df
                .filter(
                    col("\"ServiceSource\"")
                        .not_eq(lit(SERVICE_SOURCE))
                        .or(col("\"ServiceSource\"").is_null()),
                )
                .map_err(engine)?;
            df.collect().await.map_err(engine)
        })
    };
    let kept_info = keep("AlertInfo")?;
    let kept_evidence = keep("AlertEvidence")?;

    let ix = |t: &bulwark_model::TableSchema, c: &str| t.index_of(c).unwrap_or(usize::MAX);
    let mut info = BatchBuilder::new(info_schema.clone(), findings.alerts.len());
    let mut ev = BatchBuilder::new(evidence_schema.clone(), findings.alerts.len() * 4);
    for alert in findings.alerts.iter().filter(|a| a.table != "AlertInfo") {
        let id = alert_id(alert);
        let time = alert.time.as_deref().and_then(bulwark_model::time::parse_datetime_ns);
        let techniques = serde_json::to_string(&alert.techniques).unwrap_or_default();
        let sev = severity(alert.level.as_deref());
        let cat = category(alert);
        let t = &info_schema;
        if let Some(ns) = time {
            info.set_time_ns(ix(t, "TimeGenerated"), ns);
            info.set_time_ns(ix(t, "Timestamp"), ns);
        }
        info.set_str(ix(t, "AlertId"), &id);
        info.set_str(ix(t, "Title"), &alert.title);
        info.set_str(ix(t, "Category"), &cat);
        info.set_str(ix(t, "Severity"), sev);
        info.set_str(ix(t, "ServiceSource"), SERVICE_SOURCE);
        info.set_str(
            ix(t, "DetectionSource"),
            if alert.kind == AlertKind::Correlation { "Sigma correlation" } else { "Sigma" },
        );
        info.set_str(ix(t, "AttackTechniques"), &techniques);
        info.set_str(ix(t, "Type"), "AlertInfo");
        info.end_row();
        let e = &evidence_schema;
        for entity in &alert.entities {
            if let Some(ns) = time {
                ev.set_time_ns(ix(e, "TimeGenerated"), ns);
                ev.set_time_ns(ix(e, "Timestamp"), ns);
            }
            ev.set_str(ix(e, "AlertId"), &id);
            ev.set_str(ix(e, "Title"), &alert.title);
            ev.set_str(ix(e, "Categories"), &format!("[\"{cat}\"]"));
            ev.set_str(ix(e, "AttackTechniques"), &techniques);
            ev.set_str(ix(e, "ServiceSource"), SERVICE_SOURCE);
            ev.set_str(ix(e, "DetectionSource"), "Sigma");
            let (entity_type, column, role) = match entity.kind {
                EntityKind::Device => ("Machine", "DeviceName", "Impacted"),
                EntityKind::User => ("User", "AccountName", "Impacted"),
                EntityKind::Mailbox => ("Mailbox", "AccountUpn", "Impacted"),
                EntityKind::Ip => ("Ip", "RemoteIP", "Related"),
                EntityKind::Domain | EntityKind::Url => ("Url", "RemoteUrl", "Related"),
                EntityKind::File => ("File", "FolderPath", "Related"),
                EntityKind::FileHash => ("File", "SHA256", "Related"),
                EntityKind::Process => ("Process", "ProcessCommandLine", "Related"),
                EntityKind::RegistryKey => ("RegistryKey", "RegistryKey", "Related"),
                EntityKind::CloudApp => ("CloudApplication", "Application", "Related"),
            };
            ev.set_str(ix(e, "EntityType"), entity_type);
            ev.set_str(ix(e, "EvidenceRole"), role);
            ev.set_str(ix(e, column), &entity.value);
            if entity.kind == EntityKind::File {
                let name = entity.value.rsplit(['\\', '/']).next().unwrap_or(&entity.value);
                ev.set_str(ix(e, "FileName"), name);
            }
            if alert.count > 1 {
                // Folded repeats (see AGGREGATION_SECS): how many hits, until when.
                let extra = serde_json::json!({"Hits": alert.count, "LastHit": alert.last_time});
                ev.set_str(ix(e, "AdditionalFields"), &extra.to_string());
            }
            ev.set_str(ix(e, "Type"), "AlertEvidence");
            ev.end_row();
        }
    }
    let mut inc = BatchBuilder::new(incident_schema.clone(), findings.incidents.len());
    let s = &incident_schema;
    for (n, incident) in findings.incidents.iter().enumerate() {
        let first = to_ns(incident.first_seen);
        let last = to_ns(incident.last_seen);
        let alert_ids: Vec<String> =
            incident.alerts.iter().filter_map(|&i| findings.alerts.get(i)).map(alert_id).collect();
        if let Some(t) = last.or(first) {
            inc.set_time_ns(ix(s, "TimeGenerated"), t);
            inc.set_time_ns(ix(s, "CreatedTime"), t);
            inc.set_time_ns(ix(s, "LastModifiedTime"), t);
        }
        if let Some(t) = first {
            inc.set_time_ns(ix(s, "FirstActivityTime"), t);
        }
        if let Some(t) = last {
            inc.set_time_ns(ix(s, "LastActivityTime"), t);
        }
        inc.set_i64(ix(s, "IncidentNumber"), n as i64 + 1);
        inc.set_str(ix(s, "IncidentName"), &incident.id);
        inc.set_str(ix(s, "Title"), &incident.title);
        let hits: u64 =
            incident.alerts.iter().filter_map(|&i| findings.alerts.get(i)).map(|a| a.count).sum();
        let description = format!(
            "{} alerts ({hits} hits); tactics: {}; techniques: {}",
            incident.alerts.len(),
            if incident.tactics.is_empty() {
                "none".to_string()
            } else {
                incident.tactics.join(", ")
            },
            if incident.techniques.is_empty() {
                "none".to_string()
            } else {
                incident.techniques.join(", ")
            }
        );
        inc.set_str(ix(s, "Description"), &description);
        inc.set_str(ix(s, "Severity"), severity(Some(&incident.severity)));
        inc.set_str(ix(s, "Status"), "New");
        inc.set_str(ix(s, "Owner"), "{\"assignedTo\":null}");
        inc.set_str(ix(s, "AlertIds"), &serde_json::to_string(&alert_ids).unwrap_or_default());
        inc.set_str(ix(s, "Labels"), "[]");
        inc.set_str(ix(s, "Comments"), "[]");
        inc.set_str(ix(s, "IncidentUrl"), &format!("/incidents/{}", n + 1));
        let entities: Vec<Value> = incident
            .entities
            .iter()
            .map(|e| serde_json::json!({"kind": e.kind, "value": e.value}))
            .collect();
        let data = serde_json::json!({
            "alertsCount": incident.alerts.len(),
            "tactics": incident.tactics,
            "techniques": incident.techniques,
            "entities": entities,
            "alertProductNames": [SERVICE_SOURCE],
        });
        inc.set_str(ix(s, "AdditionalData"), &data.to_string());
        inc.set_str(ix(s, "ModifiedBy"), SERVICE_SOURCE);
        inc.set_str(ix(s, "Type"), "SecurityIncident");
        inc.end_row();
    }

    let mut tx = store.begin().map_err(engine)?;
    for table in ["AlertInfo", "AlertEvidence", "SecurityIncident"] {
        tx.truncate_table(table).map_err(engine)?;
    }
    for b in kept_info.iter().filter(|b| b.num_rows() > 0) {
        tx.write("AlertInfo", b).map_err(engine)?;
    }
    for b in kept_evidence.iter().filter(|b| b.num_rows() > 0) {
        tx.write("AlertEvidence", b).map_err(engine)?;
    }
    tx.write("AlertInfo", &info.finish().map_err(engine)?).map_err(engine)?;
    tx.write("AlertEvidence", &ev.finish().map_err(engine)?).map_err(engine)?;
    tx.write("SecurityIncident", &inc.finish().map_err(engine)?).map_err(engine)?;
    tx.commit().map_err(engine)?;
    Ok(())
}
