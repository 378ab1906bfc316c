//! Offline consistency check (`lenta check`): every index agrees with the articles.

use std::collections::BTreeMap;

use super::keys::{self, Position};
use super::space::Space;
use super::{decode_article, decode_id, RegionMeta, Store, StoreError, ALL_REGIONS};
use crate::regions::RegionDirectory;

impl Store {
    /// Lists every inconsistency between articles, indexes and region metadata (empty = healthy).
    pub fn check(&self, dir: &RegionDirectory) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        // Newest `updated_at` per region (and `*`): a region's Last-Modified may not be older.
        let mut newest: BTreeMap<String, i64> = BTreeMap::new();
        for entry in Space::Articles.iter(&self.data) {
            let (key, value) = entry?;
            let Some(id) = decode_id(&key) else {
                problems.push(format!("articles: key of {} bytes is not an id", key.len()));
                continue;
            };
            let article = match decode_article(&value) {
                Ok(a) if a.id == id => a,
                Ok(a) => {
                    problems.push(format!("article {id}: stored under id {id} but says id {}", a.id));
                    continue;
                }
                Err(e) => {
                    problems.push(format!("article {id}: {e}"));
                    continue;
                }
            };
            *counts.entry(ALL_REGIONS.to_string()).or_default() += 1;
            let updated = article.updated_at.timestamp_micros();
            for code in article.regions.iter().map(|r| r.as_str()).chain([ALL_REGIONS]) {
                let entry = newest.entry(code.to_string()).or_insert(updated);
                *entry = (*entry).max(updated);
            }
            let pos = Position::of(&article.published_at, id);
            if !self.data.contains_key(Space::ByTime.key(&pos.to_bytes()))? {
                problems.push(format!("article {id}: missing from the time index"));
            }
            for region in &article.regions {
                *counts.entry(region.to_string()).or_default() += 1;
                if dir.lookup(region.as_str()).is_none() {
                    problems.push(format!(
                        "article {id}: region {region} is not in the region directory"
                    ));
                }
                let key = Space::ByRegion.key(&keys::region_key(region.as_str(), pos));
                if !self.data.contains_key(key)? {
                    problems.push(format!("article {id}: missing from the index of region {region}"));
                }
            }
            let external = keys::external_key(&article.publisher, &article.external_id);
            let ext = self.data.get(Space::ByExternal.key(&external))?;
            if ext.as_deref().and_then(decode_id) != Some(id) {
                problems.push(format!(
                    "article {id}: (publisher {}, external_id {:?}) does not map back to it",
                    article.publisher, article.external_id
                ));
            }
        }
        self.check_indexes(&mut problems)?;
        self.check_meta(&counts, &newest, &mut problems)?;
        self.check_publishers(&mut problems)?;
        Ok(problems)
    }

    /// Every index entry points at an article that agrees with it.
    fn check_indexes(&self, problems: &mut Vec<String>) -> Result<(), StoreError> {
        for entry in Space::ByTime.iter(&self.data) {
            let (key, _) = entry?;
            match Position::from_key_suffix(&key) {
                Some(pos) => match self.get(pos.id)? {
                    Some(a) if Position::of(&a.published_at, a.id) == pos => {}
                    Some(_) => problems.push(format!(
                        "time index: entry for article {} has a stale date",
                        pos.id
                    )),
                    None => problems.push(format!(
                        "time index: dangling entry for missing article {}",
                        pos.id
                    )),
                },
                None => problems.push("time index: malformed key".to_string()),
            }
        }
        for entry in Space::ByRegion.iter(&self.data) {
            let (key, _) = entry?;
            let split = key.iter().position(|b| *b == 0);
            match (split, Position::from_key_suffix(&key)) {
                (Some(at), Some(pos)) => {
                    let region = String::from_utf8_lossy(&key[..at]);
                    match self.get(pos.id)? {
                        Some(a)
                            if Position::of(&a.published_at, a.id) == pos
                                && a.regions.iter().any(|r| r.as_str() == region) => {}
                        Some(_) => problems.push(format!(
                            "region index {region}: stale entry for article {}",
                            pos.id
                        )),
                        None => problems.push(format!(
                            "region index {region}: dangling entry for missing article {}",
                            pos.id
                        )),
                    }
                }
                _ => problems.push("region index: malformed key".to_string()),
            }
        }
        for entry in Space::ByExternal.iter(&self.data) {
            let (key, value) = entry?;
            let id = decode_id(&value);
            let ok = match id {
                Some(id) => self
                    .get(id)?
                    .is_some_and(|a| keys::external_key(&a.publisher, &a.external_id) == key.as_ref()),
                None => false,
            };
            if !ok {
                problems.push(format!(
                    "external id index: {:?} points at {id:?}, which does not carry it",
                    String::from_utf8_lossy(&key).replace('\0', "/")
                ));
            }
        }
        Ok(())
    }

    /// Stored counts match the articles; generations exist wherever articles do.
    fn check_meta(
        &self,
        counts: &BTreeMap<String, u64>,
        newest: &BTreeMap<String, i64>,
        problems: &mut Vec<String>,
    ) -> Result<(), StoreError> {
        let mut stored: BTreeMap<String, RegionMeta> = BTreeMap::new();
        for entry in Space::RegionMeta.iter(&self.data) {
            let (key, value) = entry?;
            let code = String::from_utf8_lossy(&key).into_owned();
            match RegionMeta::decode(&value) {
                Some(m) => {
                    stored.insert(code, m);
                }
                None => problems.push(format!("region metadata {code}: malformed")),
            }
        }
        let codes: std::collections::BTreeSet<&String> = counts.keys().chain(stored.keys()).collect();
        for code in codes {
            let actual = counts.get(code).copied().unwrap_or(0);
            let meta = stored.get(code).copied().unwrap_or_default();
            if meta.count != actual {
                problems.push(format!(
                    "region {code}: metadata counts {} articles, found {actual}",
                    meta.count
                ));
            }
            if actual > 0 && meta.generation == 0 {
                problems.push(format!("region {code}: has articles but generation 0"));
            }
            // Otherwise a conditional GET could answer 304 for a feed that changed.
            if let Some(&updated) = newest.get(code.as_str()) {
                if meta.last_modified_micros < updated {
                    problems.push(format!(
                        "region {code}: last change {} is older than an article's updated_at {}",
                        meta.last_modified(),
                        chrono::DateTime::from_timestamp_micros(updated).unwrap_or_default()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every publisher record decodes and is stored under its own name.
    fn check_publishers(&self, problems: &mut Vec<String>) -> Result<(), StoreError> {
        for entry in self.publishers.iter() {
            let (key, value) = entry?;
            let key = String::from_utf8_lossy(&key).into_owned();
            match serde_json::from_slice::<crate::auth::Publisher>(&value) {
                Ok(p) if p.name == key && p.token_hash.len() == 64 => {}
                Ok(p) if p.name != key => {
                    problems.push(format!("publisher {key}: record names {:?}", p.name))
                }
                Ok(_) => problems.push(format!("publisher {key}: token hash is not a BLAKE3 hex digest")),
                Err(e) => problems.push(format!("publisher {key}: {e}")),
            }
        }
        Ok(())
    }
}
