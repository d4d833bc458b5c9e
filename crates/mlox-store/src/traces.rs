//! Traces and assessments (MLflow 3 GenAI), written once over [`Conn`].
//!
//! A trace's info is one `traces` row with its tags and metadata as key-value rows.
//! Spans are kept compactly: each batch of spans of a trace, as it arrives, is one
//! `trace_spans` row holding the batch as gzip-compressed JSON; a span logged again is
//! found in a later batch and replaces the earlier one when the trace is read.
//! `trace_span_names` keeps each distinct (name, type, status) of a trace's spans, for
//! `span.*` filters. Searches are compiled to SQL over indexed columns.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use mlox_core::entities::{Page, LIFECYCLE_ACTIVE};
use mlox_core::search::{Cmp, Value};
use mlox_core::trace::*;
use mlox_core::trace_search::{parse_trace_filter, parse_trace_order_by, TraceField};
use mlox_core::{page_token, MlflowError, Result};

use crate::db::{placeholders, Conn, DbError, RowView, SqlValue};
use crate::search_sql::comparison_sql;
use crate::tracking::{append_uri_path, experiment_place, get_run, now_ms};

/// MLflow's default and largest page of a trace search.
const DEFAULT_MAX_RESULTS: i64 = 100;
const MAX_RESULTS_LIMIT: i64 = 500;

fn trace_not_found(trace_id: &str) -> MlflowError {
    MlflowError::not_found(format!("Trace with ID '{trace_id}' not found."))
}

/// Compresses a batch of spans for storage: their JSON, gzip-framed.
pub(crate) fn encode_spans(spans: &[Span]) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(spans).map_err(|e| MlflowError::internal(e.to_string()))?;
    gzip(&json)
}

thread_local! {
    /// A deflate compressor per thread, reset between uses: a new one allocates (and
    /// zeroes) a few hundred KiB of tables, more than compressing a batch costs.
    static DEFLATE: std::cell::RefCell<flate2::Compress> =
        std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::fast(), false));
}

/// `data` as a gzip member (RFC 1952): header, raw deflate, CRC-32 and length.
fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut out = Vec::with_capacity(HEADER.len() + data.len() / 3 + 64);
    out.extend_from_slice(&HEADER);
    DEFLATE.with(|d| -> Result<()> {
        let mut d = d.borrow_mut();
        d.reset();
        loop {
            let consumed = d.total_in() as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(out.len().max(1024));
            }
            let status = d
                .compress_vec(&data[consumed..], &mut out, flate2::FlushCompress::Finish)
                .map_err(|e| MlflowError::internal(format!("compressing spans: {e}")))?;
            if status == flate2::Status::StreamEnd {
                return Ok(());
            }
        }
    })?;
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Ok(out)
}

fn decode_spans(bytes: &[u8]) -> Result<Vec<Span>> {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| MlflowError::internal(format!("corrupt span batch: {e}")))?;
    serde_json::from_slice(&json)
        .map_err(|e| MlflowError::internal(format!("corrupt span batch: {e}")))
}

pub(crate) fn status_name(code: i32) -> &'static str {
    match code {
        1 => "OK",
        2 => "ERROR",
        _ => "UNSET",
    }
}

fn exists(c: &mut dyn Conn, trace_id: &str) -> Result<bool> {
    Ok(c.query_opt(
        "SELECT 1 FROM traces WHERE trace_id = ?",
        &[trace_id.into()],
    )?
    .is_some())
}

fn upsert_kv(c: &mut dyn Conn, table: &str, trace_id: &str, key: &str, value: &str) -> Result<()> {
    upsert_kvs(c, table, trace_id, &BTreeMap::from([(key, value)]))
}

/// Sets the keys of a trace's tags or metadata, several per statement (the trace writes
/// of every span batch and start-trace go through the one writer). A key whose value is
/// unchanged is left alone, so its pages are not written again.
fn upsert_kvs(
    c: &mut dyn Conn,
    table: &str,
    trace_id: &str,
    pairs: &BTreeMap<&str, &str>,
) -> Result<()> {
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, *v)).collect();
    // 3 parameters a row, well within both databases' limits.
    for chunk in pairs.chunks(300) {
        let mut args: Vec<SqlValue> = Vec::with_capacity(chunk.len() * 3);
        for (k, v) in chunk {
            args.extend([trace_id.into(), (*k).into(), (*v).into()]);
        }
        c.execute(
            &format!(
                "INSERT INTO {table} (trace_id, key, value) VALUES {} ON CONFLICT (trace_id, key) DO UPDATE SET value = excluded.value WHERE {table}.value <> excluded.value",
                vec!["(?, ?, ?)"; chunk.len()].join(", ")
            ),
            &args,
        )?;
    }
    Ok(())
}

fn artifact_location_tag(artifact_location: &str, trace_id: &str) -> String {
    append_uri_path(artifact_location, &format!("traces/{trace_id}/artifacts"))
}

/// What a batch of spans says about its trace.
struct SpanSummary {
    min_start_ms: i64,
    max_end_ms: Option<i64>,
    root_state: Option<TraceState>,
    request_preview: Option<String>,
    response_preview: Option<String>,
}

fn summarize(spans: &[Span]) -> SpanSummary {
    let min_start_ms = spans
        .iter()
        .map(|s| (s.start_time_unix_nano / 1_000_000) as i64)
        .min()
        .unwrap_or(0);
    let max_end_ms = spans
        .iter()
        .filter(|s| s.end_time_unix_nano > 0)
        .map(|s| (s.end_time_unix_nano / 1_000_000) as i64)
        .max();
    let root = spans.iter().find(|s| s.parent_span_id.is_none());
    SpanSummary {
        min_start_ms,
        max_end_ms,
        root_state: root.map(|r| {
            if r.status_code == 2 {
                TraceState::Error
            } else {
                TraceState::Ok
            }
        }),
        request_preview: root
            .and_then(|r| r.attribute(keys::SPAN_INPUTS))
            .map(preview),
        response_preview: root
            .and_then(|r| r.attribute(keys::SPAN_OUTPUTS))
            .map(preview),
    }
}

/// The spans of one trace from one request, ready to be stored: what the writer needs,
/// computed before the write (the compression above all) so that the writer thread,
/// which every write of the store goes through, does only the database work.
pub(crate) struct SpanBatch {
    trace_id: String,
    summary: SpanSummary,
    /// The spans, compressed (`encode_spans`).
    content: Vec<u8>,
    /// (name, span type, status) of each distinct span, for span filters.
    names: Vec<(String, String, &'static str)>,
}

/// Groups spans by trace and prepares each group for [`store_span_batches`].
pub(crate) fn prepare_span_batches(spans: Vec<Span>) -> Result<Vec<SpanBatch>> {
    let mut by_trace: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    for mut span in spans {
        let trace_id = span.mlflow_trace_id();
        // MLflow derives the request id from the OpenTelemetry trace id, whatever was sent.
        span.set_attribute(keys::SPAN_REQUEST_ID, AnyValue::Str(trace_id.clone()));
        by_trace.entry(trace_id).or_default().push(span);
    }
    by_trace
        .into_iter()
        .map(|(trace_id, spans)| {
            let names: HashSet<(String, String, &'static str)> = spans
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        s.span_type().unwrap_or_default(),
                        status_name(s.status_code),
                    )
                })
                .collect();
            Ok(SpanBatch {
                summary: summarize(&spans),
                content: encode_spans(&spans)?,
                names: names.into_iter().collect(),
                trace_id,
            })
        })
        .collect()
}

pub(crate) fn store_span_batches(
    c: &mut dyn Conn,
    experiment_id: &str,
    batches: Vec<SpanBatch>,
) -> Result<()> {
    let mut experiment = None;
    for SpanBatch {
        trace_id,
        summary,
        content,
        names,
    } in batches
    {
        // The trace, whether its info is final, and whether it already says where its
        // spans are, in one statement.
        let row = c.query_opt(
            "SELECT request_time, execution_duration, state, request_preview, response_preview, \
                CASE WHEN EXISTS (SELECT 1 FROM trace_metadata m WHERE m.trace_id = traces.trace_id AND m.key = ?) THEN 1 ELSE 0 END, \
                CASE WHEN EXISTS (SELECT 1 FROM trace_tags t WHERE t.trace_id = traces.trace_id AND t.key = ? AND t.value = ?) THEN 1 ELSE 0 END \
             FROM traces WHERE trace_id = ?",
            &[
                keys::INFO_FINALIZED.into(),
                keys::SPANS_LOCATION.into(),
                keys::SPANS_LOCATION_TRACKING_STORE.into(),
                trace_id.as_str().into(),
            ],
        )?;
        let location;
        let mut tags: BTreeMap<&str, &str> = BTreeMap::new();
        match row {
            None => {
                if experiment.is_none() {
                    experiment = Some(experiment_place(c, experiment_id)?);
                }
                let exp = experiment.as_ref().expect("experiment loaded above");
                let eid = exp.id;
                c.execute(
                    "INSERT INTO traces (trace_id, experiment_id, request_time, execution_duration, state, client_request_id, request_preview, response_preview) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
                    &[
                        trace_id.as_str().into(),
                        eid.into(),
                        summary.min_start_ms.into(),
                        summary.max_end_ms.map(|e| e - summary.min_start_ms).into(),
                        summary.root_state.unwrap_or(TraceState::InProgress).as_str().into(),
                        summary.request_preview.clone().into(),
                        summary.response_preview.clone().into(),
                    ],
                )?;
                location = artifact_location_tag(&exp.artifact_location, &trace_id);
                tags.insert(keys::ARTIFACT_LOCATION, &location);
                tags.insert(keys::SPANS_LOCATION, keys::SPANS_LOCATION_TRACKING_STORE);
            }
            Some(r) => {
                let finalized = r.int(5)? != 0;
                if r.int(6)? == 0 {
                    tags.insert(keys::SPANS_LOCATION, keys::SPANS_LOCATION_TRACKING_STORE);
                }
                let (mut start, duration) = (r.int(0)?, r.opt_int(1)?);
                let mut state = TraceState::parse(&r.text(2)?).unwrap_or_default();
                let mut end = duration.map(|d| start + d);
                if !finalized {
                    if summary.min_start_ms < start {
                        start = summary.min_start_ms;
                    }
                    end = end.max(summary.max_end_ms);
                }
                if matches!(state, TraceState::InProgress | TraceState::Unspecified) {
                    if let Some(s) = summary.root_state {
                        state = s;
                    }
                }
                let request_preview = r.opt_text(3)?.or(summary.request_preview.clone());
                let response_preview = r.opt_text(4)?.or(summary.response_preview.clone());
                c.execute(
                    "UPDATE traces SET request_time = ?, execution_duration = ?, state = ?, request_preview = ?, response_preview = ? WHERE trace_id = ?",
                    &[
                        start.into(),
                        end.map(|e| e - start).into(),
                        state.as_str().into(),
                        request_preview.into(),
                        response_preview.into(),
                        trace_id.as_str().into(),
                    ],
                )?;
            }
        }
        if !tags.is_empty() {
            upsert_kvs(c, "trace_tags", &trace_id, &tags)?;
        }
        // The batch number after the trace's last one, in the same statement.
        c.execute(
            "INSERT INTO trace_spans (trace_id, batch, content) SELECT ?, COALESCE(MAX(batch), -1) + 1, ? FROM trace_spans WHERE trace_id = ?",
            &[
                trace_id.as_str().into(),
                SqlValue::Blob(content),
                trace_id.as_str().into(),
            ],
        )?;
        for chunk in names.chunks(200) {
            let mut args: Vec<SqlValue> = Vec::with_capacity(chunk.len() * 4);
            for (name, span_type, status) in chunk {
                args.extend([
                    trace_id.as_str().into(),
                    name.as_str().into(),
                    span_type.as_str().into(),
                    (*status).into(),
                ]);
            }
            c.execute(
                &format!(
                    "INSERT INTO trace_span_names (trace_id, name, span_type, status) VALUES {} ON CONFLICT DO NOTHING",
                    vec!["(?, ?, ?, ?)"; chunk.len()].join(", ")
                ),
                &args,
            )?;
        }
    }
    Ok(())
}

fn validate_trace_tag(key: &str, value: &str) -> Result<()> {
    if key.is_empty() {
        return Err(MlflowError::invalid(
            "Missing value for required parameter 'key'.",
        ));
    }
    if key.chars().count() > 250 {
        return Err(MlflowError::invalid(format!(
            "Trace tag key '{key}' had length {}, which exceeded length limit of 250",
            key.chars().count()
        )));
    }
    // MLflow truncates long tag values rather than refusing them.
    let _ = value;
    Ok(())
}

fn truncate_value(value: &str) -> String {
    if value.chars().count() > 8000 {
        value.chars().take(8000).collect()
    } else {
        value.to_string()
    }
}

pub(crate) fn start_trace(c: &mut dyn Conn, info: TraceInfo) -> Result<TraceInfo> {
    let exp = experiment_place(c, &info.experiment_id)?;
    if exp.lifecycle_stage != LIFECYCLE_ACTIVE {
        return Err(MlflowError::invalid(format!(
            "The experiment {} must be in the 'active' state. Current state is {}.",
            exp.id, exp.lifecycle_stage
        )));
    }
    let trace_id = info.trace_id.clone();
    if trace_id.is_empty() {
        return Err(MlflowError::invalid(
            "Missing value for required parameter 'trace_id'.",
        ));
    }
    for (k, v) in &info.tags {
        validate_trace_tag(k, v)?;
    }
    let eid = exp.id;
    // Inserted, or (its spans came first) the info replaces what the spans said, keeping
    // the previews they gave when the info has none.
    c.execute(
        "INSERT INTO traces (trace_id, experiment_id, request_time, execution_duration, state, client_request_id, request_preview, response_preview) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (trace_id) DO UPDATE SET experiment_id = excluded.experiment_id, request_time = excluded.request_time, \
            execution_duration = excluded.execution_duration, state = excluded.state, client_request_id = excluded.client_request_id, \
            request_preview = COALESCE(excluded.request_preview, traces.request_preview), \
            response_preview = COALESCE(excluded.response_preview, traces.response_preview)",
        &[
            trace_id.as_str().into(),
            eid.into(),
            info.request_time.into(),
            info.execution_duration.into(),
            info.state.as_str().into(),
            info.client_request_id.clone().into(),
            info.request_preview.clone().into(),
            info.response_preview.clone().into(),
        ],
    )?;
    // The tags, then the artifact location (which wins over a tag of that name); the
    // metadata, then the mark that the info is final.
    let tag_values: Vec<(&str, String)> = info
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), truncate_value(v)))
        .collect();
    let location = artifact_location_tag(&exp.artifact_location, &trace_id);
    let mut tags: BTreeMap<&str, &str> = tag_values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    tags.insert(keys::ARTIFACT_LOCATION, &location);
    upsert_kvs(c, "trace_tags", &trace_id, &tags)?;
    let mut metadata: BTreeMap<&str, &str> = info
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    metadata.insert(keys::INFO_FINALIZED, "true");
    upsert_kvs(c, "trace_metadata", &trace_id, &metadata)?;
    for a in info.assessments {
        let mut a = a;
        a.trace_id = trace_id.clone();
        insert_assessment(c, &mut a)?;
    }
    get_trace_info(c, &trace_id)
}

const INFO_COLUMNS: &str = "trace_id, experiment_id, request_time, execution_duration, state, client_request_id, request_preview, response_preview";

fn info_from_row(r: &crate::db::Row) -> Result<TraceInfo, DbError> {
    Ok(TraceInfo {
        trace_id: r.text(0)?,
        experiment_id: r.text(1)?,
        request_time: r.int(2)?,
        execution_duration: r.opt_int(3)?,
        state: TraceState::parse(&r.text(4)?).unwrap_or_default(),
        client_request_id: r.opt_text(5)?,
        request_preview: r.opt_text(6)?,
        response_preview: r.opt_text(7)?,
        ..Default::default()
    })
}

/// Loads trace infos (with tags, metadata and assessments) of the given ids, in that
/// order; unknown ids are skipped.
fn load_infos(c: &mut dyn Conn, ids: &[String]) -> Result<Vec<TraceInfo>> {
    let mut found: HashMap<String, TraceInfo> = HashMap::new();
    for chunk in ids.chunks(500) {
        let args: Vec<SqlValue> = chunk.iter().map(SqlValue::from).collect();
        let ph = placeholders(chunk.len());
        for r in c.query(
            &format!("SELECT {INFO_COLUMNS} FROM traces WHERE trace_id IN ({ph})"),
            &args,
        )? {
            let info = info_from_row(&r)?;
            found.insert(info.trace_id.clone(), info);
        }
        // Tags and metadata in one statement: the ids twice, once for each table.
        let twice: Vec<SqlValue> = args.iter().chain(args.iter()).cloned().collect();
        for r in c.query(
            &format!(
                "SELECT trace_id, key, value, 1 FROM trace_tags WHERE trace_id IN ({ph}) \
                 UNION ALL SELECT trace_id, key, value, 0 FROM trace_metadata WHERE trace_id IN ({ph})"
            ),
            &twice,
        )? {
            if let Some(info) = found.get_mut(&r.text(0)?) {
                let map = if r.int(3)? == 1 {
                    &mut info.tags
                } else {
                    &mut info.metadata
                };
                map.insert(r.text(1)?, r.text(2)?);
            }
        }
        for r in c.query(
            &format!("SELECT trace_id, content FROM assessments WHERE trace_id IN ({ph}) ORDER BY create_time, assessment_id"),
            &args,
        )? {
            if let Some(info) = found.get_mut(&r.text(0)?) {
                info.assessments.push(parse_assessment(&r.text(1)?)?);
            }
        }
    }
    // Linked runs are not part of the trace info: MLflow keeps them as associations.
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

pub(crate) fn get_trace_info(c: &mut dyn Conn, trace_id: &str) -> Result<TraceInfo> {
    load_infos(c, &[trace_id.to_string()])?
        .pop()
        .ok_or_else(|| trace_not_found(trace_id))
}

fn load_spans(c: &mut dyn Conn, trace_id: &str) -> Result<Vec<Span>> {
    let mut spans: Vec<Span> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in c.query(
        "SELECT content FROM trace_spans WHERE trace_id = ? ORDER BY batch",
        &[trace_id.into()],
    )? {
        for span in decode_spans(r.blob(0)?)? {
            match index.get(&span.span_id) {
                Some(&i) => spans[i] = span,
                None => {
                    index.insert(span.span_id.clone(), spans.len());
                    spans.push(span);
                }
            }
        }
    }
    spans.sort_by_key(|s| s.start_time_unix_nano);
    Ok(spans)
}

pub(crate) fn get_traces(
    c: &mut dyn Conn,
    trace_ids: Vec<String>,
    with_spans: bool,
) -> Result<Vec<Trace>> {
    let infos = load_infos(c, &trace_ids)?;
    let mut out = Vec::with_capacity(infos.len());
    for info in infos {
        let spans = if with_spans {
            load_spans(c, &info.trace_id)?
        } else {
            Vec::new()
        };
        out.push(Trace { info, spans });
    }
    Ok(out)
}

fn kv_exists(
    table: &str,
    key: &str,
    cmp: Cmp,
    value: &Value,
    params: &mut Vec<SqlValue>,
) -> Result<String> {
    // Metadata values are indexed for the source run only (on SQLite, a partial index of
    // that key, which the statement must name as a literal to use): a trace carries a
    // dozen metadata keys, and indexing every value cost ingest about a third of the pages
    // it writes. A filter on another metadata key looks up each candidate trace's row.
    let source_run = table == "trace_metadata" && key == keys::SOURCE_RUN;
    let by_value = source_run || table != "trace_metadata";
    let key_sql = if source_run {
        format!("'{}'", keys::SOURCE_RUN)
    } else {
        params.push(key.into());
        "?".to_string()
    };
    match cmp {
        Cmp::IsNull => Ok(format!(
            "NOT EXISTS (SELECT 1 FROM {table} x WHERE x.trace_id = t.trace_id AND x.key = {key_sql})"
        )),
        _ if !by_value => {
            let cond = match cmp {
                Cmp::IsNotNull => String::new(),
                _ => format!(" AND {}", comparison_sql("x.value", cmp, value, params)?),
            };
            Ok(format!(
                "EXISTS (SELECT 1 FROM {table} x WHERE x.trace_id = t.trace_id AND x.key = {key_sql}{cond})"
            ))
        }
        Cmp::IsNotNull => Ok(format!(
            "t.trace_id IN (SELECT x.trace_id FROM {table} x WHERE x.key = {key_sql})"
        )),
        Cmp::Eq => {
            let Value::Str(v) = value else {
                return Err(MlflowError::invalid("a string value was expected"));
            };
            // The index holds a prefix of the value (200 characters). A shorter value
            // equals its prefix only when the whole value is equal, so the prefix test is the
            // whole test; a longer one needs the value compared too, written so that SQLite
            // does not fold `value = ?` into the prefix expression (its constant propagation
            // would then no longer match the index and read every row of the key).
            params.push(v.as_str().into());
            if v.chars().count() < 200 {
                Ok(format!(
                    "t.trace_id IN (SELECT x.trace_id FROM {table} x WHERE x.key = {key_sql} AND substr(x.value, 1, 200) = substr(?, 1, 200))"
                ))
            } else {
                params.push(v.as_str().into());
                Ok(format!(
                    "t.trace_id IN (SELECT x.trace_id FROM {table} x WHERE x.key = {key_sql} AND substr(x.value, 1, 200) = substr(?, 1, 200) AND (x.value || '') = ?)"
                ))
            }
        }
        _ => {
            let cond = comparison_sql("x.value", cmp, value, params)?;
            Ok(format!(
                "t.trace_id IN (SELECT x.trace_id FROM {table} x WHERE x.key = {key_sql} AND {cond})"
            ))
        }
    }
}

fn clause_sql(
    field: &TraceField,
    cmp: Cmp,
    value: &Value,
    params: &mut Vec<SqlValue>,
) -> Result<String> {
    let column = |c: &str, params: &mut Vec<SqlValue>| comparison_sql(c, cmp, value, params);
    match field {
        TraceField::RequestId => column("t.trace_id", params),
        TraceField::ClientRequestId => column("t.client_request_id", params),
        TraceField::ExperimentId => column("t.experiment_id", params),
        TraceField::TimestampMs => column("t.request_time", params),
        TraceField::ExecutionTimeMs => column("t.execution_duration", params),
        TraceField::EndTimeMs => column("(t.request_time + t.execution_duration)", params),
        TraceField::Status => column("t.state", params),
        TraceField::Tag(k) => kv_exists("trace_tags", k, cmp, value, params),
        TraceField::Metadata(k) => kv_exists("trace_metadata", k, cmp, value, params),
        TraceField::RunId => {
            let meta = kv_exists("trace_metadata", keys::SOURCE_RUN, cmp, value, params)?;
            if cmp == Cmp::Eq {
                let Value::Str(v) = value else {
                    return Err(MlflowError::invalid("a string value was expected"));
                };
                params.push(v.as_str().into());
                Ok(format!(
                    "({meta} OR t.trace_id IN (SELECT r.trace_id FROM trace_runs r WHERE r.run_id = ?))"
                ))
            } else {
                Ok(meta)
            }
        }
        TraceField::SpanName | TraceField::SpanType | TraceField::SpanStatus => {
            let col = match field {
                TraceField::SpanName => "s.name",
                TraceField::SpanType => "s.span_type",
                _ => "s.status",
            };
            let cond = comparison_sql(col, cmp, value, params)?;
            Ok(format!(
                "t.trace_id IN (SELECT s.trace_id FROM trace_span_names s WHERE {cond})"
            ))
        }
        TraceField::Feedback(name) | TraceField::Expectation(name) => {
            let kind = if matches!(field, TraceField::Feedback(_)) {
                "feedback"
            } else {
                "expectation"
            };
            params.push(name.as_str().into());
            params.push(kind.into());
            match cmp {
                Cmp::IsNull => Ok("NOT EXISTS (SELECT 1 FROM assessments a WHERE a.trace_id = t.trace_id AND a.name = ? AND a.kind = ? AND a.valid = 1)".into()),
                Cmp::IsNotNull => Ok("t.trace_id IN (SELECT a.trace_id FROM assessments a WHERE a.name = ? AND a.kind = ? AND a.valid = 1)".into()),
                _ => {
                    let cond = comparison_sql("a.value_text", cmp, value, params)?;
                    Ok(format!("t.trace_id IN (SELECT a.trace_id FROM assessments a WHERE a.name = ? AND a.kind = ? AND a.valid = 1 AND {cond})"))
                }
            }
        }
    }
}

fn order_expr(field: &TraceField, params: &mut Vec<SqlValue>) -> (String, bool) {
    match field {
        TraceField::RequestId => ("t.trace_id".into(), false),
        TraceField::ClientRequestId => ("t.client_request_id".into(), true),
        TraceField::ExperimentId => ("t.experiment_id".into(), false),
        TraceField::TimestampMs => ("t.request_time".into(), false),
        TraceField::ExecutionTimeMs => ("t.execution_duration".into(), true),
        TraceField::EndTimeMs => ("(t.request_time + t.execution_duration)".into(), true),
        TraceField::Status => ("t.state".into(), false),
        TraceField::RunId => {
            params.push(keys::SOURCE_RUN.into());
            (
                "(SELECT m.value FROM trace_metadata m WHERE m.trace_id = t.trace_id AND m.key = ?)".into(),
                true,
            )
        }
        TraceField::Metadata(k) => {
            params.push(k.as_str().into());
            (
                "(SELECT m.value FROM trace_metadata m WHERE m.trace_id = t.trace_id AND m.key = ?)".into(),
                true,
            )
        }
        // Span and assessment fields are not sortable (rejected by the parser); tags are.
        TraceField::Tag(k) | TraceField::Feedback(k) | TraceField::Expectation(k) => {
            params.push(k.as_str().into());
            (
                "(SELECT g.value FROM trace_tags g WHERE g.trace_id = t.trace_id AND g.key = ?)"
                    .into(),
                true,
            )
        }
        TraceField::SpanName | TraceField::SpanType | TraceField::SpanStatus => {
            ("t.trace_id".into(), false)
        }
    }
}

pub(crate) fn search_traces(c: &mut dyn Conn, req: SearchTracesRequest) -> Result<Page<TraceInfo>> {
    let max_results = req.max_results.unwrap_or(DEFAULT_MAX_RESULTS);
    if max_results <= 0 || max_results > MAX_RESULTS_LIMIT {
        return Err(MlflowError::invalid(format!(
            "Invalid value {max_results} for parameter 'max_results' supplied. It must be at most {MAX_RESULTS_LIMIT}"
        )));
    }
    let offset = page_token::decode(req.page_token.as_deref())?;
    let clauses = parse_trace_filter(&req.filter)?;
    let orders = parse_trace_order_by(&req.order_by)?;
    let mut experiment_ids = Vec::new();
    for id in &req.experiment_ids {
        experiment_ids.push(SqlValue::Int(id.trim().parse::<i64>().map_err(|_| {
            MlflowError::invalid(format!(
                "Invalid experiment ID '{id}'. Experiment ID must be a valid integer."
            ))
        })?));
    }
    if experiment_ids.is_empty() {
        return Ok(Page {
            items: vec![],
            next_page_token: None,
        });
    }
    let mut order_params = Vec::new();
    let mut order_sql = Vec::new();
    for o in &orders {
        let (expr, nullable) = order_expr(&o.field, &mut order_params);
        if nullable {
            order_sql.push(format!("({expr}) IS NULL"));
            // The expression is written twice: bind its parameters twice.
            let again: Vec<SqlValue> = order_params
                [order_params.len().saturating_sub(expr.matches('?').count())..]
                .to_vec();
            order_params.extend(again);
        }
        order_sql.push(format!(
            "{expr} {}",
            if o.ascending { "ASC" } else { "DESC" }
        ));
    }
    if !orders.iter().any(|o| o.field == TraceField::TimestampMs) {
        order_sql.push("t.request_time DESC".into());
    }
    if !orders.iter().any(|o| o.field == TraceField::RequestId) {
        order_sql.push("t.trace_id ASC".into());
    }
    let mut where_params = experiment_ids.clone();
    let mut conds = vec![format!(
        "t.experiment_id IN ({})",
        placeholders(experiment_ids.len())
    )];
    for clause in &clauses {
        conds.push(clause_sql(
            &clause.field,
            clause.cmp,
            &clause.value,
            &mut where_params,
        )?);
    }
    let sql = format!(
        "SELECT t.trace_id FROM traces t WHERE {} ORDER BY {} LIMIT ? OFFSET ?",
        conds.join(" AND "),
        order_sql.join(", ")
    );
    let mut params = where_params;
    params.extend(order_params);
    params.push(SqlValue::Int(max_results + 1));
    params.push(SqlValue::Int(offset as i64));
    let mut ids: Vec<String> = c
        .query_replanned(&sql, &params)?
        .iter()
        .map(|r| r.text(0))
        .collect::<Result<_, DbError>>()?;
    let next = page_token::finish_page(&mut ids, max_results, offset);
    Ok(Page {
        items: load_infos(c, &ids)?,
        next_page_token: next,
    })
}

pub(crate) fn set_trace_tag(
    c: &mut dyn Conn,
    trace_id: &str,
    key: &str,
    value: &str,
) -> Result<()> {
    validate_trace_tag(key, value)?;
    if !exists(c, trace_id)? {
        return Err(trace_not_found(trace_id));
    }
    upsert_kv(c, "trace_tags", trace_id, key, &truncate_value(value))
}

pub(crate) fn delete_trace_tag(c: &mut dyn Conn, trace_id: &str, key: &str) -> Result<()> {
    if !exists(c, trace_id)? {
        return Err(trace_not_found(trace_id));
    }
    let n = c.execute(
        "DELETE FROM trace_tags WHERE trace_id = ? AND key = ?",
        &[trace_id.into(), key.into()],
    )?;
    if n == 0 {
        return Err(MlflowError::not_found(format!(
            "No trace tag with key '{key}' for trace with ID '{trace_id}'"
        )));
    }
    Ok(())
}

/// Removes traces and everything kept with them.
pub(crate) fn remove_traces(c: &mut dyn Conn, ids: &[String]) -> Result<i64> {
    let mut deleted = 0;
    for chunk in ids.chunks(500) {
        let args: Vec<SqlValue> = chunk.iter().map(SqlValue::from).collect();
        let ph = placeholders(chunk.len());
        for table in [
            "trace_tags",
            "trace_metadata",
            "trace_spans",
            "trace_span_names",
            "trace_runs",
            "assessments",
        ] {
            c.execute(
                &format!("DELETE FROM {table} WHERE trace_id IN ({ph})"),
                &args,
            )?;
        }
        deleted += c.execute(
            &format!("DELETE FROM traces WHERE trace_id IN ({ph})"),
            &args,
        )? as i64;
    }
    Ok(deleted)
}

pub(crate) fn delete_traces(c: &mut dyn Conn, req: DeleteTraces) -> Result<i64> {
    let eid: i64 = req.experiment_id.trim().parse().map_err(|_| {
        MlflowError::invalid(format!(
            "Invalid experiment ID '{}'. Experiment ID must be a valid integer.",
            req.experiment_id
        ))
    })?;
    let by_ids = !req.trace_ids.is_empty();
    if by_ids && (req.max_timestamp_millis.is_some() || req.max_traces.is_some()) {
        return Err(MlflowError::invalid(
            "Only one of `max_timestamp_millis` and `trace_ids` can be specified.",
        ));
    }
    let ids: Vec<String> = if by_ids {
        let mut ids = Vec::new();
        for chunk in req.trace_ids.chunks(500) {
            let mut args: Vec<SqlValue> = vec![eid.into()];
            args.extend(chunk.iter().map(SqlValue::from));
            ids.extend(
                c.query(
                    &format!(
                        "SELECT trace_id FROM traces WHERE experiment_id = ? AND trace_id IN ({})",
                        placeholders(chunk.len())
                    ),
                    &args,
                )?
                .iter()
                .map(|r| r.text(0))
                .collect::<Result<Vec<_>, DbError>>()?,
            );
        }
        ids
    } else {
        let Some(max_ts) = req.max_timestamp_millis else {
            return Err(MlflowError::invalid(
                "Either `max_timestamp_millis` or `trace_ids` must be specified.",
            ));
        };
        if let Some(n) = req.max_traces {
            if n <= 0 {
                return Err(MlflowError::invalid(
                    "`max_traces` must be a positive integer, received 0."
                        .replace("0.", &format!("{n}.")),
                ));
            }
        }
        let limit = req.max_traces.unwrap_or(i64::MAX);
        c.query(
            "SELECT trace_id FROM traces WHERE experiment_id = ? AND request_time <= ? ORDER BY request_time, trace_id LIMIT ?",
            &[eid.into(), max_ts.into(), limit.into()],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect::<Result<_, DbError>>()?
    };
    remove_traces(c, &ids)
}

pub(crate) fn link_traces_to_run(
    c: &mut dyn Conn,
    trace_ids: Vec<String>,
    run_id: &str,
) -> Result<()> {
    if trace_ids.len() > 100 {
        return Err(MlflowError::invalid(format!(
            "Cannot link more than 100 traces to a run in a single request. Provided {} traces.",
            trace_ids.len()
        )));
    }
    get_run(c, run_id)?;
    for id in &trace_ids {
        if !exists(c, id)? {
            return Err(trace_not_found(id));
        }
        c.execute(
            "INSERT INTO trace_runs (run_id, trace_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            &[run_id.into(), id.as_str().into()],
        )?;
    }
    Ok(())
}

/// Traces of the experiment (for permanent deletion of an experiment).
pub(crate) fn experiment_trace_ids(c: &mut dyn Conn, experiment_id: i64) -> Result<Vec<String>> {
    Ok(c.query(
        "SELECT trace_id FROM traces WHERE experiment_id = ?",
        &[experiment_id.into()],
    )?
    .iter()
    .map(|r| r.text(0))
    .collect::<Result<_, DbError>>()?)
}

// ---- assessments -------------------------------------------------------------------------

/// Deleting a run deletes the assessments it produced (those whose metadata names it as
/// `mlflow.assessment.sourceRunId`, as `mlflow.genai.evaluate` writes), as MLflow's
/// `delete_run` does; the traces themselves stay. Run ids are hex digits, so the pattern
/// holds no LIKE wildcards.
pub(crate) fn delete_run_assessments(c: &mut dyn Conn, run_id: &str) -> Result<()> {
    if !run_id
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
    {
        return Ok(());
    }
    let key = serde_json::to_string(keys::ASSESSMENT_SOURCE_RUN_ID)
        .map_err(|e| MlflowError::internal(e.to_string()))?;
    c.execute(
        "DELETE FROM assessments WHERE content LIKE ?",
        &[format!("%{key}:\"{run_id}\"%").into()],
    )?;
    Ok(())
}

fn parse_assessment(content: &str) -> Result<Assessment> {
    serde_json::from_str(content)
        .map_err(|e| MlflowError::internal(format!("corrupt assessment: {e}")))
}

fn assessment_not_found(trace_id: &str, assessment_id: &str) -> MlflowError {
    MlflowError::not_found(format!(
        "Assessment with ID '{assessment_id}' not found for trace '{trace_id}'"
    ))
}

/// The comparable text of an assessment's value (`feedback.<name> = '…'` filters).
fn value_text(a: &Assessment) -> Option<String> {
    let raw = a
        .feedback
        .as_ref()
        .and_then(|f| f.get("value"))
        .or_else(|| a.expectation.as_ref().and_then(|e| e.get("value")))
        .or_else(|| {
            a.expectation
                .as_ref()
                .and_then(|e| e.get("serialized_value"))
                .and_then(|s| s.get("value"))
        })?;
    Some(match raw {
        serde_json::Value::String(s) => s.clone(),
        other => python_json(other),
    })
}

pub(crate) fn write_assessment(c: &mut dyn Conn, a: &Assessment, insert: bool) -> Result<()> {
    let content = serde_json::to_string(a).map_err(|e| MlflowError::internal(e.to_string()))?;
    let kind = if a.expectation.is_some() {
        "expectation"
    } else {
        "feedback"
    };
    let args = [
        a.trace_id.as_str().into(),
        a.name.as_str().into(),
        kind.into(),
        SqlValue::Int(a.valid as i64),
        value_text(a).into(),
        a.create_time_ms.into(),
        content.into(),
        a.assessment_id.as_str().into(),
    ];
    if insert {
        c.execute(
            "INSERT INTO assessments (trace_id, name, kind, valid, value_text, create_time, content, assessment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &args,
        )?;
    } else {
        c.execute(
            "UPDATE assessments SET trace_id = ?, name = ?, kind = ?, valid = ?, value_text = ?, create_time = ?, content = ? WHERE assessment_id = ?",
            &args,
        )?;
    }
    Ok(())
}

fn load_assessment(c: &mut dyn Conn, trace_id: &str, assessment_id: &str) -> Result<Assessment> {
    let row = c
        .query_opt(
            "SELECT content FROM assessments WHERE assessment_id = ? AND trace_id = ?",
            &[assessment_id.into(), trace_id.into()],
        )?
        .ok_or_else(|| assessment_not_found(trace_id, assessment_id))?;
    parse_assessment(&row.text(0)?)
}

fn insert_assessment(c: &mut dyn Conn, a: &mut Assessment) -> Result<()> {
    if a.assessment_id.is_empty() {
        // Time-ordered (UUIDv7, monotonic within the process), so that assessments made
        // in the same millisecond still list in the order they were made.
        a.assessment_id = format!("a-{}", uuid::Uuid::now_v7().simple());
    }
    let now = now_ms();
    if a.create_time_ms == 0 {
        a.create_time_ms = now;
    }
    if a.last_update_time_ms == 0 {
        a.last_update_time_ms = a.create_time_ms;
    }
    if let Some(old) = a.overrides.clone() {
        let mut previous = load_assessment(c, &a.trace_id, &old)?;
        previous.valid = false;
        write_assessment(c, &previous, false)?;
    }
    write_assessment(c, a, true)
}

pub(crate) fn create_assessment(c: &mut dyn Conn, mut a: Assessment) -> Result<Assessment> {
    if a.name.is_empty() {
        return Err(MlflowError::invalid(
            "Missing value for required parameter 'assessment_name'.",
        ));
    }
    if a.feedback.is_none() && a.expectation.is_none() {
        return Err(MlflowError::invalid(
            "Exactly one of `expectation` or `feedback` should be specified.",
        ));
    }
    if !exists(c, &a.trace_id)? {
        return Err(trace_not_found(&a.trace_id));
    }
    insert_assessment(c, &mut a)?;
    Ok(a)
}

pub(crate) fn get_assessment(
    c: &mut dyn Conn,
    trace_id: &str,
    assessment_id: &str,
) -> Result<Assessment> {
    if !exists(c, trace_id)? {
        return Err(trace_not_found(trace_id));
    }
    load_assessment(c, trace_id, assessment_id)
}

pub(crate) fn update_assessment(
    c: &mut dyn Conn,
    trace_id: &str,
    assessment_id: &str,
    u: AssessmentUpdate,
) -> Result<Assessment> {
    let mut a = get_assessment(c, trace_id, assessment_id)?;
    if u.feedback.is_some() && a.expectation.is_some() {
        return Err(MlflowError::invalid(
            "Cannot update expectation value with a Feedback value.",
        ));
    }
    if u.expectation.is_some() && a.feedback.is_some() {
        return Err(MlflowError::invalid(
            "Cannot update feedback value with an Expectation value.",
        ));
    }
    if let Some(name) = u.name {
        a.name = name;
    }
    if let Some(f) = u.feedback {
        a.feedback = Some(f);
    }
    if let Some(e) = u.expectation {
        a.expectation = Some(e);
    }
    if let Some(r) = u.rationale {
        a.rationale = Some(r);
    }
    if let Some(m) = u.metadata {
        a.metadata.extend(m);
    }
    if let Some(v) = u.valid {
        a.valid = v;
    }
    a.last_update_time_ms = now_ms();
    write_assessment(c, &a, false)?;
    Ok(a)
}

pub(crate) fn delete_assessment(
    c: &mut dyn Conn,
    trace_id: &str,
    assessment_id: &str,
) -> Result<()> {
    if !exists(c, trace_id)? {
        return Err(trace_not_found(trace_id));
    }
    let Some(row) = c.query_opt(
        "SELECT content FROM assessments WHERE assessment_id = ? AND trace_id = ?",
        &[assessment_id.into(), trace_id.into()],
    )?
    else {
        // MLflow treats deleting a missing assessment as done.
        return Ok(());
    };
    let a = parse_assessment(&row.text(0)?)?;
    c.execute(
        "DELETE FROM assessments WHERE assessment_id = ?",
        &[assessment_id.into()],
    )?;
    // The assessment it replaced is valid again.
    if let Some(old) = a.overrides {
        if let Ok(mut previous) = load_assessment(c, trace_id, &old) {
            previous.valid = true;
            write_assessment(c, &previous, false)?;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl TraceStore for crate::SqlStore {
    async fn log_spans(&self, experiment_id: &str, spans: Vec<Span>) -> Result<()> {
        let id = experiment_id.to_string();
        let batches = prepare_span_batches(spans)?;
        self.db
            .write(move |c| store_span_batches(c, &id, batches))
            .await
    }
    async fn start_trace(&self, info: TraceInfo) -> Result<TraceInfo> {
        self.db.write(move |c| start_trace(c, info)).await
    }
    async fn get_trace_info(&self, trace_id: &str) -> Result<TraceInfo> {
        let id = trace_id.to_string();
        self.db.read(move |c| get_trace_info(c, &id)).await
    }
    async fn get_traces(&self, trace_ids: Vec<String>, with_spans: bool) -> Result<Vec<Trace>> {
        self.db
            .read(move |c| get_traces(c, trace_ids, with_spans))
            .await
    }
    async fn search_traces(&self, req: SearchTracesRequest) -> Result<Page<TraceInfo>> {
        self.db.read(move |c| search_traces(c, req)).await
    }
    async fn set_trace_tag(&self, trace_id: &str, key: String, value: String) -> Result<()> {
        let id = trace_id.to_string();
        self.db
            .write(move |c| set_trace_tag(c, &id, &key, &value))
            .await
    }
    async fn delete_trace_tag(&self, trace_id: &str, key: &str) -> Result<()> {
        let (id, key) = (trace_id.to_string(), key.to_string());
        self.db.write(move |c| delete_trace_tag(c, &id, &key)).await
    }
    async fn delete_traces(&self, req: DeleteTraces) -> Result<i64> {
        self.db.write(move |c| delete_traces(c, req)).await
    }
    async fn link_traces_to_run(&self, trace_ids: Vec<String>, run_id: &str) -> Result<()> {
        let id = run_id.to_string();
        self.db
            .write(move |c| link_traces_to_run(c, trace_ids, &id))
            .await
    }
    async fn create_assessment(&self, assessment: Assessment) -> Result<Assessment> {
        self.db
            .write(move |c| create_assessment(c, assessment))
            .await
    }
    async fn get_assessment(&self, trace_id: &str, assessment_id: &str) -> Result<Assessment> {
        let (t, a) = (trace_id.to_string(), assessment_id.to_string());
        self.db.read(move |c| get_assessment(c, &t, &a)).await
    }
    async fn update_assessment(
        &self,
        trace_id: &str,
        assessment_id: &str,
        update: AssessmentUpdate,
    ) -> Result<Assessment> {
        let (t, a) = (trace_id.to_string(), assessment_id.to_string());
        self.db
            .write(move |c| update_assessment(c, &t, &a, update))
            .await
    }
    async fn delete_assessment(&self, trace_id: &str, assessment_id: &str) -> Result<()> {
        let (t, a) = (trace_id.to_string(), assessment_id.to_string());
        self.db.write(move |c| delete_assessment(c, &t, &a)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn gzip_members_decode_and_the_compressor_is_reused_cleanly() {
        let mut big = Vec::new();
        let mut x: u64 = 1;
        while big.len() < 1 << 20 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            big.extend_from_slice(
                format!("{{\"span\":{},\"v\":\"{}\"}}", x % 977, x >> 40).as_bytes(),
            );
        }
        for data in [&b""[..], b"{}", &big, b"again, after a large one"] {
            let first = gzip(data).unwrap();
            assert_eq!(gunzip(&first), data);
            // The same bytes from the reset compressor.
            assert_eq!(gzip(data).unwrap(), first);
        }
        // A member written by flate2's own encoder decodes the same way.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"stored before").unwrap();
        assert_eq!(gunzip(&enc.finish().unwrap()), b"stored before");
    }
}
