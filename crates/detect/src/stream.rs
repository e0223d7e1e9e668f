//! Streaming evaluation: rules run on events as they arrive (at ingest), with the same results
//! as [`crate::hunt::hunt`] over the same rows once stored.
//!
//! Detection rules look at one row and do not care about order; correlation rules (counts,
//! temporal sequences) keep time windows and must see rows in time order. Ingested data is
//! mostly ordered but not quite (several files, several tables, late senders), so the detector
//! holds rows in a reorder buffer and evaluates them in time order once they are
//! [`StreamConfig::max_delay_secs`] older than the newest row seen. A row later than that is
//! evaluated when it arrives (correlations then see it out of order). [`StreamingDetector::finish`]
//! drains the buffer and correlates all alerts into incidents.
//!
//! ```
//! use bulwark_detect::stream::{StreamConfig, StreamingDetector};
//! use bulwark_detect::builtin::builtin_rules;
//!
//! let (rules, _) = builtin_rules();
//! let mut detector = StreamingDetector::new(&rules, StreamConfig::default())?;
//! // for each ingested batch: let new_alerts = detector.push("DeviceProcessEvents", &batch)?;
//! let findings = detector.finish();
//! assert!(findings.alerts.is_empty());
//! # Ok::<(), bulwark_detect::Error>(())
//! ```

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashSet};

use arrow::array::RecordBatch;
use serde_json::{Map, Value};

use crate::hunt::{Evaluation, Findings, is_product_row, product_alerts_from_rows};
use crate::rules::row_time_secs;
use crate::{Alert, IncidentConfig, RuleSet};

/// Streaming settings.
#[derive(Debug, Clone, Copy)]
pub struct StreamConfig {
    /// Incident grouping.
    pub incidents: IncidentConfig,
    /// How long (event time, seconds) a row waits for earlier rows before it is evaluated.
    /// Larger values tolerate more disorder and hold more rows in memory.
    pub max_delay_secs: i64,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig { incidents: IncidentConfig::default(), max_delay_secs: 600 }
    }
}

/// A buffered row, ordered as the hunt's merge orders rows: by second, then table (the hunt
/// merges tables on whole seconds, in table-name order), then exact time (each table is sorted
/// by its time column), then arrival.
struct Pending {
    time: i64,
    table: String,
    ns: i64,
    seq: u64,
    row: Map<String, Value>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, &self.table, self.ns, self.seq).cmp(&(
            other.time,
            &other.table,
            other.ns,
            other.seq,
        ))
    }
}

/// A row's time in ns, for ordering rows within one second.
fn row_time_ns(row: &Map<String, Value>) -> Option<i64> {
    ["TimeGenerated", "Timestamp", "TimeCreated", "EventTime"].iter().find_map(|k| {
        match row.get(*k)? {
            Value::String(s) => bulwark_model::time::parse_datetime_ns(s),
            Value::Number(n) => n.as_i64().and_then(|s| s.checked_mul(1_000_000_000)),
            _ => None,
        }
    })
}

/// Evaluates rules on batches as they arrive; see the module docs.
pub struct StreamingDetector<'r> {
    eval: Evaluation<'r>,
    config: StreamConfig,
    tables: HashSet<String>,
    pending: BinaryHeap<Reverse<Pending>>,
    newest: i64,
    seq: u64,
    product_info: Vec<Map<String, Value>>,
    product_evidence: Vec<Map<String, Value>>,
}

impl<'r> StreamingDetector<'r> {
    /// A detector for `rules` (correlation rules compiled here).
    pub fn new(rules: &'r RuleSet, config: StreamConfig) -> crate::Result<Self> {
        Ok(StreamingDetector {
            eval: Evaluation::new(rules)?,
            config,
            tables: rules.tables().into_iter().map(str::to_string).collect(),
            pending: BinaryHeap::new(),
            newest: i64::MIN,
            seq: 0,
            product_info: Vec::new(),
            product_evidence: Vec::new(),
        })
    }

    /// Takes a batch of `table` rows; returns the new alerts raised by the rows it released for
    /// evaluation (this batch's and earlier buffered ones). A repeat folded into an earlier
    /// alert (see [`crate::hunt::AGGREGATION_SECS`]) is not returned again; the final counts are
    /// in [`StreamingDetector::finish`]'s findings.
    pub fn push(&mut self, table: &str, batch: &RecordBatch) -> crate::Result<Vec<Alert>> {
        let product = matches!(table, "AlertInfo" | "AlertEvidence");
        if batch.num_rows() == 0 || !(product || self.tables.contains(table)) {
            return Ok(Vec::new());
        }
        let rows = crate::event::json_rows(std::slice::from_ref(batch))
            .map_err(|e| crate::Error::Store(e.to_string()))?;
        Ok(self.push_rows(table, rows))
    }

    /// [`StreamingDetector::push`] for rows already in JSON form (column name -> value).
    pub fn push_rows(
        &mut self,
        table: &str,
        rows: impl IntoIterator<Item = Map<String, Value>>,
    ) -> Vec<Alert> {
        match table {
            // Alerts raised by products join the incidents (as in the hunt), at the end.
            "AlertInfo" => {
                self.product_info.extend(rows.into_iter().filter(is_product_row));
                return Vec::new();
            }
            "AlertEvidence" => {
                self.product_evidence.extend(rows.into_iter().filter(is_product_row));
                return Vec::new();
            }
            _ => {}
        }
        if !self.tables.contains(table) {
            return Vec::new();
        }
        for row in rows {
            let time = row_time_secs(&row).unwrap_or(i64::MIN);
            let ns = row_time_ns(&row).unwrap_or(i64::MIN);
            self.newest = self.newest.max(time);
            self.seq += 1;
            self.pending.push(Reverse(Pending {
                time,
                table: table.to_string(),
                ns,
                seq: self.seq,
                row,
            }));
        }
        let horizon = self.newest.saturating_sub(self.config.max_delay_secs.max(0));
        self.release(Some(horizon))
    }

    /// Evaluates buffered rows up to `horizon` (all of them for `None`), in time order.
    fn release(&mut self, horizon: Option<i64>) -> Vec<Alert> {
        let mut out = Vec::new();
        while let Some(Reverse(head)) = self.pending.peek() {
            if horizon.is_some_and(|h| head.time > h) {
                break;
            }
            let Some(Reverse(p)) = self.pending.pop() else { break };
            let n = self.eval.row(&p.table, &p.row);
            let all = self.eval.alerts();
            out.extend_from_slice(&all[all.len() - n..]);
        }
        out
    }

    /// Rows waiting in the reorder buffer.
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }

    /// Evaluates what is still buffered, adds product alerts and correlates all alerts into
    /// incidents: the same [`Findings`] as a hunt over the same rows.
    pub fn finish(mut self) -> Findings {
        self.release(None);
        let product = product_alerts_from_rows(&self.product_info, &self.product_evidence);
        let config = self.config.incidents;
        self.eval.finish(product, &config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AlertKind;
    use serde_json::json;

    fn failure(minute: u32, user: u32) -> Map<String, Value> {
        json!({"TimeGenerated": format!("2026-11-20T07:{minute:02}:00Z"), "ResultType": "50126",
               "UserPrincipalName": format!("user{user}@contoso.com"), "IPAddress": "203.0.113.77"})
        .as_object()
        .cloned()
        .unwrap_or_default()
    }

    #[test]
    fn ordered_rows_are_evaluated_as_they_arrive() {
        let (rules, _) = crate::builtin::builtin_rules();
        let config = StreamConfig { max_delay_secs: 0, ..StreamConfig::default() };
        let mut d = StreamingDetector::new(&rules, config).expect("detector");
        let mut fired_at = None;
        for i in 0..12 {
            let alerts = d.push_rows("SigninLogs", [failure(i, i)]);
            assert_eq!(d.buffered(), 0);
            if fired_at.is_none() && alerts.iter().any(|a| a.kind == AlertKind::Correlation) {
                fired_at = Some(i);
            }
        }
        // Ten distinct accounts from one IP: the tenth failure completes the spray.
        assert_eq!(fired_at, Some(9));
        let findings = d.finish();
        assert_eq!(findings.report.rows_scanned, 12);
        assert_eq!(findings.incidents.len(), 1);
        // The spray fired on the 10th, 11th and 12th failures: one alert counting three hits.
        assert_eq!(findings.alerts.len(), 1);
        assert_eq!(findings.alerts[0].count, 3);
        assert_eq!(findings.alerts[0].last_time.as_deref(), Some("2026-11-20T07:11:00Z"));
    }

    #[test]
    fn late_rows_wait_in_the_buffer_and_are_put_back_in_order() {
        let (rules, _) = crate::builtin::builtin_rules();
        let config = StreamConfig { max_delay_secs: 600, ..StreamConfig::default() };
        let mut d = StreamingDetector::new(&rules, config).expect("detector");
        // Minutes 9, 8, ..., 0: reversed, but all within the ten-minute delay.
        let mut early = Vec::new();
        for i in (0..10).rev() {
            early.extend(d.push_rows("SigninLogs", [failure(i, i)]));
        }
        assert!(early.is_empty(), "{early:?}");
        assert_eq!(d.buffered(), 10);
        // A row 20 minutes later releases the ten, in time order: the spray fires.
        let released = d.push_rows("SigninLogs", [failure(29, 50)]);
        assert_eq!(d.buffered(), 1);
        assert!(released.iter().any(|a| a.kind == AlertKind::Correlation), "{released:?}");
        assert_eq!(d.finish().report.rows_scanned, 11);
    }
}
