//! Bulk loading from NDJSON (`lenta import`).
//!
//! Each line is validated and stored on its own, exactly like a batch API line: a bad line is
//! reported with its number and reasons and never stops the rest. Lines are committed a chunk
//! per atomic store batch (each still decided on its own), and one flush at the end makes
//! the whole import durable (an interrupted import can simply be re-run: lines are upserts by
//! `external_id`).

use std::convert::Infallible;
use std::io::BufRead;

use serde_json::Value;

use crate::model::{Article, ArticleInput, ExternalId, FieldError};
use crate::regions::RegionDirectory;
use crate::store::{Committed, Store, StoreError, WriteError, WriteOp};

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Lines that created an article.
    pub created: u64,
    /// Lines that updated one (same publisher and `external_id`).
    pub updated: u64,
    /// Lines refused: line number (1-based) and every reason.
    pub rejected: Vec<(usize, Vec<FieldError>)>,
}

/// Lines committed per store batch: large enough to amortise sled's per-batch cost, small
/// enough that readers of a running store are not held up (see [`Store::write_many`]).
const CHUNK: usize = 256;

/// Imports every line of `input` as `publisher`; `progress` is told the bytes consumed so far.
pub fn import(
    store: &Store,
    regions: &RegionDirectory,
    publisher: &str,
    input: impl BufRead,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, StoreError> {
    let mut report = ImportReport::default();
    let mut consumed = 0u64;
    let mut chunk: Vec<(usize, WriteOp)> = Vec::with_capacity(CHUNK);
    for (index, line) in input.split(b'\n').enumerate() {
        let line = line.map_err(|e| StoreError::Corrupt {
            tree: "input",
            reason: e.to_string(),
        })?;
        consumed += line.len() as u64 + 1;
        progress(consumed);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_line(&line, regions) {
            Ok(article) => chunk.push((
                index + 1,
                WriteOp::Upsert {
                    publisher: publisher.to_string(),
                    article,
                },
            )),
            Err(errors) => report.rejected.push((index + 1, errors)),
        }
        if chunk.len() == CHUNK {
            commit(store, std::mem::take(&mut chunk), &mut report)?;
        }
    }
    commit(store, chunk, &mut report)?;
    store.flush_blocking()?;
    Ok(report)
}

/// Writes one chunk in one store batch and records each line's outcome.
fn commit(store: &Store, chunk: Vec<(usize, WriteOp)>, report: &mut ImportReport) -> Result<(), StoreError> {
    let (lines, ops): (Vec<usize>, Vec<WriteOp>) = chunk.into_iter().unzip();
    let ops = ops
        .into_iter()
        .map(|op| (op, |_: Option<&Article>| Ok::<(), Infallible>(())));
    for (line, result) in lines.into_iter().zip(store.write_many(ops)?) {
        match result {
            Ok(Committed::Created(_)) => report.created += 1,
            Ok(_) => report.updated += 1,
            Err(WriteError::Store(e)) => return Err(e),
            Err(WriteError::Refused(never)) => match never {},
            Err(other) => report
                .rejected
                .push((line, vec![FieldError::new("", other.to_string())])),
        }
    }
    Ok(())
}

fn parse_line(line: &[u8], regions: &RegionDirectory) -> Result<crate::model::NewArticle, Vec<FieldError>> {
    let text = std::str::from_utf8(line).map_err(|e| {
        vec![FieldError::new(
            "",
            format!("not valid UTF-8 at byte {}", e.valid_up_to()),
        )]
    })?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| vec![FieldError::new("", format!("invalid JSON: {e}"))])?;
    ArticleInput::from_json(&value, regions, ExternalId::Required)
}
