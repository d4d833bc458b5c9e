//! Metric histories stored as packed chunks.
//!
//! A metric point that names no model or dataset (nearly all of them) is stored in
//! `metric_chunks`: one row per (run, key, chunk), whose `points` blob holds 24 bytes per
//! point: step (i64), timestamp (i64) and value (f64 bits), little-endian. A log-batch of
//! 1,000 points over 10 keys therefore writes 10 rows, not 1,000 index entries. Small
//! writes (one `log-metric` at a time) are appended to the key's last chunk while it holds
//! fewer than [`MERGE_LIMIT`] points, so histories logged point by point stay compact.
//!
//! Points that name a model or dataset keep a row each in `metrics`, which the logged-model
//! searches query; so do the points logged before the chunks existed. A history is read
//! from both.
//!
//! MLflow's identity of a point is (key, timestamp, step, value): logging the same point
//! again stores nothing new. Here that rule is applied when a history is read
//! ([`History::finish`]): a retried request may store its points twice, but every reader
//! sees them once.

use mlox_core::entities::MetricPoint;
use mlox_core::Result;

use crate::db::{Conn, Dialect, RowView, SqlValue};

const POINT_BYTES: usize = 24;
/// A key's last chunk takes in a small write while the two together hold at most this
/// many points (3 KiB: the row stays within one database page).
pub(crate) const MERGE_LIMIT: usize = 128;
/// Points per chunk written by `mlox import` (24 KiB rows): whole histories arrive at once.
pub(crate) const IMPORT_CHUNK_POINTS: usize = 1024;

/// One plain point, as stored: NaN is kept as NaN, infinities are clamped by the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Plain {
    pub step: i64,
    pub timestamp: i64,
    pub value: f64,
}

fn encode_into(out: &mut Vec<u8>, points: &[Plain]) {
    out.reserve(points.len() * POINT_BYTES);
    for p in points {
        out.extend_from_slice(&p.step.to_le_bytes());
        out.extend_from_slice(&p.timestamp.to_le_bytes());
        out.extend_from_slice(&p.value.to_bits().to_le_bytes());
    }
}

fn word(b: &[u8]) -> [u8; 8] {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    w
}

/// Decodes a chunk, keeping the points whose step is within `range` (inclusive).
pub(crate) fn decode_into(blob: &[u8], range: Option<(i64, i64)>, out: &mut Vec<MetricPoint>) {
    out.reserve(blob.len() / POINT_BYTES);
    for p in blob.chunks_exact(POINT_BYTES) {
        let step = i64::from_le_bytes(word(&p[0..8]));
        if range.is_some_and(|(lo, hi)| step < lo || step > hi) {
            continue;
        }
        out.push(MetricPoint {
            step,
            timestamp: i64::from_le_bytes(word(&p[8..16])),
            value: f64::from_bits(u64::from_le_bytes(word(&p[16..24]))),
            origin: None,
        });
    }
}

fn step_bounds(points: &[Plain]) -> (i64, i64) {
    points.iter().fold((i64::MAX, i64::MIN), |(lo, hi), p| {
        (lo.min(p.step), hi.max(p.step))
    })
}

pub(crate) fn insert_chunk(
    c: &mut dyn Conn,
    run_id: &str,
    key: &str,
    points: &[Plain],
) -> Result<()> {
    let (lo, hi) = step_bounds(points);
    let mut blob = Vec::new();
    encode_into(&mut blob, points);
    c.execute(
        "INSERT INTO metric_chunks (run_uuid, key, min_step, max_step, n, points) VALUES (?, ?, ?, ?, ?, ?)",
        &[
            run_id.into(),
            key.into(),
            lo.into(),
            hi.into(),
            (points.len() as i64).into(),
            blob.into(),
        ],
    )?;
    Ok(())
}

/// Stores plain points of one (run, key).
pub(crate) fn append(c: &mut dyn Conn, run_id: &str, key: &str, points: &[Plain]) -> Result<()> {
    if points.is_empty() {
        return Ok(());
    }
    if points.len() < MERGE_LIMIT && c.dialect() == Dialect::Postgres {
        return append_small_pg(c, run_id, key, points);
    }
    if points.len() < MERGE_LIMIT {
        // SQLite has a single writer: the last chunk is read and rewritten. The points are
        // read only when they will be rewritten.
        let room = (MERGE_LIMIT - points.len()) as i64;
        let last = c.query_opt(
            "SELECT chunk_id, n, min_step, max_step, CASE WHEN n <= ? THEN points END FROM metric_chunks WHERE run_uuid = ? AND key = ? ORDER BY chunk_id DESC LIMIT 1",
            &[room.into(), run_id.into(), key.into()],
        )?;
        if let Some(row) = last {
            let n = usize::try_from(row.int(1)?).unwrap_or(usize::MAX);
            if n.saturating_add(points.len()) <= MERGE_LIMIT {
                let (lo, hi) = step_bounds(points);
                let mut blob = row.blob(4)?.to_vec();
                encode_into(&mut blob, points);
                c.execute(
                    "UPDATE metric_chunks SET n = ?, min_step = ?, max_step = ?, points = ? WHERE chunk_id = ?",
                    &[
                        ((n + points.len()) as i64).into(),
                        row.int(2)?.min(lo).into(),
                        row.int(3)?.max(hi).into(),
                        blob.into(),
                        row.int(0)?.into(),
                    ],
                )?;
                return Ok(());
            }
        }
    }
    // A request holds at most 1,000 metrics (MLflow's limit): one chunk each.
    insert_chunk(c, run_id, key, points)
}

/// A small write on PostgreSQL, in one statement (one round trip, and the chunk's old
/// points never travel): the key's last chunk grows in place while the two hold at most
/// [`MERGE_LIMIT`] points, else the points start a new chunk. The last chunk is locked
/// (`FOR UPDATE`), so that two writers never grow it from the same old copy.
fn append_small_pg(c: &mut dyn Conn, run_id: &str, key: &str, points: &[Plain]) -> Result<()> {
    let (lo, hi) = step_bounds(points);
    let mut blob = Vec::new();
    encode_into(&mut blob, points);
    let n = points.len() as i64;
    c.execute(
        "WITH last AS (\
            SELECT chunk_id FROM metric_chunks WHERE run_uuid = ?1::text AND key = ?2::text \
            ORDER BY chunk_id DESC LIMIT 1 FOR UPDATE), \
         grown AS (\
            UPDATE metric_chunks m SET n = m.n + ?3::bigint, min_step = LEAST(m.min_step, ?4::bigint), \
                max_step = GREATEST(m.max_step, ?5::bigint), points = m.points || ?6::bytea \
            FROM last WHERE m.chunk_id = last.chunk_id AND m.n + ?3::bigint <= ?7::bigint RETURNING 1) \
         INSERT INTO metric_chunks (run_uuid, key, min_step, max_step, n, points) \
         SELECT ?1::text, ?2::text, ?4::bigint, ?5::bigint, ?3::bigint, ?6::bytea \
         WHERE NOT EXISTS (SELECT 1 FROM grown)",
        &[
            run_id.into(),
            key.into(),
            n.into(),
            lo.into(),
            hi.into(),
            blob.into(),
            (MERGE_LIMIT as i64).into(),
        ],
    )?;
    Ok(())
}

/// On PostgreSQL, a key with at least this many points in one request gets a chunk of its
/// own without reading the last one: a round trip saved per key of a log-batch.
const PG_OWN_CHUNK: usize = 16;

/// Stores the plain points of several keys of one run, keys in the order given (callers
/// sort them, so that concurrent PostgreSQL writers lock rows in one order).
pub(crate) fn append_keys(
    c: &mut dyn Conn,
    run_id: &str,
    keys: &[(&str, Vec<Plain>)],
) -> Result<()> {
    if c.dialect() == Dialect::Sqlite {
        for (key, points) in keys {
            append(c, run_id, key, points)?;
        }
        return Ok(());
    }
    // The keys with many points: new chunks, all in one multi-row INSERT.
    let (big, small): (Vec<_>, Vec<_>) = keys
        .iter()
        .filter(|(_, p)| !p.is_empty())
        .partition(|(_, p)| p.len() >= PG_OWN_CHUNK);
    for (key, points) in small {
        append(c, run_id, key, points)?;
    }
    if big.is_empty() {
        return Ok(());
    }
    let mut args: Vec<SqlValue> = Vec::with_capacity(big.len() * 6);
    for (key, points) in &big {
        let (lo, hi) = step_bounds(points);
        let mut blob = Vec::new();
        encode_into(&mut blob, points);
        args.extend([
            SqlValue::from(run_id),
            SqlValue::from(*key),
            lo.into(),
            hi.into(),
            (points.len() as i64).into(),
            blob.into(),
        ]);
    }
    let sql = format!(
        "INSERT INTO metric_chunks (run_uuid, key, min_step, max_step, n, points) VALUES {}",
        vec!["(?, ?, ?, ?, ?, ?)"; big.len()].join(", ")
    );
    c.execute(&sql, &args)?;
    Ok(())
}

/// The order of a history: MLflow sorts `get-history` by time and the bulk interval
/// endpoint by step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// (timestamp, step, value)
    Time,
    /// (step, timestamp, value)
    Step,
}

/// The points of one (run, key), gathered from both tables.
pub(crate) struct History {
    pub points: Vec<MetricPoint>,
}

/// What a point is compared by: NaN is stored by MLflow as 0 with a flag, and sorts as 0
/// (before a real 0).
fn sort_key(p: &MetricPoint, order: Order) -> (i64, i64, f64, bool) {
    let nan = p.value.is_nan();
    let v = if nan { 0.0 } else { p.value };
    match order {
        Order::Time => (p.timestamp, p.step, v, !nan),
        Order::Step => (p.step, p.timestamp, v, !nan),
    }
}

fn same_point(a: &MetricPoint, b: &MetricPoint) -> bool {
    a.step == b.step
        && a.timestamp == b.timestamp
        && match (a.value.is_nan(), b.value.is_nan()) {
            (true, true) => true,
            (false, false) => a.value.to_bits() == b.value.to_bits(),
            _ => false,
        }
}

impl History {
    /// Reads every point of `key` in `run_id` whose step is within `range`, unordered.
    pub(crate) fn read(
        c: &mut dyn Conn,
        run_id: &str,
        key: &str,
        range: Option<(i64, i64)>,
    ) -> Result<History> {
        let mut points = Vec::new();
        let mut args: Vec<SqlValue> = vec![run_id.into(), key.into()];
        let (rows_range, chunk_range) = match range {
            Some((s, e)) => {
                args.extend([s.into(), e.into()]);
                (
                    " AND step >= ? AND step <= ?",
                    " AND max_step >= ? AND min_step <= ?",
                )
            }
            None => ("", ""),
        };
        // Rows first: where a point was stored both ways, the copy naming its model or
        // dataset is the one kept.
        c.query_each(
            &format!("SELECT step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest FROM metrics WHERE run_uuid = ? AND key = ?{rows_range} ORDER BY timestamp, step, value"),
            &args,
            &mut |r| {
                points.push(crate::tracking::metric_point(r)?);
                Ok(())
            },
        )?;
        c.query_each(
            &format!("SELECT points FROM metric_chunks WHERE run_uuid = ? AND key = ?{chunk_range} ORDER BY chunk_id"),
            &args,
            &mut |r| {
                decode_into(r.blob(0)?, range, &mut points);
                Ok(())
            },
        )?;
        Ok(History { points })
    }

    /// Sorts the points in `order` and drops repeated points (MLflow's primary key).
    /// Points logged in order are checked in one pass and not sorted again.
    pub(crate) fn finish(mut self, order: Order) -> Vec<MetricPoint> {
        let cmp = |a: &MetricPoint, b: &MetricPoint| {
            let (x, y) = (sort_key(a, order), sort_key(b, order));
            (x.0, x.1)
                .cmp(&(y.0, y.1))
                .then(x.2.total_cmp(&y.2))
                .then(x.3.cmp(&y.3))
        };
        if !self.points.is_sorted_by(|a, b| cmp(a, b).is_le()) {
            // Stable: among equal points the first read is kept.
            self.points.sort_by(cmp);
        }
        self.points.dedup_by(|later, kept| same_point(later, kept));
        self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(step: i64, timestamp: i64, value: f64) -> MetricPoint {
        MetricPoint {
            step,
            timestamp,
            value,
            origin: None,
        }
    }

    #[test]
    fn points_round_trip_through_a_chunk() {
        let plain = [
            Plain {
                step: -3,
                timestamp: 1_700_000_000_000,
                value: 0.5,
            },
            Plain {
                step: i64::MAX,
                timestamp: 0,
                value: f64::NAN,
            },
            Plain {
                step: 7,
                timestamp: -1,
                value: f64::MAX,
            },
        ];
        let mut blob = Vec::new();
        encode_into(&mut blob, &plain);
        assert_eq!(blob.len(), 3 * POINT_BYTES);
        let mut out = Vec::new();
        decode_into(&blob, None, &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(
            (out[0].step, out[0].timestamp, out[0].value),
            (-3, 1_700_000_000_000, 0.5)
        );
        assert!(out[1].value.is_nan() && out[1].step == i64::MAX);
        assert_eq!(out[2].value, f64::MAX);
        let mut ranged = Vec::new();
        decode_into(&blob, Some((0, 10)), &mut ranged);
        assert_eq!(ranged.len(), 1);
        assert_eq!(ranged[0].step, 7);
    }

    #[test]
    fn finish_sorts_and_drops_repeated_points() {
        let h = History {
            points: vec![
                p(2, 20, 1.0),
                p(1, 10, 1.0),
                p(2, 20, 1.0),
                p(2, 20, 0.5),
                p(3, 5, f64::NAN),
                p(3, 5, f64::NAN),
                p(3, 5, 0.0),
            ],
        };
        let by_time: Vec<(i64, i64, f64)> = h
            .finish(Order::Time)
            .iter()
            .map(|p| (p.timestamp, p.step, p.value))
            .collect();
        assert_eq!(by_time.len(), 5);
        assert_eq!(by_time[0].0, 5);
        assert!(by_time[0].2.is_nan() || by_time[1].2.is_nan());
        assert_eq!(&by_time[2..], &[(10, 1, 1.0), (20, 2, 0.5), (20, 2, 1.0)]);
        let h = History {
            points: vec![p(2, 1, 1.0), p(1, 9, 1.0)],
        };
        let by_step: Vec<i64> = h.finish(Order::Step).iter().map(|p| p.step).collect();
        assert_eq!(by_step, vec![1, 2]);
    }
}
