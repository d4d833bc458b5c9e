//! A YAML loader that keeps line numbers, for error messages that point into the user's
//! MLproject, python_env.yaml, conda.yaml or Kubernetes job template.
//!
//! Plain scalars are resolved the way MLflow's loader (PyYAML `safe_load`, YAML 1.1) does, and
//! [`Node::to_python_str`] renders a scalar the way Python's `str()` would, because MLflow
//! substitutes parameter defaults with `str(value)`: `default: 0.10` becomes `0.1`,
//! `default: yes` becomes `True`.

use std::collections::HashMap;

use mlox_core::validation::py_float_repr;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML value with the position where it starts (1-based line and column).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub line: usize,
    pub col: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in document order; a repeated key keeps its last value, as PyYAML does.
    Map(Vec<(Node, Node)>),
}

/// A syntax error, positioned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl Node {
    /// What kind of YAML value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a mapping (`None` for a missing key or a non-mapping).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .rev()
            .find(|(k, _)| k.scalar_key().as_deref() == Some(key))
            .map(|(_, v)| v)
    }

    /// A mapping key as Python would see it after `str()`, for scalar keys.
    pub fn scalar_key(&self) -> Option<String> {
        self.to_python_str()
    }

    /// `str(value)` in Python for a scalar; `None` for lists and mappings.
    pub fn to_python_str(&self) -> Option<String> {
        Some(match &self.value {
            Value::Null => "None".to_string(),
            Value::Bool(true) => "True".to_string(),
            Value::Bool(false) => "False".to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => py_float_repr(*f),
            Value::Str(s) => s.clone(),
            Value::Seq(_) | Value::Map(_) => return None,
        })
    }

    /// The value as JSON (for Kubernetes manifests); keys become strings.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(py_float_repr(*f))),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => {
                let mut obj = serde_json::Map::new();
                for (k, v) in entries {
                    let key = k.scalar_key().unwrap_or_default();
                    obj.insert(key, v.to_json());
                }
                J::Object(obj)
            }
        }
    }
}

/// Parses the first document of `text`. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| SyntaxError {
        line: e.marker().line(),
        col: e.marker().col() + 1,
        message: e.info().to_string(),
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.root.unwrap_or(Node {
        value: Value::Null,
        line: 1,
        col: 1,
    }))
}

/// Parses the text of the file at `path`; an error names the file and the line.
pub fn parse_file(path: &std::path::Path, text: &str) -> Result<Node, crate::EnvError> {
    parse(text).map_err(|e| {
        crate::EnvError::spec(
            path,
            e.line,
            format!("invalid YAML (column {}): {}", e.col, e.message),
        )
    })
}

enum Frame {
    Seq(Node, usize),
    /// The mapping, its anchor, and a key waiting for its value.
    Map(Node, usize, Option<Node>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    anchors: HashMap<usize, Node>,
    error: Option<SyntaxError>,
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, _, pending)) => match pending.take() {
                None => {
                    // A block mapping's start event points past its first key; the
                    // mapping is where that key is.
                    if matches!(&map.value, Value::Map(e) if e.is_empty()) {
                        map.line = node.line;
                        map.col = node.col;
                    }
                    *pending = Some(node)
                }
                Some(key) => {
                    if let Value::Map(entries) = &mut map.value {
                        entries.push((key, node));
                    }
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let at = |value| Node {
            value,
            line: mark.line(),
            col: mark.col() + 1,
        };
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let explicit_str = tag
                    .as_ref()
                    .is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str");
                let value = if style == TScalarStyle::Plain && !explicit_str {
                    resolve_plain(&text)
                } else {
                    Value::Str(text)
                };
                self.push_value(at(value), anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack
                    .push(Frame::Seq(at(Value::Seq(Vec::new())), anchor));
            }
            Event::MappingStart(anchor, _) => {
                self.stack
                    .push(Frame::Map(at(Value::Map(Vec::new())), anchor, None));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq(n, a)) | Some(Frame::Map(n, a, _)) => (n, a),
                    None => return,
                };
                self.push_value(node, anchor);
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(mut node) => {
                    node.line = mark.line();
                    node.col = mark.col() + 1;
                    self.push_value(node, 0);
                }
                None => {
                    self.error.get_or_insert(SyntaxError {
                        line: mark.line(),
                        col: mark.col() + 1,
                        message: "found undefined alias".to_string(),
                    });
                }
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Resolves a plain scalar with YAML 1.1's implicit types, as PyYAML's SafeLoader does.
fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true)
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false)
        }
        _ => {}
    }
    if let Some(i) = resolve_int(s) {
        return Value::Int(i);
    }
    if let Some(f) = resolve_float(s) {
        return Value::Float(f);
    }
    Value::Str(s.to_string())
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

fn resolve_int(s: &str) -> Option<i64> {
    let (neg, body) = split_sign(s);
    let digits_ok = |d: &str, radix: u32| {
        !d.is_empty()
            && d.chars().all(|c| c == '_' || c.is_digit(radix))
            && d.chars().any(|c| c != '_')
    };
    let parse = |d: &str, radix: u32| -> Option<i64> {
        let clean: String = d.chars().filter(|&c| c != '_').collect();
        let v = i64::from_str_radix(&clean, radix).ok()?;
        Some(if neg { -v } else { v })
    };
    if let Some(d) = body.strip_prefix("0b") {
        return digits_ok(d, 2).then(|| parse(d, 2)).flatten();
    }
    if let Some(d) = body.strip_prefix("0x") {
        return digits_ok(d, 16).then(|| parse(d, 16)).flatten();
    }
    if body == "0" {
        return Some(0);
    }
    if let Some(d) = body.strip_prefix('0') {
        return digits_ok(d, 8).then(|| parse(d, 8)).flatten();
    }
    if body.starts_with(|c: char| c.is_ascii_digit() && c != '0') {
        if body.contains(':') {
            // Sexagesimal (base 60), e.g. 1:30 == 90.
            let mut total: i64 = 0;
            for (i, part) in body.split(':').enumerate() {
                // After the first, each part is `[0-5]?[0-9]` (PyYAML's pattern): "6" and
                // "06" are six, "60" is not a part.
                let b = part.as_bytes();
                let two_digits_ok =
                    |b: &[u8]| (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit();
                if i > 0
                    && !matches!(b.len(), 1 if b[0].is_ascii_digit())
                    && !(b.len() == 2 && two_digits_ok(b))
                {
                    return None;
                }
                if !digits_ok(part, 10) {
                    return None;
                }
                total = total.checked_mul(60)?.checked_add(parse(part, 10)?.abs())?;
            }
            return Some(if neg { -total } else { total });
        }
        return digits_ok(body, 10).then(|| parse(body, 10)).flatten();
    }
    None
}

fn resolve_float(s: &str) -> Option<f64> {
    let (neg, body) = split_sign(s);
    let sign = if neg { -1.0 } else { 1.0 };
    match body {
        ".inf" | ".Inf" | ".INF" => return Some(sign * f64::INFINITY),
        ".nan" | ".NaN" | ".NAN" if s == body => return Some(f64::NAN),
        _ => {}
    }
    // [0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?  or  \.[0-9_]+([eE][-+][0-9]+)?
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let dot = mantissa.find('.')?;
    let (int_part, frac_part) = (&mantissa[..dot], &mantissa[dot + 1..]);
    let int_ok = int_part.is_empty()
        || (int_part.starts_with(|c: char| c.is_ascii_digit())
            && int_part.chars().all(|c| c.is_ascii_digit() || c == '_'));
    let frac_ok = frac_part.chars().all(|c| c.is_ascii_digit() || c == '_');
    if !int_ok || !frac_ok || (int_part.is_empty() && !frac_part.chars().any(|c| c != '_')) {
        return None;
    }
    if let Some(e) = exponent {
        let digits = e.strip_prefix(['-', '+'])?;
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    let clean: String = body.chars().filter(|&c| c != '_').collect();
    let clean = if clean.starts_with('.') {
        format!("0{clean}")
    } else {
        clean
    };
    clean.parse::<f64>().ok().map(|v| sign * v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(src: &str) -> Value {
        parse(&format!("k: {src}\n"))
            .unwrap()
            .get("k")
            .unwrap()
            .value
            .clone()
    }

    #[test]
    fn plain_scalars_resolve_like_pyyaml() {
        assert_eq!(scalar("0.5"), Value::Float(0.5));
        assert_eq!(scalar("1"), Value::Int(1));
        assert_eq!(scalar("010"), Value::Int(8));
        assert_eq!(scalar("0x1F"), Value::Int(31));
        assert_eq!(scalar("1_000"), Value::Int(1000));
        assert_eq!(scalar("1:30"), Value::Int(90));
        assert_eq!(scalar("1:6"), Value::Int(66));
        assert_eq!(scalar("1:06"), Value::Int(66));
        assert_eq!(scalar("-2:0:5"), Value::Int(-7205));
        assert_eq!(scalar("1:60"), Value::Str("1:60".into()));
        assert_eq!(scalar("1:123"), Value::Str("1:123".into()));
        assert_eq!(scalar("-2"), Value::Int(-2));
        assert_eq!(scalar("yes"), Value::Bool(true));
        assert_eq!(scalar("Off"), Value::Bool(false));
        assert_eq!(scalar("~"), Value::Null);
        assert_eq!(scalar(""), Value::Null);
        assert_eq!(scalar("1.0e+3"), Value::Float(1000.0));
        assert_eq!(scalar(".5"), Value::Float(0.5));
        // YAML 1.1 floats need a dot and a signed exponent.
        assert_eq!(scalar("1e3"), Value::Str("1e3".into()));
        assert_eq!(scalar("1.0e3"), Value::Str("1.0e3".into()));
        assert_eq!(scalar("'0.5'"), Value::Str("0.5".into()));
        assert_eq!(scalar("\"yes\""), Value::Str("yes".into()));
        assert_eq!(scalar("!!str 12"), Value::Str("12".into()));
        assert_eq!(scalar("hello world"), Value::Str("hello world".into()));
        assert!(matches!(scalar(".nan"), Value::Float(f) if f.is_nan()));
        assert_eq!(scalar("-.inf"), Value::Float(f64::NEG_INFINITY));
    }

    #[test]
    fn python_str_of_scalars() {
        let s = |src| {
            parse(&format!("k: {src}\n"))
                .unwrap()
                .get("k")
                .unwrap()
                .to_python_str()
                .unwrap()
        };
        assert_eq!(s("0.10"), "0.1");
        assert_eq!(s("5.0"), "5.0");
        assert_eq!(s("true"), "True");
        assert_eq!(s("100"), "100");
        assert_eq!(s("1.0e-5"), "1e-05");
        assert_eq!(s("1.0e+16"), "1e+16");
        assert_eq!(s("123456789.125"), "123456789.125");
        assert_eq!(s("0.0001"), "0.0001");
        assert_eq!(s("-0.0"), "-0.0");
        assert_eq!(s(".inf"), "inf");
    }

    #[test]
    fn float_repr_matches_python() {
        for (f, want) in [
            (0.1, "0.1"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e-7, "1.5e-07"),
            (0.00012, "0.00012"),
            (2.5e100, "2.5e+100"),
            (-123.0, "-123.0"),
        ] {
            assert_eq!(py_float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn positions_are_one_based() {
        let doc = parse("a: 1\nb:\n  c: [x, y]\n").unwrap();
        let b = doc.get("b").unwrap();
        assert_eq!((b.line, b.col), (3, 3));
        let c = b.get("c").unwrap();
        assert_eq!(c.line, 3);
        assert_eq!(c.as_seq().unwrap()[1].col, 10);
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
        let err = parse("a: 1\n b: 2\n").unwrap_err();
        assert_eq!(err.line, 2, "{err:?}");
    }

    #[test]
    fn anchors_and_aliases_are_copied() {
        let doc = parse("base: &b {x: 1}\nother: *b\n").unwrap();
        assert_eq!(
            doc.get("other").unwrap().get("x").unwrap().value,
            Value::Int(1)
        );
    }

    #[test]
    fn to_json_keeps_types() {
        let doc = parse("a: 1\nb: [true, null, 'x', 1.5]\n").unwrap();
        assert_eq!(
            doc.to_json(),
            serde_json::json!({"a": 1, "b": [true, null, "x", 1.5]})
        );
    }
}
