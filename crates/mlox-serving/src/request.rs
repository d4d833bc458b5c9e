//! The body of `POST /invocations` (mlflow/pyfunc/scoring_server): its content type, the
//! JSON envelope with exactly one of `dataframe_split`, `dataframe_records`, `instances`,
//! `inputs` (plus `params`), and CSV. Parsing here is shared by both back ends; turning
//! the data into tensors is [`crate::data`]'s job.

use serde_json::{Map, Value};

use crate::error::{Result, ServeError};

pub const FORMATS: [&str; 4] = [
    "dataframe_split",
    "dataframe_records",
    "instances",
    "inputs",
];

const REQUIRED_INPUT_FORMAT: &str = "The input must be a JSON dictionary with exactly one of the input fields {'dataframe_split', 'dataframe_records', 'instances', 'inputs'}";
const SCORING_PROTOCOL_CHANGE_INFO: &str = "IMPORTANT: The MLflow Model scoring protocol has changed in MLflow version 2.0. If you are seeing this error, you are likely using an outdated scoring request format. To resolve the error, either update your request format or adjust your MLflow Model's requirements file to specify an older version of MLflow (for example, change the 'mlflow' requirement specifier to 'mlflow==1.30.0'). If you are making a request using the MLflow client (e.g. via `mlflow.pyfunc.spark_udf()`), upgrade your MLflow client to a version >= 2.0 in order to use the new request format. For more information about the updated MLflow Model scoring protocol in MLflow 2.0, see https://mlflow.org/docs/latest/models.html#deploy-mlflow-models.";

/// The media types `/invocations` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentType {
    Json,
    Csv,
    Parquet,
}

/// A content-type problem: MLflow answers these with 415 and a plain-text body.
#[derive(Debug, PartialEq, Eq)]
pub struct Unsupported(pub String);

/// Checks `Content-Type` as MLflow does: only `charset=utf-8` may follow the media type.
pub fn content_type(header: Option<&str>) -> std::result::Result<ContentType, Unsupported> {
    let header = header.unwrap_or("");
    let mut parts = header.split(';').map(str::trim);
    let mime = parts.next().unwrap_or("");
    let mut unexpected = Vec::new();
    for p in parts {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        if k == "charset" {
            if !v.eq_ignore_ascii_case("utf-8") {
                return Err(Unsupported(
                    "The scoring server only supports UTF-8".to_string(),
                ));
            }
        } else {
            unexpected.push(k.to_string());
        }
    }
    if !unexpected.is_empty() {
        return Err(Unsupported(format!(
            "Unrecognized content type parameters: {}. {SCORING_PROTOCOL_CHANGE_INFO}",
            unexpected.join(", ")
        )));
    }
    match mime {
        "application/json" => Ok(ContentType::Json),
        "text/csv" => Ok(ContentType::Csv),
        "application/vnd.apache.parquet" => Ok(ContentType::Parquet),
        _ => Err(Unsupported(format!(
            "This predictor only supports the following content types: Types: ['text/csv', 'application/json', 'application/vnd.apache.parquet']. Got '{header}'."
        ))),
    }
}

/// A JSON request: which format key, its value, and `params`.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonRequest {
    pub format: &'static str,
    pub data: Value,
    pub params: Option<Map<String, Value>>,
}

/// Parses a JSON body and picks its one format key.
pub fn parse_json(body: &[u8]) -> Result<JsonRequest> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ServeError::BadRequest(format!(
            "Invalid input. Ensure that input is a valid JSON formatted string. Error: '{e}'\nInput: \n{}\n",
            String::from_utf8_lossy(&body[..body.len().min(1000)])
        ))
    })?;
    let mut obj = match value {
        Value::Object(o) => o,
        Value::Array(_) => {
            return Err(ServeError::BadRequest(format!(
                "Invalid input. {REQUIRED_INPUT_FORMAT}. Received a list."
            )))
        }
        other => {
            return Err(ServeError::BadRequest(format!(
                "Invalid input. {REQUIRED_INPUT_FORMAT}. Received unexpected input type '{}.",
                json_type(&other)
            )))
        }
    };
    let keys: Vec<&'static str> = FORMATS
        .iter()
        .copied()
        .filter(|k| obj.contains_key(*k))
        .collect();
    if keys.len() != 1 {
        let received: Vec<String> = obj.keys().map(|k| format!("'{k}'")).collect();
        return Err(ServeError::BadRequest(format!(
            "{REQUIRED_INPUT_FORMAT}. Received dictionary with input fields: [{}]. {SCORING_PROTOCOL_CHANGE_INFO}",
            received.join(", ")
        )));
    }
    let format = keys[0];
    let params = match obj.remove("params") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => Some(p),
        Some(_) => {
            return Err(ServeError::InvalidInput(
                "Parameters must be a dictionary. Got type 'list'.".to_string(),
            ))
        }
    };
    let data = obj.remove(format).unwrap_or(Value::Null);
    Ok(JsonRequest {
        format,
        data,
        params,
    })
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<class 'NoneType'>",
        Value::Bool(_) => "<class 'bool'>",
        Value::Number(n) if n.is_f64() => "<class 'float'>",
        Value::Number(_) => "<class 'int'>",
        Value::String(_) => "<class 'str'>",
        Value::Array(_) => "<class 'list'>",
        Value::Object(_) => "<class 'dict'>",
    }
}

/// A CSV body as a header and rows of raw cells (pandas `read_csv` with a header row).
#[derive(Clone, Debug, PartialEq)]
pub struct CsvTable {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

pub fn parse_csv(body: &[u8]) -> Result<CsvTable> {
    let bad = |e: String| {
        ServeError::BadRequest(format!(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: '{e}'"
        ))
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body);
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| bad(e.to_string()))?
        .iter()
        .map(str::to_string)
        .collect();
    if columns.is_empty() || columns.iter().all(String::is_empty) {
        return Err(bad("No columns to parse from file".to_string()));
    }
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        rows.push(rec.iter().map(str::to_string).collect());
    }
    Ok(CsvTable { columns, rows })
}

/// One CSV cell as pandas would read it: empty → NaN (null), integer, float, bool, string.
pub fn csv_cell(cell: &str) -> Value {
    let t = cell.trim();
    if t.is_empty() || t == "NaN" || t == "nan" {
        return Value::Null;
    }
    if let Ok(i) = t.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = t.parse::<f64>() {
        if let Some(n) = serde_json::Number::from_f64(f) {
            return Value::Number(n);
        }
    }
    match t {
        "True" | "TRUE" | "true" => Value::Bool(true),
        "False" | "FALSE" | "false" => Value::Bool(false),
        _ => Value::String(cell.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlox_core::ErrorCode;

    #[test]
    fn content_types_as_mlflow() {
        assert_eq!(
            content_type(Some("application/json")),
            Ok(ContentType::Json)
        );
        assert_eq!(
            content_type(Some("application/json; charset=UTF-8")),
            Ok(ContentType::Json)
        );
        assert_eq!(content_type(Some("text/csv")), Ok(ContentType::Csv));
        assert!(content_type(Some("application/json; format=pandas-split"))
            .unwrap_err()
            .0
            .starts_with("Unrecognized content type parameters: format"));
        assert!(content_type(Some("text/csv; charset=latin-1")).is_err());
        assert!(content_type(Some("text/plain")).is_err());
        assert!(content_type(None).is_err());
    }

    #[test]
    fn picks_exactly_one_format_key() {
        let r = parse_json(br#"{"inputs": [[1, 2]], "params": {"k": 1}}"#).unwrap();
        assert_eq!(r.format, "inputs");
        assert_eq!(r.data, serde_json::json!([[1, 2]]));
        assert_eq!(r.params.unwrap()["k"], 1);
        for bad in [
            &b"[1, 2]"[..],
            b"{\"inputs\": [1], \"instances\": [1]}",
            b"{\"data\": [1]}",
            b"{not json",
            b"3",
        ] {
            let e = parse_json(bad).unwrap_err();
            assert_eq!(e.error_code(), ErrorCode::BAD_REQUEST, "{e}");
        }
        assert!(parse_json(b"{\"inputs\": [1], \"instances\": [1]}")
            .unwrap_err()
            .to_string()
            .contains("Received dictionary with input fields: ['inputs', 'instances']"));
    }

    #[test]
    fn csv_with_header() {
        let t = parse_csv(b"a,b\n1,2.5\n3,x\n").unwrap();
        assert_eq!(t.columns, ["a", "b"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(csv_cell("1"), serde_json::json!(1));
        assert_eq!(csv_cell("2.5"), serde_json::json!(2.5));
        assert_eq!(csv_cell(""), Value::Null);
        assert_eq!(csv_cell("x"), serde_json::json!("x"));
        assert!(parse_csv(b"").is_err());
        assert!(parse_csv(b"a,b\n1,2,3\n").is_err());
    }
}
