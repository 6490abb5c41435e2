//! Timestamps: UTC, stored as fixed-width RFC 3339 text with milliseconds so
//! that text order is time order in SQLite indexes.

use chrono::{DateTime, SecondsFormat, Utc};

pub type Timestamp = DateTime<Utc>;

pub fn now() -> Timestamp {
    Utc::now()
}

/// The stored form: `2026-01-02T03:04:05.678Z`.
pub fn to_sql(ts: &Timestamp) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now_sql() -> String {
    to_sql(&now())
}

pub fn parse(text: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_sorts_as_time() {
        let a = parse("2026-01-02T03:04:05.678Z");
        let b = parse("2026-01-02T03:04:06Z");
        let (Some(a), Some(b)) = (a, b) else {
            unreachable!("fixtures parse")
        };
        assert!(to_sql(&a) < to_sql(&b));
        assert_eq!(to_sql(&a), "2026-01-02T03:04:05.678Z");
        assert_eq!(to_sql(&b), "2026-01-02T03:04:06.000Z");
    }
}
