//! The region directory: stable region codes and their names.
//!
//! Every article belongs to one or more regions, and every region must be known: an unknown code
//! is an input error, never a silently created region. The directory is built in (the 83 ISO
//! 3166-2:RU subdivisions plus `RU` for all-Russia news) and an operator can replace it with a
//! file of the same shape, so the portal decides which regions it covers.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The built-in directory, copied from the design data so a fresh clone works on its own.
const BUILTIN_TSV: &str = include_str!("../data/regions-ru.tsv");

/// A region code as the directory spells it: upper-case, ASCII, e.g. `RU-NIZ`.
///
/// Input only becomes one through [`RegionDirectory::lookup`], so a `RegionCode` from a request is
/// known. Stored articles deserialize theirs as they were written (`lenta check` re-verifies them
/// against the directory, which an operator may have replaced).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct RegionCode(String);

impl RegionCode {
    /// The code as printed (upper-case).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One region of the directory.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Region {
    /// Stable code, upper-case.
    pub code: RegionCode,
    /// Name in Russian, used in feed titles.
    pub name_ru: String,
    /// Name in English.
    pub name_en: String,
    /// Kind of subdivision (republic, oblast, country, …), informational.
    pub kind: String,
}

/// Why a region file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RegionFileError {
    /// The file could not be read.
    #[error("cannot read region file {path}: {source}")]
    Io {
        /// The file named by `--regions`.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A line is not `code<TAB>name_ru<TAB>name_en[<TAB>kind]`.
    #[error("region file line {line}: {reason} (expected: code<TAB>name_ru<TAB>name_en[<TAB>kind], codes of A-Z, 0-9 and '-')")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

/// All regions the portal covers, ordered by code.
#[derive(Clone, Debug)]
pub struct RegionDirectory {
    regions: BTreeMap<String, Region>,
}

impl RegionDirectory {
    /// The built-in Russian directory plus `RU` (all of Russia).
    pub fn builtin() -> Self {
        // The built-in data is part of the binary and tested; failing here is a build defect.
        Self::parse(BUILTIN_TSV).unwrap_or_else(|e| panic!("built-in region directory: {e}"))
    }

    /// Loads an operator's directory from a TSV file with the built-in file's columns.
    pub fn from_file(path: &Path) -> Result<Self, RegionFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| RegionFileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses TSV text: a header line starting with `code`, then one region per line.
    /// `RU` is added when absent, so all-Russia news always has a home.
    pub fn parse(text: &str) -> Result<Self, RegionFileError> {
        let mut regions = BTreeMap::new();
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') || (index == 0 && line.starts_with("code\t")) {
                continue;
            }
            let region = parse_line(line).map_err(|reason| RegionFileError::Syntax {
                line: line_no,
                reason,
            })?;
            if regions.insert(region.code.0.clone(), region).is_some() {
                return Err(RegionFileError::Syntax {
                    line: line_no,
                    reason: "duplicate code".into(),
                });
            }
        }
        regions.entry("RU".to_string()).or_insert_with(|| Region {
            code: RegionCode("RU".into()),
            name_ru: "Россия".into(),
            name_en: "Russia".into(),
            kind: "country".into(),
        });
        Ok(Self { regions })
    }

    /// Finds a region by code, case-insensitively.
    pub fn lookup(&self, code: &str) -> Option<&Region> {
        self.regions.get(&code.trim().to_ascii_uppercase())
    }

    /// Finds a region by a parsed code, which is upper-case already: [`RegionDirectory::lookup`]
    /// without the normalising copy, for the items of a feed page.
    pub fn get(&self, code: &RegionCode) -> Option<&Region> {
        self.regions.get(code.as_str())
    }

    /// All regions, ordered by code.
    pub fn iter(&self) -> impl Iterator<Item = &Region> {
        self.regions.values()
    }

    /// How many regions there are.
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    /// Whether the directory is empty (it never is: `RU` is always present).
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }
}

fn parse_line(line: &str) -> Result<Region, String> {
    let cols: Vec<&str> = line.split('\t').map(str::trim).collect();
    if cols.len() < 3 {
        return Err(format!("{} column(s), need at least 3", cols.len()));
    }
    let code = cols[0].to_ascii_uppercase();
    let valid =
        !code.is_empty() && code.len() <= 16 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid {
        return Err(format!("invalid code {:?}", cols[0]));
    }
    if cols[1].is_empty() || cols[2].is_empty() {
        return Err("empty name".into());
    }
    Ok(Region {
        code: RegionCode(code),
        name_ru: cols[1].to_string(),
        name_en: cols[2].to_string(),
        kind: cols.get(3).map(|k| k.to_string()).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_83_subdivisions_and_ru() {
        let dir = RegionDirectory::builtin();
        assert_eq!(dir.len(), 84);
        assert_eq!(
            dir.lookup("ru-niz").map(|r| r.name_en.as_str()),
            Some("Nizhny Novgorod Oblast")
        );
        assert_eq!(dir.lookup("RU").map(|r| r.code.as_str()), Some("RU"));
        assert!(dir.lookup("RU-XXX").is_none());
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = RegionDirectory::parse("code\tname_ru\tname_en\nX Y\ta\tb\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = RegionDirectory::parse("A\ta\tb\nA\tc\td\n").unwrap_err();
        assert!(err.to_string().contains("duplicate"), "{err}");
    }
}
