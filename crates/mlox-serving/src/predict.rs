//! `mlox models predict`: scores a file in chunks through the same path as the server
//! (`/invocations` bodies), with a progress bar on stderr, and writes
//! `{"predictions": [...]}` (or CSV when the output file ends in `.csv`).
//!
//! CSV is streamed record by record and sent in `dataframe_split` chunks; a JSON document is read whole and scored in chunks of
//! rows; Parquet is read by a helper run on the local Python with pyarrow (mlox has no
//! Parquet reader of its own: the `parquet`/`arrow` crates would double the build), which
//! streams row groups as JSON `dataframe_split` chunks, so native ONNX models score Parquet
//! too without Python in the scoring path.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Map, Value};

use crate::error::{Result, ServeError};
use crate::server::LoadedModel;

pub struct PredictOptions {
    pub input: Option<PathBuf>,
    pub output: Option<PathBuf>,
    /// json, csv or parquet.
    pub content_type: Option<String>,
    pub chunk_rows: usize,
}

const PARQUET_READER: &str = r#"
import json, sys
try:
    import pyarrow.parquet as pq
except ImportError:
    sys.stderr.write("mlox: reading Parquet needs pyarrow in this Python: pip install pyarrow\n")
    sys.exit(3)
f = pq.ParquetFile(sys.argv[1])
out = sys.stdout
for batch in f.iter_batches(batch_size=int(sys.argv[2])):
    out.write(batch.to_pandas().to_json(orient="split", index=False, double_precision=15) + "\n")
out.flush()
"#;

/// Accumulated predictions across chunks.
enum Sink {
    Empty,
    List(Vec<Value>),
    Dict(Map<String, Value>),
}

impl Sink {
    fn add(&mut self, preds: Value) -> Result<()> {
        let mismatch = || {
            ServeError::BadRequest(
                "predictions of chunks have different shapes; use a larger --chunk-rows"
                    .to_string(),
            )
        };
        match (std::mem::replace(self, Sink::Empty), preds) {
            (Sink::Empty, Value::Array(a)) => *self = Sink::List(a),
            (Sink::Empty, Value::Object(o)) => *self = Sink::Dict(o),
            (Sink::List(mut l), Value::Array(a)) => {
                l.extend(a);
                *self = Sink::List(l);
            }
            (Sink::Dict(mut d), Value::Object(o)) => {
                for (k, v) in o {
                    match (d.get_mut(&k), v) {
                        (Some(Value::Array(have)), Value::Array(more)) => have.extend(more),
                        _ => return Err(mismatch()),
                    }
                }
                *self = Sink::Dict(d);
            }
            (Sink::Empty, other) => *self = Sink::List(vec![other]),
            _ => return Err(mismatch()),
        }
        Ok(())
    }

    fn into_value(self) -> Value {
        match self {
            Sink::Empty => Value::Array(Vec::new()),
            Sink::List(l) => Value::Array(l),
            Sink::Dict(d) => Value::Object(d),
        }
    }
}

async fn score(model: &Arc<LoadedModel>, ct: &str, body: Vec<u8>) -> Result<Value> {
    let r = model.invoke(Some(ct), Bytes::from(body)).await;
    let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    if r.status != 200 {
        let code = v["error_code"].as_str().unwrap_or("INTERNAL_ERROR");
        let msg = v["message"].as_str().map_or(r.body.clone(), str::to_string);
        return Err(ServeError::Model {
            code: crate::error::code_from_name(code),
            message: msg,
        });
    }
    Ok(v.get("predictions").cloned().unwrap_or(v))
}

/// The byte progress bar's template (indicatif 0.18 syntax; pinned by a test, since a
/// template that does not parse would silently fall back to the default bar).
const BAR_TEMPLATE: &str = "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}";

fn bar(len: Option<u64>, what: &str) -> ProgressBar {
    let pb = match len {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(BAR_TEMPLATE)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner(),
    };
    pb.set_message(what.to_string());
    pb
}

/// Scores the input and writes the output.
pub async fn run(model: Arc<LoadedModel>, opts: PredictOptions) -> Result<()> {
    let kind = opts
        .content_type
        .clone()
        .or_else(|| {
            let ext = opts
                .input
                .as_ref()?
                .extension()?
                .to_str()?
                .to_ascii_lowercase();
            match ext.as_str() {
                "csv" => Some("csv".to_string()),
                "parquet" | "pq" => Some("parquet".to_string()),
                _ => None,
            }
        })
        .unwrap_or_else(|| "json".to_string());
    let mut sink = Sink::Empty;
    match kind.as_str() {
        "csv" => {
            let (reader, len): (Box<dyn std::io::Read + Send>, Option<u64>) = match &opts.input {
                Some(p) => {
                    let f = std::fs::File::open(p)
                        .map_err(ServeError::io(format!("opening {}", p.display())))?;
                    let len = f.metadata().ok().map(|m| m.len());
                    (Box::new(f), len)
                }
                None => (Box::new(std::io::stdin()), None),
            };
            let pb = bar(len, "scoring");
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(true)
                .from_reader(std::io::BufReader::with_capacity(1 << 20, reader));
            let header = rdr
                .headers()
                .map_err(|e| ServeError::BadRequest(format!("bad CSV header: {e}")))?
                .clone();
            let mut records = rdr.records();
            let columns: Vec<Value> = header
                .iter()
                .map(|h| Value::String(h.to_string()))
                .collect();
            loop {
                // Chunks go as `dataframe_split` JSON (cells typed as pandas' read_csv
                // would), which also suits models with a tensor signature.
                let mut data = Vec::new();
                let mut bytes = 0u64;
                for rec in records.by_ref() {
                    let rec = rec.map_err(|e| ServeError::BadRequest(format!("bad CSV: {e}")))?;
                    bytes += rec.as_slice().len() as u64 + rec.len() as u64;
                    data.push(Value::Array(
                        rec.iter().map(crate::request::csv_cell).collect(),
                    ));
                    if data.len() == opts.chunk_rows {
                        break;
                    }
                }
                if data.is_empty() {
                    break;
                }
                let body = json!({"dataframe_split": {"columns": columns, "data": data}})
                    .to_string()
                    .into_bytes();
                pb.inc(bytes);
                sink.add(score(&model, "application/json", body).await?)?;
            }
            pb.finish_and_clear();
        }
        "json" => {
            let text = match &opts.input {
                Some(p) => {
                    std::fs::read(p).map_err(ServeError::io(format!("reading {}", p.display())))?
                }
                None => {
                    let mut buf = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                        .map_err(ServeError::io("reading stdin"))?;
                    buf
                }
            };
            let req = crate::request::parse_json(&text)?;
            let chunks = json_chunks(&req, opts.chunk_rows);
            let pb = bar(Some(text.len() as u64), "scoring");
            let per = text.len() as u64 / chunks.len().max(1) as u64;
            for body in chunks {
                sink.add(score(&model, "application/json", body).await?)?;
                pb.inc(per);
            }
            pb.finish_and_clear();
        }
        "parquet" => {
            let input = opts.input.clone().ok_or_else(|| {
                ServeError::BadRequest("Parquet input must be a file (-i)".to_string())
            })?;
            let python = crate::env::local_python()?;
            let mut child = tokio::process::Command::new(python)
                .arg("-c")
                .arg(PARQUET_READER)
                .arg(&input)
                .arg(opts.chunk_rows.to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .map_err(ServeError::io("starting the Parquet reader"))?;
            let stdout = child
                .stdout
                .take()
                .ok_or_else(|| ServeError::Worker("no stdout".into()))?;
            let pb = bar(None, "scoring parquet");
            let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
            let mut rows = 0usize;
            while let Some(line) = lines
                .next_line()
                .await
                .map_err(ServeError::io("reading the Parquet reader"))?
            {
                let split: Value = serde_json::from_str(&line)
                    .map_err(|e| ServeError::BadRequest(e.to_string()))?;
                rows += split["data"].as_array().map_or(0, Vec::len);
                let body = json!({"dataframe_split": split}).to_string().into_bytes();
                sink.add(score(&model, "application/json", body).await?)?;
                pb.set_message(format!("scoring parquet: {rows} rows"));
                pb.tick();
            }
            pb.finish_and_clear();
            let status = child
                .wait()
                .await
                .map_err(ServeError::io("waiting for the Parquet reader"))?;
            if !status.success() {
                return Err(ServeError::BadRequest(format!(
                    "reading {} failed ({status})",
                    input.display()
                )));
            }
        }
        other => {
            return Err(ServeError::BadRequest(format!(
                "unknown content type '{other}': use json, csv or parquet"
            )))
        }
    }
    write_output(sink.into_value(), opts.output.as_deref())
}

/// Splits a JSON request into bodies of at most `n` rows (when its data is row-shaped).
fn json_chunks(req: &crate::request::JsonRequest, n: usize) -> Vec<Vec<u8>> {
    let params = req.params.clone().map(Value::Object);
    let wrap = |data: Value| {
        let mut o = Map::new();
        o.insert(req.format.to_string(), data);
        if let Some(p) = &params {
            o.insert("params".to_string(), p.clone());
        }
        Value::Object(o).to_string().into_bytes()
    };
    match (&req.data, req.format) {
        (Value::Object(o), "dataframe_split")
            if o.get("data").is_some_and(Value::is_array) && !o.contains_key("index") =>
        {
            let rows = o["data"].as_array().cloned().unwrap_or_default();
            rows.chunks(n.max(1))
                .map(|c| {
                    let mut part = o.clone();
                    part.insert("data".to_string(), Value::Array(c.to_vec()));
                    wrap(Value::Object(part))
                })
                .collect()
        }
        (Value::Array(rows), _) if !rows.is_empty() => rows
            .chunks(n.max(1))
            .map(|c| wrap(Value::Array(c.to_vec())))
            .collect(),
        (data, _) => vec![wrap(data.clone())],
    }
}

fn write_output(preds: Value, out: Option<&std::path::Path>) -> Result<()> {
    let csv = out
        .and_then(|p| p.extension())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let text = if csv {
        to_csv(&preds)?
    } else {
        json!({ "predictions": preds }).to_string()
    };
    match out {
        Some(p) => {
            std::fs::write(p, text).map_err(ServeError::io(format!("writing {}", p.display())))
        }
        None => {
            let mut o = std::io::stdout();
            o.write_all(text.as_bytes())
                .and_then(|_| o.write_all(b"\n"))
                .map_err(ServeError::io("writing stdout"))
        }
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn to_csv(preds: &Value) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| ServeError::BadRequest(e.to_string());
    match preds {
        Value::Object(cols) => {
            let names: Vec<&String> = cols.keys().collect();
            w.write_record(&names).map_err(err)?;
            let n = cols
                .values()
                .filter_map(Value::as_array)
                .map(Vec::len)
                .max()
                .unwrap_or(0);
            for i in 0..n {
                let row: Vec<String> = names
                    .iter()
                    .map(|k| cols[*k].get(i).map(cell).unwrap_or_default())
                    .collect();
                w.write_record(&row).map_err(err)?;
            }
        }
        Value::Array(rows) if rows.iter().all(Value::is_object) && !rows.is_empty() => {
            let names: Vec<String> = rows[0]
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            w.write_record(&names).map_err(err)?;
            for r in rows {
                let row: Vec<String> = names
                    .iter()
                    .map(|k| r.get(k).map(cell).unwrap_or_default())
                    .collect();
                w.write_record(&row).map_err(err)?;
            }
        }
        Value::Array(rows) => {
            w.write_record(["predictions"]).map_err(err)?;
            for r in rows {
                w.write_record([cell(r)]).map_err(err)?;
            }
        }
        other => {
            w.write_record(["predictions"]).map_err(err)?;
            w.write_record([cell(other)]).map_err(err)?;
        }
    }
    String::from_utf8(
        w.into_inner()
            .map_err(|e| ServeError::BadRequest(e.to_string()))?,
    )
    .map_err(|e| ServeError::BadRequest(e.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn progress_template_parses() {
        indicatif::ProgressStyle::with_template(super::BAR_TEMPLATE).unwrap();
    }

    use super::*;

    #[test]
    fn json_inputs_are_chunked_by_rows() {
        let req = crate::request::parse_json(
            br#"{"dataframe_split": {"columns": ["a"], "data": [[1], [2], [3]]}}"#,
        )
        .unwrap();
        let chunks = json_chunks(&req, 2);
        assert_eq!(chunks.len(), 2);
        let last: Value = serde_json::from_slice(&chunks[1]).unwrap();
        assert_eq!(
            last,
            json!({"dataframe_split": {"columns": ["a"], "data": [[3]]}})
        );
        let req = crate::request::parse_json(br#"{"inputs": {"a": [1, 2]}}"#).unwrap();
        assert_eq!(json_chunks(&req, 1).len(), 1);
    }

    #[test]
    fn chunks_concatenate() {
        let mut s = Sink::Empty;
        s.add(json!([1, 2])).unwrap();
        s.add(json!([3])).unwrap();
        assert_eq!(s.into_value(), json!([1, 2, 3]));
        let mut d = Sink::Empty;
        d.add(json!({"l": [1], "p": [[0.5]]})).unwrap();
        d.add(json!({"l": [0], "p": [[0.25]]})).unwrap();
        assert_eq!(d.into_value(), json!({"l": [1, 0], "p": [[0.5], [0.25]]}));
        assert_eq!(to_csv(&json!([1, 0])).unwrap(), "predictions\n1\n0\n");
    }
}
