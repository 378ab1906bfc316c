//! Accredited publishers and their bearer tokens.
//!
//! A token is 256 random bits, shown once when the publisher is added; the store keeps only its
//! BLAKE3 hash. (A fast hash is right here: with 256 bits of entropy there is nothing to
//! brute-force, unlike a password.) Authentication compares the presented token's hash with every
//! active publisher's in constant time, so timing reveals nothing about stored hashes.

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::regions::{RegionCode, RegionDirectory};
use crate::store::{Store, StoreError};

/// Prefix of every token, so a leaked one is recognisable in logs and secret scanners.
const TOKEN_PREFIX: &str = "lenta_";

/// An accredited publisher.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publisher {
    /// Unique name, `[a-z0-9._-]`, 1–64 characters.
    pub name: String,
    /// Hex BLAKE3 hash of the token.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub token_hash: String,
    /// Regions it may publish in; `None` means all.
    pub regions: Option<Vec<RegionCode>>,
    /// When it was (last) accredited.
    pub created_at: DateTime<Utc>,
    /// When its token was revoked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Whether the operator allows the portal to republish its articles in the aggregator feeds
    /// (Yandex, Dzen): those forbid publishing someone else's content under the portal's brand,
    /// so an accredited outside publisher's articles are left out of them unless this is set.
    /// Records written before the flag existed read as not allowed.
    #[serde(default)]
    pub syndicate: bool,
}

impl Publisher {
    /// Whether the publisher may write in `region`.
    pub fn may_publish_in(&self, region: &RegionCode) -> bool {
        self.regions
            .as_ref()
            .is_none_or(|allowed| allowed.contains(region))
    }

    /// The record without its token hash, for listings.
    pub fn public(&self) -> Publisher {
        Publisher {
            token_hash: String::new(),
            ..self.clone()
        }
    }
}

/// Why a publisher operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The name is not acceptable.
    #[error("invalid publisher name {0:?}: use 1–64 characters of a-z, 0-9, '.', '_' and '-'")]
    BadName(String),
    /// A region is unknown.
    #[error("unknown region {0:?}; see the region directory (lenta serve, /api/regions)")]
    UnknownRegion(String),
    /// An active publisher already has this name.
    #[error("publisher {0:?} already exists; revoke it first to issue a new token")]
    Exists(String),
    /// No such publisher.
    #[error("no publisher named {0:?}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sled::Error> for AuthError {
    fn from(e: sled::Error) -> Self {
        AuthError::Store(StoreError::Sled(e))
    }
}

/// The accredited publishers whose articles the aggregator feeds leave out (every record, active
/// or revoked, without [`Publisher::syndicate`]), sorted. Articles of names with no record (the
/// portal's own imports) are the portal's and always shown.
pub fn outside_publishers(store: &Store) -> Result<Vec<String>, AuthError> {
    Ok(list(store)?
        .into_iter()
        .filter(|p| !p.syndicate)
        .map(|p| p.name)
        .collect())
}

/// Checks a publisher name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
}

/// Parses a comma-separated region list against the directory (empty → all regions).
pub fn parse_regions(list: &str, dir: &RegionDirectory) -> Result<Option<Vec<RegionCode>>, AuthError> {
    let mut codes = Vec::new();
    for code in list.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let region = dir
            .lookup(code)
            .ok_or_else(|| AuthError::UnknownRegion(code.to_string()))?;
        codes.push(region.code.clone());
    }
    codes.sort();
    codes.dedup();
    Ok((!codes.is_empty()).then_some(codes))
}

/// Accredits `name` (or re-accredits a revoked one) and returns the record and the new token.
///
/// The record is written with compare-and-swap, so of two concurrent `add`s of one name exactly
/// one wins and the other gets [`AuthError::Exists`] (a plain read-then-write would let the second
/// silently replace the first's token). Durable when it returns.
pub fn add(
    store: &Store,
    name: &str,
    regions: Option<Vec<RegionCode>>,
    syndicate: bool,
) -> Result<(Publisher, String), AuthError> {
    if !valid_name(name) {
        return Err(AuthError::BadName(name.to_string()));
    }
    let tree = store.publishers_tree();
    let current = tree.get(name.as_bytes())?;
    if let Some(bytes) = &current {
        if decode(bytes)?.revoked_at.is_none() {
            return Err(AuthError::Exists(name.to_string()));
        }
    }
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{TOKEN_PREFIX}{}", hex(&secret));
    let publisher = Publisher {
        name: name.to_string(),
        token_hash: hash(&token),
        regions,
        created_at: Utc::now(),
        revoked_at: None,
        syndicate,
    };
    if tree
        .compare_and_swap(name.as_bytes(), current, Some(encode(&publisher)?))?
        .is_err()
    {
        return Err(AuthError::Exists(name.to_string()));
    }
    store.flush_blocking()?;
    Ok((publisher, token))
}

/// Revokes `name`'s token; its articles stay. Revoking a revoked publisher changes nothing.
/// Durable when it returns.
pub fn revoke(store: &Store, name: &str) -> Result<Publisher, AuthError> {
    let tree = store.publishers_tree();
    loop {
        let current = tree
            .get(name.as_bytes())?
            .ok_or_else(|| AuthError::NotFound(name.to_string()))?;
        let mut publisher = decode(&current)?;
        if publisher.revoked_at.is_some() {
            return Ok(publisher);
        }
        publisher.revoked_at = Some(Utc::now());
        // A concurrent change (another revoke, a re-accreditation) means: look again.
        if tree
            .compare_and_swap(name.as_bytes(), Some(current), Some(encode(&publisher)?))?
            .is_ok()
        {
            store.flush_blocking()?;
            return Ok(publisher);
        }
    }
}

/// All publishers, by name.
pub fn list(store: &Store) -> Result<Vec<Publisher>, AuthError> {
    store
        .publishers_tree()
        .iter()
        .values()
        .map(|v| decode(&v?))
        .collect()
}

/// The active publisher holding `token`, if any.
pub fn authenticate(store: &Store, token: &str) -> Result<Option<Publisher>, AuthError> {
    let presented = hash(token);
    let mut found = None;
    for publisher in list(store)? {
        // Compare against every record, in constant time each, so no early exit leaks anything.
        let equal: bool = presented.as_bytes().ct_eq(publisher.token_hash.as_bytes()).into();
        if equal && publisher.revoked_at.is_none() {
            found = Some(publisher);
        }
    }
    Ok(found)
}

/// Compares two secrets in constant time (for the admin token).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    hash(a).as_bytes().ct_eq(hash(b).as_bytes()).into()
}

fn encode(publisher: &Publisher) -> Result<Vec<u8>, AuthError> {
    serde_json::to_vec(publisher).map_err(|e| {
        AuthError::Store(StoreError::Corrupt {
            tree: "publishers",
            reason: e.to_string(),
        })
    })
}

fn decode(bytes: &[u8]) -> Result<Publisher, AuthError> {
    serde_json::from_slice(bytes).map_err(|e| {
        AuthError::Store(StoreError::Corrupt {
            tree: "publishers",
            reason: e.to_string(),
        })
    })
}

fn hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
