//! Byte layouts of the index keys.
//!
//! All integers are big-endian so that sled's lexicographic key order is numeric order, and a
//! reverse range scan walks articles newest first. Times are microseconds since the Unix epoch,
//! sign-flipped so that dates before 1970 still sort before later ones.

use chrono::{DateTime, TimeZone};

/// Length of an `(instant, id)` suffix.
pub const POSITION_LEN: usize = 16;

/// An article's place in the feed order: published instant, then id.
///
/// Newest first means descending `(micros, id)`; the id breaks ties between articles published
/// at the same instant, so the order is total and paging never skips or repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Published instant, microseconds since the epoch (UTC).
    pub micros: i64,
    /// Article id.
    pub id: u64,
}

impl Position {
    /// The position of an article published at `at` with this id.
    pub fn of<Tz: TimeZone>(at: &DateTime<Tz>, id: u64) -> Self {
        Position {
            micros: at.timestamp_micros(),
            id,
        }
    }

    /// Encodes as 16 sortable bytes.
    pub fn to_bytes(self) -> [u8; POSITION_LEN] {
        let mut out = [0u8; POSITION_LEN];
        out[..8].copy_from_slice(&((self.micros as u64) ^ (1 << 63)).to_be_bytes());
        out[8..].copy_from_slice(&self.id.to_be_bytes());
        out
    }

    /// Decodes the last 16 bytes of an index key.
    pub fn from_key_suffix(key: &[u8]) -> Option<Self> {
        let suffix = key.get(key.len().checked_sub(POSITION_LEN)?..)?;
        let time = u64::from_be_bytes(suffix[..8].try_into().ok()?);
        let id = u64::from_be_bytes(suffix[8..].try_into().ok()?);
        Some(Position {
            micros: (time ^ (1 << 63)) as i64,
            id,
        })
    }
}

/// Key of the per-region index: `code 0x00 position`.
pub fn region_key(code: &str, pos: Position) -> Vec<u8> {
    let mut key = region_prefix(code);
    key.extend_from_slice(&pos.to_bytes());
    key
}

/// The prefix shared by all index keys of one region. The NUL keeps `RU` apart from `RU-MOW`.
pub fn region_prefix(code: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(code.len() + 1 + POSITION_LEN);
    key.extend_from_slice(code.as_bytes());
    key.push(0);
    key
}

/// Key of an article by id.
pub fn id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Key of the (publisher, external_id) → id map.
pub fn external_key(publisher: &str, external_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(publisher.len() + 1 + external_id.len());
    key.extend_from_slice(publisher.as_bytes());
    key.push(0);
    key.extend_from_slice(external_id.as_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_order_is_feed_order() {
        let positions = [
            Position {
                micros: -5_000_000,
                id: 9,
            },
            Position { micros: 0, id: 1 },
            Position {
                micros: 1_700_000_000_000_000,
                id: 1,
            },
            Position {
                micros: 1_700_000_000_000_000,
                id: 2,
            },
        ];
        for pair in positions.windows(2) {
            assert!(pair[0].to_bytes() < pair[1].to_bytes());
            assert!(region_key("RU", pair[0]) < region_key("RU", pair[1]));
        }
        for p in positions {
            assert_eq!(Position::from_key_suffix(&region_key("RU-MOW", p)), Some(p));
        }
        assert!(region_key("RU", positions[3]) < region_key("RU-AD", positions[0]));
    }
}
