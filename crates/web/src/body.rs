//! Request bodies. Parsing errors name the exact field (`line_items[2].price`) instead of
//! axum's plain-text rejection.

use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Parses JSON, reporting the path of the first field that does not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let code = if inner.is_syntax() || inner.is_eof() {
            "malformed_json"
        } else {
            "invalid_field"
        };
        let err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, inner.to_string());
        if path == "." || path.is_empty() {
            err
        } else {
            err.field(path)
        }
    })
}

/// Parses newline-delimited JSON; an error names the line.
pub fn parse_ndjson<T: DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, ApiError> {
    let mut out = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let item = parse_json(line).map_err(|mut e| {
            e.field = Some(match e.field.take() {
                Some(f) => format!("line {}: {f}", i + 1),
                None => format!("line {}", i + 1),
            });
            e
        })?;
        out.push(item);
    }
    Ok(out)
}
