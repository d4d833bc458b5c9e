//! Numbers as protobuf JSON sends them: an int64 as a number or a string, a double as a
//! number or "NaN" / "Infinity" / "-Infinity".

use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrStr<N> {
    Num(N),
    Str(String),
}

fn parse<'de, D, N>(d: D) -> Result<Option<N>, D::Error>
where
    D: Deserializer<'de>,
    N: Deserialize<'de> + std::str::FromStr,
    N::Err: std::fmt::Display,
{
    match Option::<NumOrStr<N>>::deserialize(d)? {
        None => Ok(None),
        Some(NumOrStr::Num(n)) => Ok(Some(n)),
        Some(NumOrStr::Str(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// An optional int64.
pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    parse(d)
}

/// An optional uint64 (a file size).
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    parse(d)
}

/// A double, with protobuf's names for the non-finite values.
pub(crate) fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match NumOrStr::<f64>::deserialize(d)? {
        NumOrStr::Num(n) => Ok(n),
        NumOrStr::Str(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => other.parse().map_err(serde::de::Error::custom),
        },
    }
}
