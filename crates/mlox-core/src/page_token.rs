//! Opaque page tokens: base64 of `{"offset": N}`, the same shape MLflow's SQL store uses,
//! so tokens from either server look alike.

use base64::Engine;

use crate::error::{MlflowError, Result};

pub fn encode(offset: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// Decodes a token; an absent or empty token is offset 0.
pub fn decode(token: Option<&str>) -> Result<u64> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(token))
        .map_err(|_| MlflowError::invalid("Invalid page token, could not base64-decode"))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| {
        MlflowError::invalid(
            "Invalid page token, decoded value=".to_string() + &String::from_utf8_lossy(&bytes),
        )
    })?;
    let offset = value
        .get("offset")
        .ok_or_else(|| MlflowError::invalid(format!("Invalid page token, parsed value={value}")))?;
    offset.as_u64().filter(|&n| n <= MAX_OFFSET).ok_or_else(|| {
        MlflowError::invalid(format!(
            "Invalid page token, offset must be a non-negative integer of at most \
                 {MAX_OFFSET}, got {offset}"
        ))
    })
}

/// The largest offset a token may carry: it and `offset + max_results + 1` must fit a
/// signed 64-bit SQL integer on every backend.
pub const MAX_OFFSET: u64 = (i64::MAX as u64) / 2;

/// Finishes a page that was read with `LIMIT max_results + 1 OFFSET offset`: drops the
/// extra row and returns the token of the next page, present only when more rows exist.
pub fn finish_page<T>(items: &mut Vec<T>, max_results: i64, offset: u64) -> Option<String> {
    let max = usize::try_from(max_results).unwrap_or(0);
    if items.len() > max {
        items.truncate(max);
        Some(encode(offset.saturating_add(max as u64)))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_end_when_no_extra_row_was_read() {
        let mut full = vec![1, 2, 3];
        assert_eq!(finish_page(&mut full, 2, 10), Some(encode(12)));
        assert_eq!(full, vec![1, 2]);
        let mut exact = vec![1, 2];
        assert_eq!(finish_page(&mut exact, 2, 0), None);
        assert_eq!(exact, vec![1, 2]);
    }

    #[test]
    fn round_trip() {
        assert_eq!(encode(1), "eyJvZmZzZXQiOiAxfQ==");
        assert_eq!(decode(Some(&encode(12345))).unwrap(), 12345);
        assert_eq!(decode(None).unwrap(), 0);
        assert_eq!(decode(Some("")).unwrap(), 0);
        assert!(decode(Some("!!!")).is_err());
        assert!(decode(Some(
            &base64::engine::general_purpose::STANDARD.encode("{\"offset\": -1}")
        ))
        .is_err());
        assert!(decode(Some(
            &base64::engine::general_purpose::STANDARD.encode("[1]")
        ))
        .is_err());
        // Offsets past what a SQL bigint holds (with room for a page) are refused.
        assert_eq!(decode(Some(&encode(MAX_OFFSET))).unwrap(), MAX_OFFSET);
        for huge in [MAX_OFFSET + 1, i64::MAX as u64 + 1, u64::MAX] {
            let err = decode(Some(&encode(huge))).unwrap_err();
            assert_eq!(err.code, crate::ErrorCode::INVALID_PARAMETER_VALUE);
        }
    }
}
