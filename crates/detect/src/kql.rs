//! Sigma to KQL: a query an analyst can paste into Defender XDR advanced hunting or Sentinel.
//!
//! The table comes from the logsource mapping (the first [`Target`] of the rule's logsource),
//! fields are mapped to that table's columns, the target's gate becomes a first `where`
//! (`ActionType`, or `Channel`/`EventID` on `WindowsEvent`), and the detection becomes a second
//! `where`. The output stays in a small KQL subset so our own KQL engine can run it too:
//! `where`, `=~`, `==`, `in~`, `has`, `contains`, `startswith`, `endswith`, `matches regex`,
//! `ipv4_is_in_range`, `isnotempty`/`isempty`, `and`/`or`/`not`; plus `extend` with `strcat`/`iff`
//! for the composite fields (`TargetObject`, `Initiated`) and `tostring()` around `EventData`
//! members of the raw Windows table. Keyword searches become `* has "..."`.
//!
//! Every query starts with a comment keeping the rule's title, id, author and licence credit
//! (the Detection Rule License 1.1 requires the author to travel with derived queries).

use std::fmt::Write as _;
use std::sync::OnceLock;

use bulwark_model::SchemaRegistry;
use rsigma_parser::{
    ConditionExpr, ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType,
    Detection, DetectionItem, Modifier, Quantifier, SelectorPattern, SigmaRule, SigmaString,
    SigmaValue, SpecialChar, StringPart,
};

use crate::logsource::{FieldSource, INBOUND_ACTION_TYPES, Target, WINDOWS_EVENT, targets_for};
use crate::{Error, Result};

/// Columns of the raw Windows table that are not inside `EventData`.
const WINDOWS_COLUMNS: &[&str] = &["TimeGenerated", "Computer", "Channel", "EventID", "Provider"];
/// Limit on nested conditions/detections, against hostile rules.
const MAX_DEPTH: usize = 64;
/// Deepest chain of correlations over correlations converted.
const MAX_CORRELATION_CHAIN: usize = 8;
/// Most operands joined in one flat `and`/`or` chain (see [`paren_join`]).
const MAX_CHAIN: usize = 256;
/// Cap on value variants a `windash` value may expand to.
const MAX_WINDASH_VARIANTS: usize = 125;

fn registry() -> &'static SchemaRegistry {
    static REGISTRY: OnceLock<SchemaRegistry> = OnceLock::new();
    REGISTRY.get_or_init(SchemaRegistry::builtin)
}

/// Converts a Sigma detection rule to KQL.
///
/// Fails when the logsource maps to no table, a field has no column in the table, or the rule
/// uses a feature with no faithful KQL form (the error names it).
pub fn to_kql(rule: &SigmaRule) -> Result<String> {
    let ls = &rule.logsource;
    let targets = targets_for(ls.product.as_deref(), ls.category.as_deref(), ls.service.as_deref());
    if targets.is_empty() {
        return Err(Error::UnmappedLogsource {
            rule: rule_name(rule),
            logsource: format!(
                "{}/{}/{}",
                ls.product.as_deref().unwrap_or("*"),
                ls.category.as_deref().unwrap_or("*"),
                ls.service.as_deref().unwrap_or("*")
            ),
        });
    }
    // The preferred table first; when it lacks a column the rule needs, the next table of the
    // logsource (typically the raw WindowsEvent, which carries every EventData field).
    let mut first_err = None;
    for target in targets {
        match to_kql_on(rule, target) {
            Ok(q) => return Ok(q),
            Err(e @ Error::UnmappedField { .. }) => {
                first_err.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(first_err.unwrap_or_else(|| Error::Unsupported {
        rule: rule_name(rule),
        feature: "no target table".into(),
    }))
}

/// Converts a rule to KQL on one given target table.
pub fn to_kql_on(rule: &SigmaRule, target: &'static Target) -> Result<String> {
    let parts = query_parts(rule, target)?;
    let mut out = header(rule);
    out.push_str(&parts.pipeline());
    let _ = writeln!(out, "| where {}", parts.body);
    Ok(out)
}

/// A detection rule's query on one table, before assembly.
struct QueryParts {
    table: &'static str,
    gate: Option<String>,
    extends: Vec<(&'static str, String)>,
    body: String,
}

impl QueryParts {
    /// Table, gate and extends, one per line (without the detection `where`).
    fn pipeline(&self) -> String {
        let mut out = String::new();
        out.push_str(self.table);
        out.push('\n');
        if let Some(gate) = &self.gate {
            let _ = writeln!(out, "| where {gate}");
        }
        for (name, expr) in &self.extends {
            let _ = writeln!(out, "| extend {name} = {expr}");
        }
        out
    }
}

fn query_parts(rule: &SigmaRule, target: &'static Target) -> Result<QueryParts> {
    let mut conv = Converter { rule, target, extends: Vec::new() };
    let mut conditions = Vec::new();
    for cond in &rule.detection.conditions {
        conditions.push(conv.condition(cond, 0)?);
    }
    let body = match conditions.len() {
        0 => return Err(conv.unsupported("rule without condition")),
        1 => conditions.remove(0),
        _ => format!("({})", conditions.join(") or (")),
    };
    Ok(QueryParts { table: target.table, gate: gate(target), extends: conv.extends, body })
}

/// The first target of the rule's logsource on which every field maps, with its parts.
fn best_parts(rule: &SigmaRule) -> Result<(&'static Target, QueryParts)> {
    let ls = &rule.logsource;
    let targets = targets_for(ls.product.as_deref(), ls.category.as_deref(), ls.service.as_deref());
    let mut first_err = None;
    for target in targets {
        match query_parts(rule, target) {
            Ok(p) => return Ok((target, p)),
            Err(e @ Error::UnmappedField { .. }) => {
                first_err.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(first_err.unwrap_or_else(|| Error::UnmappedLogsource {
        rule: rule_name(rule),
        logsource: format!("{ls:?}"),
    }))
}

/// Converts a Sigma correlation rule to KQL, using the detection rules it references (looked up
/// by id or name in `rules`).
///
/// Each referenced rule becomes a branch (its table, gate and detection), tagged with
/// `SigmaRule`; branches are `union`ed and then `summarize`d per group-by fields and time bin.
/// KQL bins are tumbling windows aligned to the timespan, so a burst straddling a bin boundary can
/// be missed where rsigma's sliding window would fire; `temporal_ordered` is checked as
/// `temporal` (order is not enforced). A reference to another correlation is reported
/// unsupported here; see [`chained_correlation_to_kql`].
pub fn correlation_to_kql(corr: &CorrelationRule, rules: &[SigmaRule]) -> Result<String> {
    correlation_kql(corr, rules, &[], 0, true)
}

/// [`correlation_to_kql`] for correlations that may reference other correlations (chained
/// correlations, looked up by id or name in `correlations`).
///
/// A referenced correlation becomes a branch made of its own query (recursively): each row it
/// outputs (a group that met its condition in a time bin) is one event of the outer
/// correlation, timed at the group's last event (`LastSeen`, when rsigma's correlation fires)
/// and carrying the inner group-by columns. The outer group-by fields (through `aliases`) must
/// therefore be group-by fields of the inner correlation. The tumbling-bin caveat applies at
/// every level.
pub fn chained_correlation_to_kql(
    corr: &CorrelationRule,
    rules: &[SigmaRule],
    correlations: &[CorrelationRule],
) -> Result<String> {
    correlation_kql(corr, rules, correlations, 0, true)
}

fn correlation_kql(
    corr: &CorrelationRule,
    rules: &[SigmaRule],
    correlations: &[CorrelationRule],
    depth: usize,
    with_header: bool,
) -> Result<String> {
    let name = corr.id.clone().unwrap_or_else(|| corr.title.clone());
    let unsupported = |f: &str| Error::Unsupported { rule: name.clone(), feature: f.to_string() };
    if depth > MAX_CORRELATION_CHAIN {
        return Err(unsupported("correlation chain too deep (or cyclic)"));
    }
    let value_field = match &corr.condition {
        CorrelationCondition::Threshold { field, .. } => {
            field.as_ref().and_then(|f| f.first().cloned())
        }
        CorrelationCondition::Extended(_) => None,
    };
    let mut branches = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    for reference in &corr.rules {
        let named = |id: Option<&str>, n: Option<&str>| {
            id == Some(reference.as_str()) || n == Some(reference.as_str())
        };
        let found = rules.iter().find(|r| named(r.id.as_deref(), r.name.as_deref()));
        let Some(rule) = found else {
            let inner = correlations
                .iter()
                .find(|c| named(c.id.as_deref(), c.name.as_deref()))
                .ok_or_else(|| unsupported(&format!("referenced rule `{reference}` not found")))?;
            let query = correlation_kql(inner, rules, correlations, depth + 1, false)?;
            let inner_columns: Vec<String> =
                inner.group_by.iter().map(|g| sanitize_name(g)).collect();
            let mut assign = vec![
                format!("SigmaRule = {}", lit(reference)),
                "TimeGenerated = LastSeen".to_string(),
            ];
            for field in corr.group_by.iter().chain(value_field.iter()) {
                let source = corr
                    .aliases
                    .iter()
                    .find(|a| &a.alias == field)
                    .and_then(|a| a.mapping.get(reference))
                    .unwrap_or(field);
                let column = sanitize_name(source);
                if !inner_columns.contains(&column) {
                    return Err(unsupported(&format!(
                        "field `{source}` is not a group-by field of correlation `{reference}`"
                    )));
                }
                let alias = sanitize_name(field);
                if alias != column {
                    assign.push(format!("{alias} = {column}"));
                }
                if !columns.contains(&alias) {
                    columns.push(alias);
                }
            }
            let mut branch = query;
            let _ = writeln!(branch, "| extend {}", assign.join(", "));
            branches.push(branch);
            continue;
        };
        let (target, parts) = best_parts(rule)?;
        let mut conv = Converter { rule, target, extends: parts.extends.clone() };
        let mut aliases = Vec::new();
        for field in corr.group_by.iter().chain(value_field.iter()) {
            // A field alias names a different field in each referenced rule's events.
            let source = corr
                .aliases
                .iter()
                .find(|a| &a.alias == field)
                .and_then(|a| a.mapping.get(reference))
                .unwrap_or(field);
            let expr = conv.column(source)?;
            let alias = sanitize_name(field);
            aliases.push((alias.clone(), expr));
            if !columns.contains(&alias) {
                columns.push(alias);
            }
        }
        let body = parts.body.clone();
        let mut branch = QueryParts { extends: conv.extends, ..parts }.pipeline();
        let _ = writeln!(branch, "| where {body}");
        let _ = write!(branch, "| extend SigmaRule = {}", lit(reference));
        for (alias, expr) in &aliases {
            if alias != expr {
                let _ = write!(branch, ", {alias} = {expr}");
            }
        }
        branch.push('\n');
        branches.push(branch);
    }
    let mut out = String::new();
    if with_header {
        correlation_header(&mut out, corr);
    }
    if branches.len() == 1 {
        out.push_str(&branches[0]);
    } else {
        let _ = writeln!(out, "union");
        let joined: Vec<String> = branches.iter().map(|b| format!("({})", b.trim_end())).collect();
        let _ = writeln!(out, "{}", joined.join(",\n"));
    }
    let mut by: Vec<String> = corr.group_by.iter().map(|g| sanitize_name(g)).collect();
    by.push(format!("Window = bin(TimeGenerated, {}s)", corr.timespan.seconds.max(1)));
    let by = by.join(", ");
    let (agg, measure) = match corr.correlation_type {
        CorrelationType::EventCount => ("EventCount = count()".to_string(), "EventCount"),
        CorrelationType::ValueCount => {
            let f = value_field
                .as_deref()
                .map(sanitize_name)
                .ok_or_else(|| unsupported("value_count without field"))?;
            (format!("ValueCount = dcount({f})"), "ValueCount")
        }
        CorrelationType::ValueSum => {
            let f = value_field
                .as_deref()
                .map(sanitize_name)
                .ok_or_else(|| unsupported("value_sum without field"))?;
            (format!("ValueSum = sum(todouble({f}))"), "ValueSum")
        }
        CorrelationType::ValueAvg => {
            let f = value_field
                .as_deref()
                .map(sanitize_name)
                .ok_or_else(|| unsupported("value_avg without field"))?;
            (format!("ValueAvg = avg(todouble({f}))"), "ValueAvg")
        }
        CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
            ("RulesMatched = dcount(SigmaRule)".to_string(), "RulesMatched")
        }
        other => return Err(unsupported(&format!("correlation type {}", other.as_str()))),
    };
    let _ = writeln!(
        out,
        "| summarize {agg}, FirstSeen = min(TimeGenerated), LastSeen = max(TimeGenerated) by {by}"
    );
    let condition = match (&corr.condition, corr.correlation_type) {
        (CorrelationCondition::Threshold { predicates, .. }, _) if !predicates.is_empty() => {
            predicates
                .iter()
                .map(|(op, v)| {
                    let op = match op {
                        ConditionOperator::Lt => "<",
                        ConditionOperator::Lte => "<=",
                        ConditionOperator::Gt => ">",
                        ConditionOperator::Gte => ">=",
                        ConditionOperator::Eq => "==",
                        ConditionOperator::Neq => "!=",
                    };
                    format!("{measure} {op} {v}")
                })
                .collect::<Vec<_>>()
                .join(" and ")
        }
        (_, CorrelationType::Temporal | CorrelationType::TemporalOrdered) => {
            format!("{measure} == {}", corr.rules.len())
        }
        _ => return Err(unsupported("correlation condition")),
    };
    let _ = writeln!(out, "| where {condition}");
    Ok(out)
}

/// The comment lines naming a correlation, its author and licence.
fn correlation_header(out: &mut String, corr: &CorrelationRule) {
    let _ = writeln!(out, "// {}", one_line(&corr.title));

    if let Some(id) = &corr.id {
        let _ = writeln!(out, "// Sigma correlation id: {id} ({})", corr.correlation_type.as_str());
    }
    let _ = writeln!(out, "// Author: {}", one_line(corr.author.as_deref().unwrap_or("unknown")));
    if let Some(level) = corr.level {
        let _ = writeln!(out, "// Level: {}", level.as_str());
    }
    let _ = writeln!(
        out,
        "// License: {} (https://github.com/SigmaHQ/Detection-Rule-License)",
        corr.license
            .as_deref()
            .map(one_line)
            .as_deref()
            .unwrap_or("Detection Rule License (DRL) 1.1")
    );
}

/// A KQL-safe column alias for a Sigma field name.
fn sanitize_name(field: &str) -> String {
    let s: String = field
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect();
    if s.chars().next().is_some_and(|c| c.is_ascii_digit()) { format!("_{s}") } else { s }
}

fn rule_name(rule: &SigmaRule) -> String {
    rule.id.clone().unwrap_or_else(|| rule.title.clone())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn header(rule: &SigmaRule) -> String {
    let mut h = String::new();
    let _ = writeln!(h, "// {}", one_line(&rule.title));
    if let Some(id) = &rule.id {
        let _ = writeln!(h, "// Sigma rule id: {id}");
    }
    let _ = writeln!(h, "// Author: {}", one_line(rule.author.as_deref().unwrap_or("unknown")));
    if let Some(level) = rule.level {
        let _ = writeln!(h, "// Level: {}", level.as_str());
    }
    if !rule.tags.is_empty() {
        let _ = writeln!(h, "// Tags: {}", rule.tags.join(", "));
    }
    let licence = rule.license.as_deref().map(one_line);
    let _ = writeln!(
        h,
        "// License: {} (https://github.com/SigmaHQ/Detection-Rule-License)",
        licence.as_deref().unwrap_or("Detection Rule License (DRL) 1.1")
    );
    h
}

/// The target's row filter as KQL.
fn gate(target: &Target) -> Option<String> {
    let mut parts = Vec::new();
    if !target.channels.is_empty() {
        parts.push(format!(
            "Channel in~ ({})",
            target.channels.iter().map(|c| lit(c)).collect::<Vec<_>>().join(", ")
        ));
    }
    match target.event_ids {
        [] => {}
        [one] => parts.push(format!("EventID == {one}")),
        many => parts.push(format!(
            "EventID in ({})",
            many.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
        )),
    }
    if !target.action_types.is_empty() {
        parts.push(format!(
            "ActionType in~ ({})",
            target.action_types.iter().map(|c| lit(c)).collect::<Vec<_>>().join(", ")
        ));
    }
    if target.unix_only {
        // The first path column the table has, as the engine's gate reads it.
        let schema = registry().get(target.table);
        if let Some(column) = crate::logsource::UNIX_PATH_COLUMNS
            .iter()
            .find(|c| schema.is_some_and(|s| s.column(c).is_some()))
        {
            parts.push(format!("{column} startswith \"/\""));
        }
    }
    (!parts.is_empty()).then(|| parts.join(" and "))
}

/// A KQL string literal: verbatim (`@"..."`) when the text has backslashes and nothing that needs
/// escaping, else a regular escaped literal.
pub fn lit(s: &str) -> String {
    if s.contains('\\') && !s.chars().any(|c| c.is_control()) {
        format!("@\"{}\"", s.replace('"', "\"\""))
    } else {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    let _ = write!(out, "\\u{{{:x}}}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
}

struct Converter<'a> {
    rule: &'a SigmaRule,
    target: &'static Target,
    /// `extend` lines needed by composite fields, in first-use order.
    extends: Vec<(&'static str, String)>,
}

/// How a string value is compared.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

impl Converter<'_> {
    fn unsupported(&self, feature: impl Into<String>) -> Error {
        Error::Unsupported { rule: rule_name(self.rule), feature: feature.into() }
    }

    fn condition(&mut self, cond: &ConditionExpr, depth: usize) -> Result<String> {
        if depth > MAX_DEPTH {
            return Err(self.unsupported("condition nested too deeply"));
        }
        Ok(match cond {
            ConditionExpr::And(items) => self.join(items, " and ", depth)?,
            ConditionExpr::Or(items) => self.join(items, " or ", depth)?,
            ConditionExpr::Not(inner) => format!("not({})", self.condition(inner, depth + 1)?),
            ConditionExpr::Identifier(name) => {
                let det = self.rule.detection.named.get(name).ok_or_else(|| Error::Parse {
                    origin: rule_name(self.rule),
                    message: format!("condition names unknown detection `{name}`"),
                })?;
                self.detection(det, depth + 1)?
            }
            ConditionExpr::Selector { quantifier, pattern } => {
                let mut names: Vec<&String> = self
                    .rule
                    .detection
                    .named
                    .keys()
                    .filter(|n| match pattern {
                        SelectorPattern::Them => !n.starts_with('_'),
                        SelectorPattern::Pattern(p) => rsigma_parser::detection_name_matches(p, n),
                    })
                    .collect();
                names.sort();
                let joiner = match quantifier {
                    Quantifier::Any => " or ",
                    Quantifier::All => " and ",
                    Quantifier::Count(1) => " or ",
                    Quantifier::Count(n) => {
                        return Err(self.unsupported(format!("`{n} of` selector")));
                    }
                };
                if names.is_empty() {
                    return Err(
                        self.unsupported(format!("selector `{pattern}` matches no detection"))
                    );
                }
                let mut parts = Vec::new();
                for n in names {
                    let det = &self.rule.detection.named[n];
                    parts.push(self.detection(det, depth + 1)?);
                }
                paren_join(parts, joiner)
            }
        })
    }

    fn join(&mut self, items: &[ConditionExpr], joiner: &str, depth: usize) -> Result<String> {
        let mut parts = Vec::new();
        for i in items {
            parts.push(self.condition(i, depth + 1)?);
        }
        Ok(paren_join(parts, joiner))
    }

    fn detection(&mut self, det: &Detection, depth: usize) -> Result<String> {
        if depth > MAX_DEPTH {
            return Err(self.unsupported("detection nested too deeply"));
        }
        match det {
            Detection::AllOf(items) => {
                let mut parts = Vec::new();
                for item in items {
                    parts.push(self.item(item)?);
                }
                if parts.is_empty() {
                    return Err(self.unsupported("empty selection"));
                }
                Ok(paren_join(parts, " and "))
            }
            Detection::AnyOf(dets) => {
                let mut parts = Vec::new();
                for d in dets {
                    parts.push(self.detection(d, depth + 1)?);
                }
                if parts.is_empty() {
                    return Err(self.unsupported("empty selection list"));
                }
                Ok(paren_join(parts, " or "))
            }
            Detection::Keywords(values) => {
                let parts: Result<Vec<String>> = values.iter().map(|v| self.keyword(v)).collect();
                Ok(paren_join(parts?, " or "))
            }
            Detection::ArrayMatch { .. } | Detection::Conditional { .. } => {
                Err(self.unsupported("array object-scope block (field[any]/field[all])"))
            }
            Detection::And(dets) => {
                let mut parts = Vec::new();
                for d in dets {
                    parts.push(self.detection(d, depth + 1)?);
                }
                Ok(paren_join(parts, " and "))
            }
        }
    }

    /// A keyword (field-less value): `* has "text"`, for each literal run of the value.
    fn keyword(&self, v: &SigmaValue) -> Result<String> {
        let text = match v {
            SigmaValue::String(s) => s
                .parts
                .iter()
                .filter_map(|p| match p {
                    StringPart::Plain(t) => Some(t.as_str()),
                    StringPart::Special(_) => None,
                })
                .filter(|t| !t.trim().is_empty())
                .map(|t| format!("* has {}", lit(t)))
                .collect::<Vec<_>>(),
            SigmaValue::Integer(n) => vec![format!("* has \"{n}\"")],
            SigmaValue::Float(f) => vec![format!("* has \"{f}\"")],
            SigmaValue::Bool(b) => vec![format!("* has \"{b}\"")],
            SigmaValue::Null => return Err(self.unsupported("null keyword")),
        };
        if text.is_empty() {
            return Err(self.unsupported("keyword made only of wildcards"));
        }
        Ok(paren_join(text, " and "))
    }

    /// The KQL expression reading a Sigma field on the target.
    fn column(&mut self, field: &str) -> Result<String> {
        match self.target.field(field) {
            Some(FieldSource::Column(c)) => {
                // A real Defender column our schema does not carry yet (the
                // ProcessVersionInfo* family): the query still reads it where it exists
                // (Defender XDR) and sees an empty value in our store, as streaming
                // evaluation does on our rows.
                let missing =
                    registry().get(self.target.table).is_some_and(|s| s.column(c).is_none());
                if missing {
                    Ok(format!("column_ifexists({}, \"\")", lit(c)))
                } else {
                    Ok(c.to_string())
                }
            }
            Some(FieldSource::Hashes) => Ok("Hashes".to_string()),
            Some(FieldSource::RegistryPath) => {
                let mut expr = r#"iff(isempty(RegistryValueName), RegistryKey, strcat(RegistryKey, @"\", RegistryValueName))"#.to_string();
                for (long, short) in crate::event::HIVE_PREFIXES {
                    let long = long.trim_end_matches('\\');
                    let short = short.trim_end_matches('\\');
                    expr = format!(r#"replace_regex({expr}, @"(?i)^{long}\\", @"{short}\\")"#);
                }
                self.extend("TargetObject", &expr);
                Ok("TargetObject".into())
            }
            Some(FieldSource::Initiated) => {
                let inbound =
                    INBOUND_ACTION_TYPES.iter().map(|a| lit(a)).collect::<Vec<_>>().join(", ");
                self.extend(
                    "Initiated",
                    &format!("iff(ActionType in~ ({inbound}), \"false\", \"true\")"),
                );
                Ok("Initiated".into())
            }
            None if self.target.table == WINDOWS_EVENT => {
                if field == "Provider_Name" {
                    return Ok("Provider".into());
                }
                if WINDOWS_COLUMNS.contains(&field) {
                    return Ok(field.to_string());
                }
                if field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    Ok(format!("tostring(EventData.{field})"))
                } else {
                    Ok(format!("tostring(EventData[{}])", lit(field)))
                }
            }
            None => {
                let schema = registry().get(self.target.table);
                let col = schema.and_then(|s| s.column(field));
                match col {
                    Some(c) => Ok(c.name.clone()),
                    None => {
                        // Dotted access into a dynamic column (AdditionalFields.X).
                        if let Some((head, rest)) = field.split_once('.')
                            && schema.and_then(|s| s.column(head)).is_some()
                        {
                            return Ok(format!("tostring({head}.{rest})"));
                        }
                        Err(Error::UnmappedField {
                            rule: rule_name(self.rule),
                            field: field.to_string(),
                            table: self.target.table.to_string(),
                        })
                    }
                }
            }
        }
    }

    /// A Sigma boolean value on `col`: `==` on a typed bool column; on text (EventData members,
    /// string columns) the spellings rsigma accepts for it, ignoring case.
    fn bool_test(&self, col: &str, b: bool) -> String {
        let typed_bool = registry()
            .get(self.target.table)
            .and_then(|s| s.column(col))
            .is_some_and(|c| c.ty == bulwark_model::KustoType::Bool);
        if typed_bool {
            return format!("{col} == {b}");
        }
        let text =
            if col.starts_with("tostring(") { col.to_string() } else { format!("tostring({col})") };
        let spellings = if b { r#""true", "1", "yes""# } else { r#""false", "0", "no""# };
        format!("{text} in~ ({spellings})")
    }

    fn extend(&mut self, name: &'static str, expr: &str) {
        if !self.extends.iter().any(|(n, _)| *n == name) {
            self.extends.push((name, expr.to_string()));
        }
    }

    fn item(&mut self, item: &DetectionItem) -> Result<String> {
        let Some(field) = item.field.name.as_deref() else {
            let parts: Result<Vec<String>> = item.values.iter().map(|v| self.keyword(v)).collect();
            return Ok(paren_join(parts?, " or "));
        };
        let mods = &item.field.modifiers;
        let has = |m: Modifier| mods.contains(&m);
        for m in mods {
            if matches!(
                m,
                Modifier::Expand
                    | Modifier::Minute
                    | Modifier::Hour
                    | Modifier::Day
                    | Modifier::Week
                    | Modifier::Month
                    | Modifier::Year
                    | Modifier::Neq
            ) {
                return Err(self.unsupported(format!("modifier {m:?}").to_lowercase()));
            }
        }
        let col = self.column(field)?;
        let joiner = if has(Modifier::All) { " and " } else { " or " };

        if has(Modifier::Exists) {
            let want = matches!(item.values.first(), Some(SigmaValue::Bool(true)) | None);
            return Ok(if want { format!("isnotempty({col})") } else { format!("isempty({col})") });
        }
        if has(Modifier::FieldRef) {
            let mut parts = Vec::new();
            for v in &item.values {
                let SigmaValue::String(s) = v else {
                    return Err(self.unsupported("fieldref to a non-name"));
                };
                let other = self.column(&s.original)?;
                parts.push(format!("{col} == {other}"));
            }
            return Ok(paren_join(parts, joiner));
        }
        for (m, op) in
            [(Modifier::Gt, ">"), (Modifier::Gte, ">="), (Modifier::Lt, "<"), (Modifier::Lte, "<=")]
        {
            if has(m) {
                let mut parts = Vec::new();
                for v in &item.values {
                    let n = match v {
                        SigmaValue::Integer(n) => n.to_string(),
                        SigmaValue::Float(f) => f.to_string(),
                        SigmaValue::String(s) if s.original.parse::<f64>().is_ok() => {
                            s.original.clone()
                        }
                        _ => return Err(self.unsupported("non-numeric comparison value")),
                    };
                    parts.push(format!("todouble({col}) {op} {n}"));
                }
                return Ok(paren_join(parts, joiner));
            }
        }
        if has(Modifier::Cidr) {
            let mut parts = Vec::new();
            for v in &item.values {
                let SigmaValue::String(s) = v else {
                    return Err(self.unsupported("non-string cidr"));
                };
                let range = &s.original;
                let f = if range.contains(':') { "ipv6_is_in_range" } else { "ipv4_is_in_range" };
                parts.push(format!("{f}({col}, {})", lit(range)));
            }
            return Ok(paren_join(parts, joiner));
        }
        if has(Modifier::Re) {
            let mut flags = String::new();
            if has(Modifier::IgnoreCase) {
                flags.push('i');
            }
            if has(Modifier::Multiline) {
                flags.push('m');
            }
            if has(Modifier::DotAll) {
                flags.push('s');
            }
            let mut parts = Vec::new();
            for v in &item.values {
                let SigmaValue::String(s) = v else {
                    return Err(self.unsupported("non-string regex"));
                };
                let re = if flags.is_empty() {
                    s.original.clone()
                } else {
                    format!("(?{flags}){}", s.original)
                };
                parts.push(format!("{col} matches regex {}", lit(&re)));
            }
            return Ok(paren_join(parts, joiner));
        }

        let op = if has(Modifier::Contains) {
            Op::Contains
        } else if has(Modifier::StartsWith) {
            Op::StartsWith
        } else if has(Modifier::EndsWith) {
            Op::EndsWith
        } else {
            Op::Equals
        };
        let cased = has(Modifier::Cased);
        let encoded = has(Modifier::Base64)
            || has(Modifier::Base64Offset)
            || has(Modifier::Wide)
            || has(Modifier::Utf16be)
            || has(Modifier::Utf16);

        let mut parts: Vec<String> = Vec::new();
        let mut plain_equals: Vec<String> = Vec::new();
        for v in &item.values {
            match v {
                SigmaValue::Null => parts.push(format!("isempty({col})")),
                SigmaValue::Bool(b) => parts.push(self.bool_test(&col, *b)),
                SigmaValue::Integer(n) if !encoded => {
                    if col.starts_with("tostring(") || col == "Hashes" {
                        parts.push(format!("{col} == \"{n}\""));
                    } else {
                        parts.push(format!("{col} == {n}"));
                    }
                }
                SigmaValue::Float(f) if !encoded => parts.push(format!("{col} == {f}")),
                SigmaValue::Integer(_) | SigmaValue::Float(_) => {
                    let s = SigmaString::new(&v.to_string());
                    self.string_value(&col, &s, op, cased, mods, &mut parts, &mut plain_equals)?
                }
                SigmaValue::String(s) => {
                    self.string_value(&col, s, op, cased, mods, &mut parts, &mut plain_equals)?
                }
            }
        }
        if !plain_equals.is_empty() {
            if joiner == " or " && plain_equals.len() > 1 {
                let list = plain_equals.iter().map(|s| lit(s)).collect::<Vec<_>>().join(", ");
                parts.insert(0, format!("{col} in~ ({list})"));
            } else {
                for (i, s) in plain_equals.iter().enumerate() {
                    parts.insert(i, format!("{col} =~ {}", lit(s)));
                }
            }
        }
        if parts.is_empty() {
            return Err(self.unsupported("detection item without values"));
        }
        Ok(paren_join(parts, joiner))
    }

    #[allow(clippy::too_many_arguments)]
    fn string_value(
        &mut self,
        col: &str,
        s: &SigmaString,
        op: Op,
        cased: bool,
        mods: &[Modifier],
        parts: &mut Vec<String>,
        plain_equals: &mut Vec<String>,
    ) -> Result<()> {
        let has = |m: Modifier| mods.contains(&m);
        if col == "Hashes" {
            parts.push(hashes_expr(s));
            return Ok(());
        }
        // Encoding modifiers turn one value into several literal needles.
        let encoding = [
            Modifier::Base64,
            Modifier::Base64Offset,
            Modifier::Wide,
            Modifier::Utf16be,
            Modifier::Utf16,
        ]
        .iter()
        .any(|m| has(*m));
        if encoding {
            let Some(text) = s.as_plain() else {
                return Err(self.unsupported("wildcards in an encoded value"));
            };
            let mut bytes = text.into_bytes();
            if has(Modifier::Wide) {
                bytes = utf16(&String::from_utf8_lossy(&bytes), false, false);
            } else if has(Modifier::Utf16be) {
                bytes = utf16(&String::from_utf8_lossy(&bytes), true, false);
            } else if has(Modifier::Utf16) {
                bytes = utf16(&String::from_utf8_lossy(&bytes), false, true);
            }
            let needles: Vec<String> = if has(Modifier::Base64Offset) {
                base64_offsets(&bytes)
            } else if has(Modifier::Base64) {
                vec![base64(&bytes)]
            } else {
                return Err(self.unsupported("utf16/wide modifier without base64"));
            };
            let encoded_op = if has(Modifier::Base64Offset) { Op::Contains } else { op };
            let mut sub = Vec::new();
            for n in needles {
                sub.push(compare(col, &n, encoded_op, cased));
            }
            parts.push(paren_join(sub, " or "));
            return Ok(());
        }
        let variants: Vec<SigmaString> =
            if has(Modifier::WindAsh) { windash(s) } else { vec![s.clone()] };
        let mut sub = Vec::new();
        for v in &variants {
            match simplify(v, op) {
                Some((Op::Equals, text)) if !cased && variants.len() == 1 => {
                    plain_equals.push(text)
                }
                Some((o, text)) => sub.push(compare(col, &text, o, cased)),
                None => {
                    sub.push(format!("{col} matches regex {}", lit(&wildcard_regex(v, op, cased))))
                }
            }
        }
        if !sub.is_empty() {
            parts.push(paren_join(sub, " or "));
        }
        Ok(())
    }
}

/// `Hashes` values are `ALGO=hex`: compare the algorithm's column.
fn hashes_expr(s: &SigmaString) -> String {
    let text: String = s
        .parts
        .iter()
        .filter_map(|p| match p {
            StringPart::Plain(t) => Some(t.as_str()),
            StringPart::Special(_) => None,
        })
        .collect();
    match text.split_once('=') {
        Some((algo, hex))
            if matches!(algo.to_ascii_uppercase().as_str(), "SHA1" | "MD5" | "SHA256") =>
        {
            format!("{} =~ {}", algo.to_ascii_uppercase(), lit(hex))
        }
        // IMPHASH and the like have no column in Defender tables: nothing can match.
        Some(_) => "false".to_string(),
        None => format!("(SHA256 =~ {0} or SHA1 =~ {0} or MD5 =~ {0})", lit(&text)),
    }
}

/// The value as one operator and literal when its wildcards sit only at the ends.
fn simplify(s: &SigmaString, op: Op) -> Option<(Op, String)> {
    let parts = &s.parts;
    let lead = matches!(parts.first(), Some(StringPart::Special(SpecialChar::WildcardMulti)));
    let trail = parts.len() > 1
        && matches!(parts.last(), Some(StringPart::Special(SpecialChar::WildcardMulti)));
    let inner = &parts[usize::from(lead)..parts.len() - usize::from(trail)];
    if inner.iter().any(|p| matches!(p, StringPart::Special(_))) {
        return None;
    }
    let text: String = inner
        .iter()
        .filter_map(|p| match p {
            StringPart::Plain(t) => Some(t.as_str()),
            StringPart::Special(_) => None,
        })
        .collect();
    if text.is_empty() {
        // `*` alone: any non-empty value.
        return if lead || trail { Some((Op::Contains, String::new())) } else { Some((op, text)) };
    }
    let (starts_any, ends_any) = match op {
        Op::Equals => (lead, trail),
        Op::Contains => (true, true),
        Op::StartsWith => (lead, true),
        Op::EndsWith => (true, trail),
    };
    Some(match (starts_any, ends_any) {
        (false, false) => (Op::Equals, text),
        (true, true) => (Op::Contains, text),
        (false, true) => (Op::StartsWith, text),
        (true, false) => (Op::EndsWith, text),
    })
}

fn compare(col: &str, text: &str, op: Op, cased: bool) -> String {
    if text.is_empty() && op == Op::Contains {
        return format!("isnotempty({col})");
    }
    let kw = match (op, cased) {
        (Op::Equals, false) => "=~",
        (Op::Equals, true) => "==",
        (Op::Contains, false) => "contains",
        (Op::Contains, true) => "contains_cs",
        (Op::StartsWith, false) => "startswith",
        (Op::StartsWith, true) => "startswith_cs",
        (Op::EndsWith, false) => "endswith",
        (Op::EndsWith, true) => "endswith_cs",
    };
    format!("{col} {kw} {}", lit(text))
}

fn wildcard_regex(s: &SigmaString, op: Op, cased: bool) -> String {
    let mut re = String::new();
    if !cased {
        re.push_str("(?i)");
    }
    if matches!(op, Op::Equals | Op::StartsWith) {
        re.push('^');
    }
    for p in &s.parts {
        match p {
            StringPart::Plain(t) => re.push_str(&regex_escape(t)),
            StringPart::Special(SpecialChar::WildcardMulti) => re.push_str(".*"),
            StringPart::Special(SpecialChar::WildcardSingle) => re.push('.'),
        }
    }
    if matches!(op, Op::Equals | Op::EndsWith) {
        re.push('$');
    }
    re
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// pySigma's `windash`: every `-` or `/` that starts a word may be any of these dashes.
fn windash(s: &SigmaString) -> Vec<SigmaString> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let original = &s.original;
    let chars: Vec<char> = original.chars().collect();
    let positions: Vec<usize> = (0..chars.len())
        .filter(|&i| {
            (chars[i] == '-' || chars[i] == '/')
                && (i == 0 || !chars[i - 1].is_alphanumeric())
                && chars.get(i + 1).is_some_and(|c| c.is_alphanumeric())
        })
        .collect();
    if positions.is_empty() {
        return vec![s.clone()];
    }
    let total = DASHES.len().checked_pow(positions.len() as u32).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    if total <= MAX_WINDASH_VARIANTS {
        for mut n in 0..total {
            let mut c = chars.clone();
            for &p in &positions {
                c[p] = DASHES[n % DASHES.len()];
                n /= DASHES.len();
            }
            out.push(SigmaString::new(&c.iter().collect::<String>()));
        }
    } else {
        // Too many combinations: the same dash everywhere.
        for d in DASHES {
            let mut c = chars.clone();
            for &p in &positions {
                c[p] = d;
            }
            out.push(SigmaString::new(&c.iter().collect::<String>()));
        }
    }
    out
}

fn utf16(s: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for u in s.encode_utf16() {
        let b = if big_endian { u.to_be_bytes() } else { u.to_le_bytes() };
        out.extend_from_slice(&b);
    }
    out
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sigma's `base64offset`: the three encodings of the value at byte offsets 0, 1 and 2 of a
/// base64 stream, trimmed to the characters that do not depend on the surrounding bytes.
pub fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END_TRIM: [usize; 3] = [0, 3, 2];
    let mut out = Vec::new();
    for i in 0..3 {
        let mut padded = vec![b' '; i];
        padded.extend_from_slice(bytes);
        let enc = base64(&padded);
        let trim = END_TRIM[(bytes.len() + i) % 3];
        let end = enc.len().saturating_sub(trim);
        if let Some(s) = enc.get(START[i]..end)
            && !s.is_empty()
        {
            out.push(s.to_string());
        }
    }
    out
}

fn paren_join(mut parts: Vec<String>, joiner: &str) -> String {
    if parts.len() == 1 {
        return parts.remove(0);
    }
    if parts.len() > MAX_CHAIN {
        // Parsers (ours included) cap how many operators one expression chains; long value
        // lists (IOC rules with a thousand package names) become groups of chains.
        let groups: Vec<String> =
            parts.chunks(MAX_CHAIN).map(|c| paren_join(c.to_vec(), joiner)).collect();
        return paren_join(groups, joiner);
    }
    format!("({})", parts.join(joiner))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(yaml: &str) -> SigmaRule {
        let c = rsigma_parser::parse_sigma_yaml(yaml).unwrap_or_default();
        c.rules.into_iter().next().unwrap_or_else(|| panic!("no rule parsed"))
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn base64offset_matches_sigma_reference() {
        // pySigma's documented example: "/bin/bash" with base64offset|contains.
        assert_eq!(
            base64_offsets(b"/bin/bash"),
            vec!["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]
        );
    }

    #[test]
    fn booleans_on_text_accept_rsigmas_spellings() {
        let r = rule(
            r#"
title: T
id: 1
logsource: {product: windows, category: image_load}
detection:
    sel: {Signed: true, ImageLoaded|endswith: '\x.dll'}
    condition: sel
"#,
        );
        let target = targets_for(Some("windows"), Some("image_load"), None)
            .iter()
            .find(|t| t.table == WINDOWS_EVENT)
            .unwrap_or_else(|| panic!("no raw target"));
        let q = to_kql_on(&r, target).unwrap_or_else(|e| panic!("{e}"));
        // `tostring(..) == true` compares text with a bool: an error in KQL.
        assert!(q.contains(r#"tostring(EventData.Signed) in~ ("true", "1", "yes")"#), "{q}");
    }

    #[test]
    fn long_value_lists_become_groups_of_chains() {
        let values: Vec<String> = (0..1000).map(|i| format!("'pkg{i}@1.0'")).collect();
        let r = rule(&format!(
            "title: T\nid: 1\nlogsource: {{product: windows, category: process_creation}}\n\
             detection:\n    sel:\n        CommandLine|contains: [{}]\n    condition: sel\n",
            values.join(", ")
        ));
        let q = to_kql(&r).unwrap_or_else(|e| panic!("{e}"));
        let detection = q.lines().last().unwrap_or_default();
        // No parenthesised run holds more than MAX_CHAIN operands.
        let mut longest = 0;
        for group in detection.split(['(', ')']) {
            longest = longest.max(group.matches(" or ").count() + 1);
        }
        assert!(longest <= MAX_CHAIN, "a chain of {longest}");
        assert_eq!(detection.matches("contains").count(), 1000);
    }

    #[test]
    fn schema_gaps_read_through_column_ifexists() {
        let r = rule(
            r#"
title: T
id: 1
logsource: {product: windows, category: process_creation}
detection:
    sel: {OriginalFileName: 'x.exe'}
    condition: sel
"#,
        );
        let q = to_kql(&r).unwrap_or_else(|e| panic!("{e}"));
        let has_column = registry()
            .get("DeviceProcessEvents")
            .is_some_and(|s| s.column("ProcessVersionInfoOriginalFileName").is_some());
        if has_column {
            assert!(q.contains("ProcessVersionInfoOriginalFileName =~"), "{q}");
        } else {
            assert!(
                q.contains(r#"column_ifexists("ProcessVersionInfoOriginalFileName", "") =~"#),
                "{q}"
            );
        }
    }

    #[test]
    fn converts_process_creation_with_modifiers() {
        let r = rule(
            r#"
title: T
id: 1
author: A
logsource: {product: windows, category: process_creation}
detection:
    sel:
        Image|endswith: ['\powershell.exe', '\pwsh.exe']
        CommandLine|contains|all: ['-nop', 'hidden']
    filter:
        ParentImage: 'C:\Windows\explorer.exe'
    condition: sel and not filter
level: high
"#,
        );
        let q = to_kql(&r).unwrap_or_else(|e| panic!("{e}"));
        assert!(q.contains("// Author: A"), "{q}");
        assert!(q.contains("Detection Rule License (DRL) 1.1"), "{q}");
        assert!(q.contains("DeviceProcessEvents\n"), "{q}");
        assert!(
            q.contains(
                r#"(FolderPath endswith @"\powershell.exe" or FolderPath endswith @"\pwsh.exe")"#
            ),
            "{q}"
        );
        assert!(
            q.contains(
                r#"(ProcessCommandLine contains "-nop" and ProcessCommandLine contains "hidden")"#
            ),
            "{q}"
        );
        assert!(
            q.contains(r#"not(InitiatingProcessFolderPath =~ @"C:\Windows\explorer.exe")"#),
            "{q}"
        );
    }

    #[test]
    fn middle_wildcards_become_regex_and_lists_become_in() {
        let r = rule(
            r#"
title: T
logsource: {product: windows, category: process_creation}
detection:
    a: {CommandLine: 'a*b?c'}
    b: {User: [x, y]}
    condition: 1 of them
"#,
        );
        let q = to_kql(&r).unwrap_or_else(|e| panic!("{e}"));
        assert!(q.contains(r#"ProcessCommandLine matches regex "(?i)^a.*b.c$""#), "{q}");
        assert!(q.contains(r#"AccountName in~ ("x", "y")"#), "{q}");
    }

    #[test]
    fn unknown_field_is_an_error_naming_it() {
        let r = rule(
            r#"
title: T
logsource: {product: m365_defender, service: deviceevents}
detection:
    a: {NoSuchField: 'x'}
    condition: a
"#,
        );
        match to_kql(&r) {
            Err(Error::UnmappedField { field, table, .. }) => {
                assert_eq!(field, "NoSuchField");
                assert_eq!(table, "DeviceEvents");
            }
            other => panic!("expected UnmappedField, got {other:?}"),
        }
    }

    #[test]
    fn windows_service_rules_query_the_raw_table_with_gate() {
        let r = rule(
            r#"
title: T
logsource: {product: windows, service: system}
detection:
    a: {EventID: 7045, ServiceName|contains: 'PSEXESVC'}
    condition: a
"#,
        );
        let q = to_kql(&r).unwrap_or_else(|e| panic!("{e}"));
        assert!(q.contains("WindowsEvent\n| where Channel in~ (\"System\")"), "{q}");
        assert!(q.contains("EventID == 7045"), "{q}");
        assert!(q.contains("tostring(EventData.ServiceName) contains \"PSEXESVC\""), "{q}");
    }

    #[test]
    fn falls_back_to_raw_sysmon_events_for_fields_defender_lacks() {
        let r = rule(
            r#"
title: T
logsource: {product: windows, category: process_creation}
detection:
    a: {CurrentDirectory|endswith: '\Temp\'}
    condition: a
"#,
        );
        let q = to_kql(&r).unwrap_or_else(|e| panic!("{e}"));
        assert!(q.contains("WindowsEvent\n| where Channel in~ (\"Microsoft-Windows-Sysmon/Operational\") and EventID == 1"), "{q}");
        assert!(q.contains(r#"tostring(EventData.CurrentDirectory) endswith @"\Temp\""#), "{q}");
    }

    #[test]
    fn literal_escaping() {
        assert_eq!(lit("a\"b"), "\"a\\\"b\"");
        assert_eq!(lit(r#"C:\x"y"#), r#"@"C:\x""y""#);
    }
}
