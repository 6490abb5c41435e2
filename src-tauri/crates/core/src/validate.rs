//! Validation rules shared by every service: names, text sizes, ranges, lists.
//! Each returns a [`CoreError`] that names the field and says what is wrong.

use crate::error::{CoreError, Result};

/// Longest name (agents, crews, tasks titles, sessions…), in characters.
pub const MAX_NAME: usize = 200;
/// Longest short free text (role, description), in characters.
pub const MAX_SHORT_TEXT: usize = 4_000;
/// Longest long free text (objectives, prompts, messages, outputs), in characters.
pub const MAX_TEXT: usize = 100_000;
/// Most entries in a list field (capabilities, tools, dependencies…).
pub const MAX_LIST: usize = 64;

/// A required, trimmed, non-empty name of at most [`MAX_NAME`] characters.
pub fn name(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(CoreError::validation(field, "must not be empty"));
    }
    if v.chars().any(char::is_control) {
        return Err(CoreError::validation(
            field,
            "must not contain control characters",
        ));
    }
    max_len(field, v, MAX_NAME)?;
    Ok(v.to_string())
}

/// Like [`name`], but an empty value is allowed (it clears an optional field).
pub fn name_or_empty(field: &str, value: &str) -> Result<String> {
    if value.trim().is_empty() {
        return Ok(String::new());
    }
    name(field, value)
}

/// The longest id a caller may give (ids are UUIDs, names or paths).
pub const MAX_ID: usize = 4_096;

/// An id a caller gives an operation (over IPC or the CLI alike): refused
/// when empty or blank (a validation error naming `field`, not "not found")
/// or longer than [`MAX_ID`].
pub fn id<'a>(field: &str, value: &'a str) -> Result<&'a str> {
    if value.trim().is_empty() {
        return Err(CoreError::validation(field, "must not be empty"));
    }
    max_len(field, value, MAX_ID)?;
    Ok(value)
}

/// An id a caller gives (an IPC argument, a command-line argument): it is
/// checked when it is parsed or deserialised — not blank, at most
/// [`MAX_ID`] characters — so a bad id is refused at the edge with the
/// same validation error from every transport. Records carry their own ids
/// as plain [`crate::Id`]s; this type is for what comes from outside.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(try_from = "String", into = "String")]
#[ts(type = "string")]
pub struct IdArg(String);

impl IdArg {
    /// Checks `value` as the id argument named `field`.
    pub fn parse(field: &str, value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        id(field, &value)?;
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl TryFrom<String> for IdArg {
    type Error = CoreError;
    fn try_from(value: String) -> Result<Self> {
        Self::parse("id", value)
    }
}

impl std::str::FromStr for IdArg {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse("id", s)
    }
}

impl From<IdArg> for String {
    fn from(id: IdArg) -> Self {
        id.0
    }
}

impl std::ops::Deref for IdArg {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for IdArg {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for IdArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn max_len(field: &str, value: &str, max: usize) -> Result<()> {
    let len = value.chars().count();
    if len > max {
        return Err(CoreError::TooLarge {
            field: field.to_string(),
            len,
            max,
        });
    }
    Ok(())
}

pub fn short_text(field: &str, value: &str) -> Result<String> {
    max_len(field, value, MAX_SHORT_TEXT)?;
    Ok(value.to_string())
}

pub fn text(field: &str, value: &str) -> Result<String> {
    max_len(field, value, MAX_TEXT)?;
    Ok(value.to_string())
}

pub fn priority(value: i64) -> Result<u8> {
    if !(1..=10).contains(&value) {
        return Err(CoreError::validation(
            "priority",
            format!("must be between 1 and 10 (10 is highest), got {value}"),
        ));
    }
    Ok(value as u8)
}

pub fn unit_interval(field: &str, value: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&value) || value.is_nan() {
        return Err(CoreError::validation(
            field,
            format!("must be between 0 and 1, got {value}"),
        ));
    }
    Ok(value)
}

pub fn range_u32(field: &str, value: i64, min: u32, max: u32) -> Result<u32> {
    if value < i64::from(min) || value > i64::from(max) {
        return Err(CoreError::validation(
            field,
            format!("must be between {min} and {max}, got {value}"),
        ));
    }
    Ok(value as u32)
}

/// A list of short labels (capabilities, tool names): trimmed, lower-cased,
/// without empties or duplicates, at most [`MAX_LIST`] entries of 64 characters.
pub fn labels(field: &str, values: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for raw in values {
        let v = raw.trim().to_lowercase();
        if v.is_empty() {
            continue;
        }
        if v.chars().count() > 64 {
            return Err(CoreError::TooLarge {
                field: field.to_string(),
                len: v.chars().count(),
                max: 64,
            });
        }
        if !v
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/'))
        {
            return Err(CoreError::validation(
                field,
                format!("'{v}' may contain only letters, digits, '_', '-', '.', ':' and '/'"),
            ));
        }
        if !out.contains(&v) {
            out.push(v);
        }
    }
    if out.len() > MAX_LIST {
        return Err(CoreError::validation(
            field,
            format!("at most {MAX_LIST} entries, got {}", out.len()),
        ));
    }
    Ok(out)
}

/// Splits "a, b,c" into labels (CLI input).
pub fn split_csv(input: &str) -> Vec<String> {
    input
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_arguments_are_checked_when_read() {
        assert_eq!("0192-ab".parse::<IdArg>().unwrap().as_str(), "0192-ab");
        let blank = "  ".parse::<IdArg>().unwrap_err();
        assert_eq!(blank.code(), "VALIDATION");
        assert_eq!(blank.to_string(), "id: must not be empty");
        let long = IdArg::parse("crew_id", "x".repeat(MAX_ID + 1)).unwrap_err();
        assert_eq!(long.code(), "TOO_LARGE");
        // Deserialised (a JSON argument) with the same rule.
        let e = serde_json::from_str::<IdArg>("\"\"").unwrap_err();
        assert!(e.to_string().contains("must not be empty"), "{e}");
        let ok: IdArg = serde_json::from_str("\"t-1\"").unwrap();
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"t-1\"");
    }

    #[test]
    fn names_are_trimmed_and_required() {
        assert_eq!(name("name", "  Ada ").ok().as_deref(), Some("Ada"));
        assert_eq!(
            name("name", "   ").err().map(|e| e.code()),
            Some("VALIDATION")
        );
        assert_eq!(
            name("name", &"x".repeat(MAX_NAME + 1))
                .err()
                .map(|e| e.code()),
            Some("TOO_LARGE")
        );
        assert!(name("name", "a\u{7}b").is_err());
    }

    #[test]
    fn priority_bounds() {
        assert!(priority(0).is_err());
        assert!(priority(11).is_err());
        assert_eq!(priority(1).ok(), Some(1));
        assert_eq!(priority(10).ok(), Some(10));
    }

    #[test]
    fn labels_are_normalised() {
        let got = labels(
            "capabilities",
            &["SQL_Query".into(), " ".into(), "sql_query".into()],
        );
        assert_eq!(got.ok(), Some(vec!["sql_query".to_string()]));
        assert!(labels("capabilities", &["bad label".into()]).is_err());
    }
}
