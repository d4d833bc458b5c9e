//! Batching: which requests merge, the body of a merged request, and its predictions
//! split back per request.

use serde_json::{json, Map, Value};

use crate::request::{parse_csv, parse_json, ContentType};

/// How a request can be merged with others.
#[derive(Debug, Clone)]
pub(super) struct Merge {
    /// Requests merge only with equal keys.
    pub(super) key: String,
    pub(super) rows: usize,
    data: MergeData,
}

#[derive(Debug, Clone)]
enum MergeData {
    /// A JSON format whose value is a list of rows (`columns` for dataframe_split).
    Json {
        format: &'static str,
        columns: Option<Value>,
        params: Option<Map<String, Value>>,
        rows: Vec<Value>,
    },
    /// CSV lines after the header.
    Csv { header: String, lines: String },
}

/// Bodies larger than this are scored alone without being parsed here.
const MERGE_MAX_BYTES: usize = 256 * 1024;

pub(super) fn merge_info(ct: ContentType, body: &[u8]) -> Option<Merge> {
    if body.len() > MERGE_MAX_BYTES {
        return None;
    }
    match ct {
        ContentType::Json => {
            let req = parse_json(body).ok()?;
            let (columns, rows) = match (req.format, req.data) {
                ("dataframe_split", Value::Object(mut o)) => {
                    if o.keys().any(|k| k != "columns" && k != "data") {
                        return None;
                    }
                    let Some(Value::Array(rows)) = o.remove("data") else {
                        return None;
                    };
                    (Some(o.remove("columns").unwrap_or(Value::Null)), rows)
                }
                ("dataframe_split", _) => return None,
                (_, Value::Array(rows)) if !rows.is_empty() => (None, rows),
                _ => return None,
            };
            let key = format!(
                "json|{}|{}|{}",
                req.format,
                columns.as_ref().map(Value::to_string).unwrap_or_default(),
                req.params
                    .as_ref()
                    .map(|p| Value::Object(p.clone()).to_string())
                    .unwrap_or_default()
            );
            Some(Merge {
                key,
                rows: rows.len(),
                data: MergeData::Json {
                    format: req.format,
                    columns,
                    params: req.params,
                    rows,
                },
            })
        }
        ContentType::Csv => {
            let text = std::str::from_utf8(body).ok()?;
            // Only simple CSV (no quoted newlines) is merged: one record per line.
            if text.contains('"') {
                return None;
            }
            let table = parse_csv(body).ok()?;
            let (header, rest) = text.split_once('\n')?;
            let mut lines = rest.trim_end_matches(['\n', '\r']).to_string();
            lines.push('\n');
            Some(Merge {
                key: format!("csv|{}", header.trim_end_matches('\r')),
                rows: table.rows.len(),
                data: MergeData::Csv {
                    header: header.trim_end_matches('\r').to_string(),
                    lines,
                },
            })
        }
        ContentType::Parquet => None,
    }
}

/// The body of a merged request.
pub(super) fn merged_body(merges: &[&Merge]) -> (String, Vec<u8>) {
    match &merges[0].data {
        MergeData::Json {
            format,
            columns,
            params,
            ..
        } => {
            let mut all = Vec::new();
            for m in merges {
                if let MergeData::Json { rows, .. } = &m.data {
                    all.extend(rows.iter().cloned());
                }
            }
            let data = match columns {
                Some(c) if !c.is_null() => json!({"columns": c, "data": all}),
                Some(_) => json!({"data": all}),
                None => Value::Array(all),
            };
            let mut obj = Map::new();
            obj.insert(format.to_string(), data);
            if let Some(p) = params {
                obj.insert("params".to_string(), Value::Object(p.clone()));
            }
            (
                "application/json".to_string(),
                Value::Object(obj).to_string().into_bytes(),
            )
        }
        MergeData::Csv { header, .. } => {
            let mut text = format!("{header}\n");
            for m in merges {
                if let MergeData::Csv { lines, .. } = &m.data {
                    text.push_str(lines);
                }
            }
            ("text/csv".to_string(), text.into_bytes())
        }
    }
}

/// Splits `{"predictions": X}` of a merged call into one body per request, when X is a
/// list with one item per row (or a dict of such lists).
pub(super) fn split_predictions(body: &str, rows: &[usize]) -> Option<Vec<String>> {
    let total: usize = rows.iter().sum();
    let v: Value = serde_json::from_str(body).ok()?;
    let obj = v.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let preds = obj.get("predictions")?;
    let cut = |list: &Vec<Value>| -> Option<Vec<Value>> {
        if list.len() != total {
            return None;
        }
        let mut out = Vec::new();
        let mut at = 0;
        for n in rows {
            out.push(Value::Array(list[at..at + n].to_vec()));
            at += n;
        }
        Some(out)
    };
    let parts: Vec<Value> = match preds {
        Value::Array(list) => cut(list)?,
        Value::Object(m) => {
            let mut per: Vec<Map<String, Value>> = vec![Map::new(); rows.len()];
            for (k, list) in m {
                let pieces = cut(list.as_array()?)?;
                for (slot, piece) in per.iter_mut().zip(pieces) {
                    slot.insert(k.clone(), piece);
                }
            }
            per.into_iter().map(Value::Object).collect()
        }
        _ => return None,
    };
    Some(
        parts
            .into_iter()
            .map(|p| json!({ "predictions": p }).to_string())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_same_shape_requests_and_splits_predictions() {
        let a = merge_info(
            ContentType::Json,
            br#"{"dataframe_split": {"columns": ["a"], "data": [[1], [2]]}}"#,
        )
        .unwrap();
        let b = merge_info(
            ContentType::Json,
            br#"{"dataframe_split": {"columns": ["a"], "data": [[3]]}}"#,
        )
        .unwrap();
        let c = merge_info(
            ContentType::Json,
            br#"{"dataframe_split": {"columns": ["b"], "data": [[3]]}}"#,
        )
        .unwrap();
        assert_eq!(a.key, b.key);
        assert_ne!(a.key, c.key);
        let (_, body) = merged_body(&[&a, &b]);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"dataframe_split": {"columns": ["a"], "data": [[1], [2], [3]]}})
        );
        assert_eq!(
            split_predictions(r#"{"predictions": [0, 1, 1]}"#, &[2, 1]).unwrap(),
            [r#"{"predictions":[0,1]}"#, r#"{"predictions":[1]}"#]
        );
        let dict = split_predictions(
            r#"{"predictions": {"l": [0, 1, 1], "p": [[1], [2], [3]]}}"#,
            &[1, 2],
        )
        .unwrap();
        assert_eq!(dict[1], r#"{"predictions":{"l":[1,1],"p":[[2],[3]]}}"#);
        // Not one prediction per row: not splittable.
        assert!(split_predictions(r#"{"predictions": [0, 1]}"#, &[2, 1]).is_none());
        assert!(split_predictions(r#"{"predictions": 3}"#, &[1]).is_none());
    }

    #[test]
    fn params_and_csv_headers_are_part_of_the_key() {
        let p1 = merge_info(
            ContentType::Json,
            br#"{"inputs": [[1]], "params": {"k": 1}}"#,
        )
        .unwrap();
        let p2 = merge_info(
            ContentType::Json,
            br#"{"inputs": [[1]], "params": {"k": 2}}"#,
        )
        .unwrap();
        assert_ne!(p1.key, p2.key);
        let c1 = merge_info(ContentType::Csv, b"a,b\n1,2\n3,4\n").unwrap();
        let c2 = merge_info(ContentType::Csv, b"a,b\n5,6").unwrap();
        assert_eq!(c1.rows, 2);
        let (_, body) = merged_body(&[&c1, &c2]);
        assert_eq!(String::from_utf8(body).unwrap(), "a,b\n1,2\n3,4\n5,6\n");
        assert!(merge_info(ContentType::Json, br#"{"inputs": {"a": [1]}}"#).is_none());
        assert!(merge_info(ContentType::Json, b"{bad").is_none());
    }
}
