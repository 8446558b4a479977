//! How the APIs print timestamps, shared by the Neon model and the GitHub fake.

use jiff::Timestamp;

/// Timestamps as the real API prints them: UTC, seconds precision (`2022-11-23T17:42:25Z`).
pub fn fmt_ts(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `#[serde(with = "ts")]`: a timestamp in [`fmt_ts`] form.
pub(crate) mod ts {
    use jiff::Timestamp;
    use serde::Serializer;
    pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::fmt_ts(*ts))
    }
}

/// `#[serde(with = "ts_opt")]`: an optional timestamp in [`fmt_ts`] form.
pub(crate) mod ts_opt {
    use jiff::Timestamp;
    use serde::Serializer;
    pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(ts) => s.serialize_str(&super::fmt_ts(*ts)),
            None => s.serialize_none(),
        }
    }
}
