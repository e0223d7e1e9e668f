//! The Sigma rule set: loading rules (SigmaHQ folder layout or text) with a load report,
//! compiling them with rsigma per target table, and evaluating table rows into [`Alert`]s.
//!
//! Each rule is parsed by `rsigma-parser`, compiled once by `rsigma-eval`, and placed in one
//! rsigma `Engine` per (logsource entry, target table) so that a row is only matched against rules
//! whose logsource the row belongs to (a Sysmon EventID 1 record only sees `process_creation`
//! rules). Correlation rules (`event_count`, `value_count`, `temporal`, ...) run in a
//! [`Correlator`], which keeps rsigma's windowed state.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rsigma_eval::{CompiledRule, CorrelationConfig, CorrelationEngine, Engine, EvaluationResult};
use rsigma_parser::{CorrelationRule, SigmaCollection, SigmaRule};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::alert::{Alert, AlertKind};
use crate::event::RowEvent;
use crate::logsource::{LOGSOURCES, Target, WINDOWS_EVENT, entry_for};
use crate::{Error, Result};

/// Limit on how deep [`RuleSet::load_dir`] descends, against symlink loops.
const MAX_DIR_DEPTH: usize = 16;
/// Largest rule file read, so a hostile folder cannot exhaust memory.
const MAX_RULE_FILE_BYTES: u64 = 1 << 20;

/// What is kept of a loaded rule besides its compiled form.
#[derive(Debug, Clone, Serialize)]
pub struct RuleInfo {
    /// Rule id (the title when the rule has none).
    pub id: String,
    /// Title.
    pub title: String,
    /// Author, as written (DRL 1.1 requires keeping it).
    pub author: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Level (`informational` .. `critical`).
    pub level: Option<String>,
    /// Tags (`attack.t1059.001`, `attack.execution`, ...).
    pub tags: Vec<String>,
    /// Where it came from (file path or built-in name).
    pub origin: String,
    /// `product/category/service` of its logsource.
    pub logsource: String,
    /// The tables it runs on (empty when its logsource is unmapped).
    pub tables: Vec<String>,
    /// Whether this is a correlation rule.
    pub correlation: bool,
}

/// One rule file (or document) that did not load.
#[derive(Debug, Clone, Serialize)]
pub struct LoadFailure {
    /// File path or origin name.
    pub origin: String,
    /// The unsupported feature or defect, as rsigma reported it.
    pub feature: String,
}

/// The outcome of loading rules.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    /// Rule files read.
    pub files: usize,
    /// Detection rules compiled.
    pub loaded: usize,
    /// Correlation rules accepted.
    pub correlations: usize,
    /// Documents that failed, with the reason per file.
    pub failed: Vec<LoadFailure>,
    /// Ids of loaded rules whose logsource maps to no table (they load but never run on rows).
    pub unmapped: Vec<String>,
}

impl LoadReport {
    /// Share of documents that loaded, in percent (100 when nothing was attempted).
    pub fn load_percent(&self) -> f64 {
        let ok = self.loaded + self.correlations;
        let total = ok + self.failed.len();
        if total == 0 { 100.0 } else { ok as f64 * 100.0 / total as f64 }
    }

    fn merge(&mut self, other: LoadReport) {
        self.files += other.files;
        self.loaded += other.loaded;
        self.correlations += other.correlations;
        self.failed.extend(other.failed);
        self.unmapped.extend(other.unmapped);
    }
}

/// Rules of one logsource on one table.
struct Bucket {
    target: &'static Target,
    engine: Engine,
    /// Rules added since the engine's index was last rebuilt.
    pending: Vec<CompiledRule>,
}

/// A loaded, compiled set of Sigma rules.
#[derive(Default)]
pub struct RuleSet {
    infos: Vec<RuleInfo>,
    by_id: HashMap<String, usize>,
    buckets: Vec<Bucket>,
    /// (logsource entry index, target index) -> bucket.
    bucket_of: BTreeMap<(usize, usize), usize>,
    by_table: HashMap<String, Vec<usize>>,
    /// Parsed detection rules, kept for correlations and KQL conversion.
    parsed: Vec<SigmaRule>,
    correlations: Vec<CorrelationRule>,
    /// When set, rules are compiled into engines only for these tables.
    only_tables: Option<std::collections::BTreeSet<String>>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.infos.len())
            .field("buckets", &self.buckets.len())
            .finish()
    }
}

fn logsource_label(ls: &rsigma_parser::LogSource) -> String {
    format!(
        "{}/{}/{}",
        ls.product.as_deref().unwrap_or("*"),
        ls.category.as_deref().unwrap_or("*"),
        ls.service.as_deref().unwrap_or("*")
    )
}

/// `attack.t1059.001` -> `T1059.001`.
pub fn technique_of(tag: &str) -> Option<String> {
    let t = tag.strip_prefix("attack.")?;
    let bytes = t.as_bytes();
    (bytes.len() >= 5 && (bytes[0] == b't' || bytes[0] == b'T') && bytes[1].is_ascii_digit())
        .then(|| t.to_ascii_uppercase())
}

impl RuleSet {
    /// An empty rule set.
    pub fn new() -> Self {
        RuleSet::default()
    }

    /// Number of loaded rules (detection and correlation).
    pub fn len(&self) -> usize {
        self.infos.len()
    }

    /// Whether no rule is loaded.
    pub fn is_empty(&self) -> bool {
        self.infos.is_empty()
    }

    /// Metadata of every loaded rule, in load order.
    pub fn infos(&self) -> &[RuleInfo] {
        &self.infos
    }

    /// Metadata of a rule by id (or title, for rules without id).
    pub fn info(&self, id: &str) -> Option<&RuleInfo> {
        self.by_id.get(id).map(|&i| &self.infos[i])
    }

    /// The parsed detection rules.
    pub fn parsed_rules(&self) -> &[SigmaRule] {
        &self.parsed
    }

    /// The parsed correlation rules.
    pub fn correlation_rules(&self) -> &[CorrelationRule] {
        &self.correlations
    }

    /// Loads every `*.yml`/`*.yaml` below `dir` (recursively), then finishes compilation.
    ///
    /// A file that fails is reported and skipped; the error is only for an unreadable folder.
    pub fn load_dir(&mut self, dir: &Path) -> Result<LoadReport> {
        self.load_dirs(&[dir])
    }

    /// Loads several folders (see [`RuleSet::load_dir`]) and rebuilds the match indexes once,
    /// which is much cheaper than one `load_dir` per folder on a large rule set.
    pub fn load_dirs(&mut self, dirs: &[&Path]) -> Result<LoadReport> {
        let mut files = Vec::new();
        for dir in dirs {
            let mut found = Vec::new();
            collect_yaml(dir, 0, &mut found)?;
            found.sort();
            files.extend(found);
        }
        // Parsing and compiling dominate loading and are independent per file: spread them over
        // the available cores, then place the results in file order (deterministic).
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        let chunk = files.len().div_ceil(threads).max(1);
        let prepared: Vec<Prepared> = std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|part| {
                    (
                        part,
                        scope.spawn(move || {
                            part.iter().map(|p| prepare_file(p)).collect::<Vec<_>>()
                        }),
                    )
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|(part, h)| {
                    // A panic inside the parser/compiler must not lose files silently.
                    h.join().unwrap_or_else(|_| {
                        part.iter()
                            .map(|p| Prepared {
                                origin: p.display().to_string(),
                                collection: Err("rule parser or compiler panicked".into()),
                                compiled: Vec::new(),
                            })
                            .collect()
                    })
                })
                .collect()
        });
        let mut report = LoadReport::default();
        for p in prepared {
            let mut r = self.add_prepared(p);
            r.files = 1;
            report.merge(r);
        }
        self.finish();
        Ok(report)
    }

    /// Parses and adds the Sigma documents in `yaml` (one or several, `---` separated).
    pub fn add_yaml(&mut self, yaml: &str, origin: &str) -> LoadReport {
        self.add_sources(&[(origin, yaml)])
    }

    /// Adds several YAML texts, given as (origin, text), rebuilding the match indexes once.
    pub fn add_sources(&mut self, sources: &[(&str, &str)]) -> LoadReport {
        let mut report = LoadReport::default();
        for (origin, yaml) in sources {
            report.merge(self.add_yaml_deferred(yaml, origin));
        }
        self.finish();
        report
    }

    fn add_yaml_deferred(&mut self, yaml: &str, origin: &str) -> LoadReport {
        self.add_prepared(prepare(yaml, origin))
    }

    /// Adds a parsed-and-compiled file.
    fn add_prepared(&mut self, prepared: Prepared) -> LoadReport {
        let Prepared { origin, collection, compiled } = prepared;
        let origin = origin.as_str();
        let mut report = LoadReport { files: 1, ..LoadReport::default() };
        let collection = match collection {
            Ok(c) => c,
            Err(feature) => {
                report.failed.push(LoadFailure { origin: origin.to_string(), feature });
                return report;
            }
        };
        for err in &collection.errors {
            report.failed.push(LoadFailure { origin: origin.to_string(), feature: err.clone() });
        }
        for (rule, compiled) in collection.rules.into_iter().zip(compiled) {
            match compiled {
                Ok(compiled) => {
                    let info = self.place(&rule, compiled, origin);
                    if info.tables.is_empty() {
                        report.unmapped.push(info.id.clone());
                    }
                    report.loaded += 1;
                    self.register(info);
                    self.parsed.push(rule);
                }
                Err(feature) => {
                    report.failed.push(LoadFailure { origin: origin.to_string(), feature })
                }
            }
        }
        for corr in collection.correlations {
            let info = RuleInfo {
                id: corr.id.clone().unwrap_or_else(|| corr.title.clone()),
                title: corr.title.clone(),
                author: corr.author.clone(),
                description: corr.description.clone(),
                level: corr.level.map(|l| l.as_str().to_string()),
                tags: corr.tags.clone(),
                origin: origin.to_string(),
                logsource: format!("correlation/{}", corr.correlation_type.as_str()),
                tables: Vec::new(),
                correlation: true,
            };
            report.correlations += 1;
            self.register(info);
            self.correlations.push(corr);
        }
        if !collection.filters.is_empty() {
            report.failed.push(LoadFailure {
                origin: origin.to_string(),
                feature: format!(
                    "{} filter document(s) (Sigma filters are not applied)",
                    collection.filters.len()
                ),
            });
        }
        report
    }

    fn register(&mut self, info: RuleInfo) {
        self.by_id.entry(info.id.clone()).or_insert(self.infos.len());
        self.by_id.entry(info.title.clone()).or_insert(self.infos.len());
        self.infos.push(info);
    }

    /// Puts a compiled rule into the buckets of its logsource's targets.
    fn place(&mut self, rule: &SigmaRule, compiled: CompiledRule, origin: &str) -> RuleInfo {
        let ls = &rule.logsource;
        let entry = entry_for(ls.product.as_deref(), ls.category.as_deref(), ls.service.as_deref());
        let mut tables = Vec::new();
        if let Some(entry) = entry {
            let entry_idx = LOGSOURCES.iter().position(|e| std::ptr::eq(e, entry)).unwrap_or(0);
            for (ti, target) in entry.targets.iter().enumerate() {
                tables.push(target.table.to_string());
                if self.only_tables.as_ref().is_some_and(|only| !only.contains(target.table)) {
                    continue;
                }
                let b = *self.bucket_of.entry((entry_idx, ti)).or_insert_with(|| {
                    self.buckets.push(Bucket { target, engine: new_engine(), pending: Vec::new() });
                    let idx = self.buckets.len() - 1;
                    self.by_table.entry(target.table.to_string()).or_default().push(idx);
                    idx
                });
                self.buckets[b].pending.push(compiled.clone());
            }
        }
        RuleInfo {
            id: rule.id.clone().unwrap_or_else(|| rule.title.clone()),
            title: rule.title.clone(),
            author: rule.author.clone(),
            description: rule.description.clone(),
            level: rule.level.map(|l| l.as_str().to_string()),
            tags: rule.tags.clone(),
            origin: origin.to_string(),
            logsource: logsource_label(ls),
            tables,
            correlation: false,
        }
    }

    /// Moves pending compiled rules into their engines, rebuilding each index once. Index
    /// building dominates loading a large rule set, so engines are rebuilt in parallel.
    fn finish(&mut self) {
        let mut work: Vec<&mut Bucket> =
            self.buckets.iter_mut().filter(|b| !b.pending.is_empty()).collect();
        // Biggest first, dealt round-robin, so threads get similar loads.
        work.sort_by_key(|b| std::cmp::Reverse(b.pending.len()));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        let mut lanes: Vec<Vec<&mut Bucket>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, b) in work.into_iter().enumerate() {
            lanes[i % threads].push(b);
        }
        std::thread::scope(|scope| {
            for lane in lanes {
                scope.spawn(move || {
                    for b in lane {
                        let pending = std::mem::take(&mut b.pending);
                        b.engine.extend_compiled_rules(pending);
                    }
                });
            }
        });
    }

    /// Evaluates rules only on `tables` from now on: rules loaded later are compiled into
    /// engines only for those of their tables in the list, and engines already built for other
    /// tables are dropped. Call it with the tables that hold data before loading a large rule
    /// set: each (logsource, table) engine builds match automata over its rules' strings, and a
    /// process-creation rule maps to several tables (Defender, Sysmon, Security 4688), so this
    /// is most of a rule set's memory. [`RuleInfo::tables`] still lists every mapped table.
    pub fn restrict_to_tables<I, S>(&mut self, tables: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let only: std::collections::BTreeSet<String> = tables.into_iter().map(Into::into).collect();
        let keep: Vec<bool> = self.buckets.iter().map(|b| only.contains(b.target.table)).collect();
        let mut renumber = vec![usize::MAX; self.buckets.len()];
        let mut next = 0;
        for (i, k) in keep.iter().enumerate() {
            if *k {
                renumber[i] = next;
                next += 1;
            }
        }
        let mut i = 0;
        self.buckets.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        self.bucket_of.retain(|_, b| keep[*b]);
        for b in self.bucket_of.values_mut() {
            *b = renumber[*b];
        }
        self.by_table.retain(|t, _| only.contains(t));
        for list in self.by_table.values_mut() {
            for b in list.iter_mut() {
                *b = renumber[*b];
            }
        }
        self.only_tables = Some(only);
    }

    /// Tables that have at least one rule.
    pub fn tables(&self) -> Vec<&str> {
        let mut t: Vec<&str> = self.by_table.keys().map(String::as_str).collect();
        t.sort_unstable();
        t
    }

    /// Evaluates one row of `table` (a JSON object with the table's column names) against every
    /// rule whose logsource the row belongs to. Detections only; see [`Correlator`] for
    /// correlation rules.
    pub fn evaluate_row(&self, table: &str, row: &Map<String, Value>) -> Vec<Alert> {
        let mut out = Vec::new();
        for (result, target) in self.raw_matches(table, row) {
            out.push(self.alert_from(result, target, row, AlertKind::Detection));
        }
        out
    }

    /// rsigma results (with their target) for a row, before conversion to alerts.
    fn raw_matches(
        &self,
        table: &str,
        row: &Map<String, Value>,
    ) -> Vec<(EvaluationResult, &'static Target)> {
        let mut out = Vec::new();
        let Some(buckets) = self.by_table.get(table) else { return out };
        for &b in buckets {
            let bucket = &self.buckets[b];
            if !gate_accepts(bucket.target, row) {
                continue;
            }
            let ev = RowEvent::new(row, bucket.target);
            for r in bucket.engine.evaluate(&ev) {
                out.push((r, bucket.target));
            }
        }
        out
    }

    /// Ids of the rules matching a row (for tests and the regression harness).
    pub fn matching_rule_ids(&self, table: &str, row: &Map<String, Value>) -> Vec<String> {
        self.raw_matches(table, row)
            .into_iter()
            .map(|(r, _)| r.header.rule_id.clone().unwrap_or_else(|| r.header.rule_title.clone()))
            .collect()
    }

    fn alert_from(
        &self,
        r: EvaluationResult,
        target: &Target,
        row: &Map<String, Value>,
        kind: AlertKind,
    ) -> Alert {
        let id = r.header.rule_id.clone().unwrap_or_else(|| r.header.rule_title.clone());
        let info = self.info(&id);
        let mut alert = Alert::new(
            kind,
            id,
            r.header.rule_title.clone(),
            r.header.level.map(|l| l.as_str().to_string()),
            r.header.tags.clone(),
            info.and_then(|i| i.author.clone()),
            target.table,
            row,
        );
        if let Some(body) = r.as_correlation() {
            use rsigma_parser::CorrelationType as T;
            if matches!(body.correlation_type, T::Temporal | T::TemporalOrdered) {
                // A temporal correlation completes on the event that matters (the success
                // after the spray): all of its entities are the incident's.
                alert.group = body.group_key.clone();
            } else {
                alert.link_only_group(body.group_key.clone());
            }
        }
        alert
    }

    /// A correlator over this rule set's correlation rules (stateful, time-windowed).
    pub fn correlator(&self) -> Result<Correlator<'_>> {
        Correlator::new(self)
    }
}

/// An empty rsigma engine configured for our use: no bloom pre-filter index (rsigma builds one
/// of up to 1 MB per engine even though its pre-filter is off by default, and we never turn it
/// on; with one engine per logsource and table that was ~80 MB for the SigmaHQ rules).
fn new_engine() -> Engine {
    let mut engine = Engine::new();
    engine.set_bloom_max_bytes(0);
    engine
}

/// Whether a row belongs to the target's slice of its table.
fn gate_accepts(target: &Target, row: &Map<String, Value>) -> bool {
    if !target.channels.is_empty() {
        let ch = row.get("Channel").and_then(Value::as_str).unwrap_or("");
        if !target.channels.iter().any(|c| c.eq_ignore_ascii_case(ch)) {
            return false;
        }
    }
    if !target.event_ids.is_empty() {
        let id = match row.get("EventID") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        if !id.is_some_and(|id| target.event_ids.contains(&id)) {
            return false;
        }
    }
    if !target.action_types.is_empty() {
        let a = row.get("ActionType").and_then(Value::as_str).unwrap_or("");
        if !target.action_types.iter().any(|t| t.eq_ignore_ascii_case(a)) {
            return false;
        }
    }
    if target.unix_only {
        let path = crate::logsource::UNIX_PATH_COLUMNS
            .iter()
            .find_map(|c| row.get(*c).and_then(Value::as_str))
            .unwrap_or("");
        if !path.starts_with('/') {
            return false;
        }
    }
    true
}

/// A rule file parsed and compiled, ready to be placed (built off the main thread).
struct Prepared {
    origin: String,
    collection: Result<SigmaCollection, String>,
    /// One entry per `collection.rules` element.
    compiled: Vec<Result<CompiledRule, String>>,
}

fn prepare(yaml: &str, origin: &str) -> Prepared {
    let collection = rsigma_parser::parse_sigma_yaml(yaml).map_err(|e| e.to_string());
    let compiled = match &collection {
        Ok(c) => c
            .rules
            .iter()
            .map(|rule| {
                let mut patched = rule.clone();
                crate::compat::patch_rule(&mut patched);
                rsigma_eval::compile_rule(&patched).map_err(|e| e.to_string())
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    Prepared { origin: origin.to_string(), collection, compiled }
}

fn prepare_file(path: &Path) -> Prepared {
    let origin = path.display().to_string();
    let fail = |feature: String| Prepared {
        origin: origin.clone(),
        collection: Err(feature),
        compiled: Vec::new(),
    };
    match std::fs::metadata(path) {
        Ok(m) if m.len() > MAX_RULE_FILE_BYTES => return fail("file larger than 1 MiB".into()),
        Err(e) => return fail(format!("unreadable: {e}")),
        Ok(_) => {}
    }
    match std::fs::read_to_string(path) {
        Ok(text) => prepare(&text, &origin),
        Err(e) => fail(format!("unreadable: {e}")),
    }
}

fn collect_yaml(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<()> {
    if depth > MAX_DIR_DEPTH {
        return Ok(());
    }
    let entries =
        std::fs::read_dir(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_dir() {
            collect_yaml(&path, depth + 1, out)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
            out.push(path);
        }
    }
    Ok(())
}

/// Parses a time as written in rows (RFC 3339, or `YYYY-MM-DD hh:mm:ss[.f]` in UTC) as Unix
/// seconds.
pub fn time_text_secs(s: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// Parses a row's time (`TimeGenerated`, `Timestamp` or `TimeCreated`) as Unix seconds.
pub fn row_time_secs(row: &Map<String, Value>) -> Option<i64> {
    for key in ["TimeGenerated", "Timestamp", "TimeCreated", "EventTime"] {
        match row.get(key) {
            Some(Value::String(s)) => {
                if let Some(t) = time_text_secs(s) {
                    return Some(t);
                }
            }
            Some(Value::Number(n)) => return n.as_i64(),
            _ => {}
        }
    }
    None
}

/// Runs correlation rules over a stream of rows, in time order.
///
/// Each correlation rule gets an rsigma `CorrelationEngine` holding the detection rules it
/// references; a row is fed to it when one of those rules' tables is the row's table. Alerts for
/// both detections and fired correlations are returned by [`Correlator::process_row`].
pub struct Correlator<'a> {
    rules: &'a RuleSet,
    engines: Vec<CorrelationUnit>,
}

struct CorrelationUnit {
    engine: CorrelationEngine,
    /// (table, target) pairs its referenced rules run on.
    targets: Vec<&'static Target>,
    /// The correlation this unit reports (chained ones report in their own unit).
    own: String,
}

/// Adds the rules `corr` references to `collection`: detection rules directly, referenced
/// correlations with their own references first. Depth-bounded against reference cycles.
fn add_references(
    rules: &RuleSet,
    corr: &CorrelationRule,
    collection: &mut SigmaCollection,
    targets: &mut Vec<&'static Target>,
    depth: usize,
) {
    if depth > 8 {
        return;
    }
    for reference in &corr.rules {
        let names = |id: &Option<String>, name: &Option<String>| {
            id.as_deref() == Some(reference.as_str()) || name.as_deref() == Some(reference.as_str())
        };
        if let Some(rule) = rules.parsed.iter().find(|r| names(&r.id, &r.name)) {
            if collection.rules.iter().any(|r| r.id == rule.id && r.title == rule.title) {
                continue;
            }
            let ls = &rule.logsource;
            if let Some(e) =
                entry_for(ls.product.as_deref(), ls.category.as_deref(), ls.service.as_deref())
            {
                for t in e.targets {
                    if !targets.iter().any(|x| std::ptr::eq(*x, t)) {
                        targets.push(t);
                    }
                }
            }
            let mut patched = rule.clone();
            crate::compat::patch_rule(&mut patched);
            collection.rules.push(patched);
        } else if let Some(inner) = rules.correlations.iter().find(|c| names(&c.id, &c.name)) {
            if collection.correlations.iter().any(|c| c.id == inner.id && c.title == inner.title) {
                continue;
            }
            add_references(rules, inner, collection, targets, depth + 1);
            collection.correlations.push(inner.clone());
        }
    }
}

impl<'a> Correlator<'a> {
    fn new(rules: &'a RuleSet) -> Result<Self> {
        let mut engines = Vec::new();
        for corr in &rules.correlations {
            let mut collection = SigmaCollection::new();
            let mut targets: Vec<&'static Target> = Vec::new();
            // A correlation may reference detection rules or other correlations (chaining, as
            // in the spec's "failed logins, then a success"); the engine needs the whole chain.
            add_references(rules, corr, &mut collection, &mut targets, 0);
            collection.correlations.push(corr.clone());
            let config =
                CorrelationConfig { emit_detections: false, ..CorrelationConfig::default() };
            let mut engine = CorrelationEngine::new(config);
            engine.add_collection(&collection).map_err(|e| Error::Compile {
                rule: corr.id.clone().unwrap_or_else(|| corr.title.clone()),
                message: e.to_string(),
            })?;
            let own = corr.id.clone().unwrap_or_else(|| corr.title.clone());
            engines.push(CorrelationUnit { engine, targets, own });
        }
        Ok(Correlator { rules, engines })
    }

    /// Evaluates a row: detections of every rule, then any correlation that fires on it.
    pub fn process_row(&mut self, table: &str, row: &Map<String, Value>) -> Vec<Alert> {
        let mut out = self.rules.evaluate_row(table, row);
        let ts = row_time_secs(row).unwrap_or(0);
        for unit in &mut self.engines {
            for target in &unit.targets {
                if target.table != table || !gate_accepts(target, row) {
                    continue;
                }
                let ev = RowEvent::new(row, target);
                for r in unit.engine.process_event_at(&ev, ts) {
                    let id = r.header.rule_id.as_deref().unwrap_or(&r.header.rule_title);
                    if r.is_correlation() && id == unit.own {
                        out.push(self.rules.alert_from(r, target, row, AlertKind::Correlation));
                    }
                }
            }
        }
        out
    }
}

/// Whether `table` is the raw Windows event table.
pub fn is_windows_event_table(table: &str) -> bool {
    table == WINDOWS_EVENT
}
