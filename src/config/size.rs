//! [`ByteSize`]: a size in `config.toml`, written as a whole number of bytes (`10000000`) or as
//! a string with a unit (`"10MB"`, `"512 KiB"`). KB, MB and GB are powers of 1000; KiB, MiB
//! and GiB powers of 1024; units are not case-sensitive. Anything else is refused with the
//! accepted forms, never guessed at.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

const UNITS: [(&str, u64); 7] = [
    ("b", 1),
    ("kb", 1000),
    ("mb", 1000 * 1000),
    ("gb", 1000 * 1000 * 1000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
];

const FORMS: &str = "a number of bytes, or a whole number with KB, MB, GB (powers of 1000) or \
                     KiB, MiB, GiB (powers of 1024), such as \"10MB\"";

impl ByteSize {
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// `"10MB"`, `"10 mb"`, `"512KiB"`, `"4096"` (bytes).
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let unit = unit.trim_start().to_ascii_lowercase();
        let invalid = || format!("invalid size {text:?}: expected {FORMS}");
        let n: u64 = number.parse().map_err(|_| invalid())?;
        let scale = if unit.is_empty() {
            1
        } else {
            UNITS
                .iter()
                .find(|(name, _)| *name == unit)
                .map(|(_, scale)| *scale)
                .ok_or_else(invalid)?
        };
        n.checked_mul(scale)
            .map(ByteSize)
            .ok_or_else(|| format!("size {text:?} is too large"))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ByteSize, D::Error> {
        d.deserialize_any(SizeVisitor)
    }
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = ByteSize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(FORMS)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
        Ok(ByteSize(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
        u64::try_from(v)
            .map(ByteSize)
            .map_err(|_| E::custom(format!("a size cannot be negative ({v})")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
        ByteSize::parse(v).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        for (text, bytes) in [
            ("10MB", 10_000_000),
            ("10 mb", 10_000_000),
            (" 1GB ", 1_000_000_000),
            ("512KiB", 512 * 1024),
            ("2 MiB", 2 * 1024 * 1024),
            ("1gib", 1 << 30),
            ("4096", 4096),
            ("100B", 100),
            ("0", 0),
        ] {
            assert_eq!(ByteSize::parse(text), Ok(ByteSize(bytes)), "{text}");
        }
    }

    #[test]
    fn bad_sizes_are_refused_with_the_forms() {
        for text in ["", "MB", "10 M", "1.5MB", "-1MB", "10MB x", "ten", "10 TB"] {
            let err = ByteSize::parse(text).unwrap_err();
            assert!(err.contains("KiB"), "{text}: {err}");
        }
        assert!(
            ByteSize::parse("99999999999999 GB")
                .unwrap_err()
                .contains("too large")
        );
    }
}
