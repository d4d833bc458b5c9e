//! Artifact path safety: every path is relative to the artifact root and can never
//! name anything outside it.

use crate::ArtifactError;

/// Checks a relative artifact path (already percent-decoded) and returns it normalised
/// (no leading or trailing slash, no empty segments).
///
/// Refused: `..` and `.` segments, absolute paths, backslashes (Windows separators),
/// drive letters, NUL and other control characters, and a percent-encoded form of any of
/// these that survived one round of decoding.
pub fn validate_artifact_path(path: &str) -> Result<String, ArtifactError> {
    let invalid = || ArtifactError::InvalidPath(format!("Invalid path: '{path}'"));
    if path.starts_with('/') || path.contains('\\') || path.chars().any(char::is_control) {
        return Err(invalid());
    }
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2e")
        || lower.contains("%2f")
        || lower.contains("%5c")
        || lower.contains("%00")
    {
        return Err(invalid());
    }
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
        return Err(invalid());
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" => {}
            "." | ".." => return Err(invalid()),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}
