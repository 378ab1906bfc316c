//! Content-coding negotiation and response compression (RFC 9110 §12.5.3).
//!
//! Feeds are large, highly repetitive XML/JSON documents that are fetched over
//! and over by aggregators, so compressing them is the cheapest bandwidth win
//! the server has. This module decides *which* coding a client may receive and
//! produces the compressed bytes; it deliberately knows nothing about hyper,
//! caching or ETags so it can be tested in isolation.

/// A content coding the server is able to produce.
///
/// Kept deliberately small: every variant must be produced by [`compress`] and
/// accounted for in cache keys, so adding a coding is a conscious decision
/// rather than something a client header can smuggle in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// No transformation; always available as the last resort.
    Identity,
    /// `gzip` (RFC 1952), understood by essentially every client.
    Gzip,
    /// `br` (RFC 7932), the densest coding modern clients accept.
    Brotli,
}

impl Encoding {
    /// Value for the `Content-Encoding` header; `None` for identity.
    ///
    /// Identity must *not* be sent as `Content-Encoding: identity` (RFC 9110
    /// §8.4.1 reserves that token for `Accept-Encoding`), so callers only set
    /// the header when this returns `Some`.
    #[must_use]
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }

    /// Short stable token (`"id"`, `"gz"`, `"br"`) used inside ETags and cache
    /// keys.
    ///
    /// Each coded representation is a distinct byte sequence and therefore
    /// needs a distinct strong `ETag` and cache slot; the token is short and
    /// independent of header spelling so existing ETags stay valid even if
    /// the header values ever change.
    #[must_use]
    pub fn tag(self) -> &'static str {
        match self {
            Encoding::Identity => "id",
            Encoding::Gzip => "gz",
            Encoding::Brotli => "br",
        }
    }

    /// Server preference used to break ties between equal q-values:
    /// brotli is smallest, identity costs the most bandwidth.
    fn preference(self) -> u8 {
        match self {
            Encoding::Brotli => 2,
            Encoding::Gzip => 1,
            Encoding::Identity => 0,
        }
    }
}

/// Error returned by [`compress`].
///
/// Compressing into memory cannot fail in practice, but both encoder crates
/// report errors; surfacing them as a typed error keeps the server free of
/// panics instead of asserting them away.
#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    /// libdeflate refused the level or the output buffer (a bug, never input).
    #[error("gzip compression failed: {0}")]
    Gzip(String),
    /// The brotli encoder reported an error.
    #[error("brotli compression failed: {0}")]
    Brotli(#[source] std::io::Error),
}

/// How hard to compress. Part of every ETag (through the render fingerprint): the same body at
/// another level is other bytes, and a strong validator must not cover both.
///
/// The defaults were chosen on a 50-item RSS page of the demo corpus (82 KB), best of 300 runs
/// on one core: miniz_oxide gzip 6, the previous backend, took 1,300 µs for 8,983 bytes;
/// libdeflate level 6 takes 349 µs for 9,049 bytes, level 4 219 µs for 9,668, level 1 118 µs for
/// 11,494. Brotli quality 5 took 1,009 µs for 8,331 bytes, quality 4 619 µs for 9,329.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compression {
    /// libdeflate gzip level, 1 (fastest) to 12 (smallest).
    pub gzip_level: u8,
    /// Brotli quality, 0 (fastest) to 11 (smallest).
    pub brotli_quality: u8,
}

impl Default for Compression {
    /// gzip 6 (the size readers got before, at a quarter of the cost) and brotli 4.
    fn default() -> Self {
        Compression {
            gzip_level: 6,
            brotli_quality: 4,
        }
    }
}

/// The highest libdeflate level.
pub const MAX_GZIP_LEVEL: u8 = 12;
/// The highest brotli quality.
pub const MAX_BROTLI_QUALITY: u8 = 11;

/// A stable description of the compression settings, for the render fingerprint.
pub fn describe(compression: &Compression) -> String {
    format!(
        "libdeflate-gzip-{}/brotli-{}",
        compression.gzip_level, compression.brotli_quality
    )
}

/// Brotli window: 2^22 = 4 MiB, larger than any feed we serve.
const BROTLI_LGWIN: i32 = 22;

/// Weight of identity when the header neither lists it nor has `*`: it is
/// acceptable, but below any explicit non-zero q-value (minimum 1/1000), so a
/// coding the client listed is always preferred over this fallback.
const IMPLICIT: u16 = 0;

/// What one `Accept-Encoding` header said, in q-value thousandths.
#[derive(Debug, Default)]
struct Preferences {
    brotli: Option<u16>,
    gzip: Option<u16>,
    identity: Option<u16>,
    star: Option<u16>,
}

impl Preferences {
    fn parse(header: &str) -> Self {
        let mut prefs = Preferences::default();
        for (name, q) in header.split(',').filter_map(parse_element) {
            let slot = match name.as_str() {
                "br" => &mut prefs.brotli,
                "gzip" | "x-gzip" => &mut prefs.gzip,
                "identity" => &mut prefs.identity,
                "*" => &mut prefs.star,
                _ => continue,
            };
            // Duplicates (e.g. `gzip;q=0, x-gzip`): keep the most permissive so
            // the result does not depend on element order.
            *slot = Some(slot.map_or(q, |old| old.max(q)));
        }
        prefs
    }

    /// Effective weight of `encoding`, `None` when it is not acceptable.
    fn weight(&self, encoding: Encoding) -> Option<u16> {
        let explicit = match encoding {
            // §12.5.3: a coding is acceptable if listed, or matched by `*`,
            // unless that entry has q=0.
            Encoding::Brotli => self.brotli.or(self.star),
            Encoding::Gzip => self.gzip.or(self.star),
            // §12.5.3: identity is acceptable by default unless excluded by
            // `identity;q=0` or by `*;q=0` without an explicit identity entry.
            Encoding::Identity => match self.identity.or(self.star) {
                None => return Some(IMPLICIT),
                explicit => explicit,
            },
        };
        explicit.filter(|&q| q > 0)
    }
}

/// Parse one list element such as ` GZip ; q=0.5 ` into a lower-cased coding
/// name and its weight in thousandths. Invalid elements yield `None` and are
/// ignored, as if the client had not sent them.
fn parse_element(element: &str) -> Option<(String, u16)> {
    let mut parts = element.split(';');
    let name = parts.next()?.trim();
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return None;
    }
    let mut q = 1000;
    for param in parts {
        let (key, value) = param.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("q") {
            q = parse_qvalue(value.trim())?;
        }
        // Other parameters are not defined for Accept-Encoding; tolerate them.
    }
    Some((name.to_ascii_lowercase(), q))
}

/// Parse an RFC 9110 §12.4.2 qvalue (`0[.ddd]` or `1[.000]`) into thousandths.
fn parse_qvalue(value: &str) -> Option<u16> {
    let (int, frac) = match value.split_once('.') {
        Some((int, frac)) => (int, frac),
        None => (value, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths = 0u16;
    for (i, digit) in frac.bytes().enumerate() {
        thousandths += u16::from(digit - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Choose the coding for a response from the `Accept-Encoding` field value.
///
/// `None` (header absent) means the client accepts anything, and identity is
/// the safe choice. An empty value means identity only. Returns `None` when
/// nothing the server can produce is acceptable (e.g. `identity;q=0` or
/// `*;q=0` with no other acceptable coding) so the caller can answer
/// `406 Not Acceptable` instead of sending bytes the client refused.
/// Multiple header lines should be joined with `", "` before calling.
///
/// Highest q-value wins; ties prefer `br`, then `gzip`, then identity,
/// because smaller responses are what the server wants when the client is
/// indifferent.
#[must_use]
pub fn negotiate(accept_encoding: Option<&str>) -> Option<Encoding> {
    let Some(header) = accept_encoding else {
        return Some(Encoding::Identity);
    };
    let prefs = Preferences::parse(header);
    [Encoding::Brotli, Encoding::Gzip, Encoding::Identity]
        .into_iter()
        .filter_map(|e| prefs.weight(e).map(|q| (e, q)))
        .max_by_key(|&(e, q)| (q, e.preference()))
        .map(|(e, _)| e)
}

/// Compresses `data` with `encoding` at the levels of `compression`. Identity returns a copy.
///
/// Returns an owned buffer because the result is meant to be cached and served many times.
///
/// # Errors
///
/// [`CompressError`] if an encoder reports an error, which does not happen when writing to
/// memory; callers may treat it as a 500.
pub fn compress(
    encoding: Encoding,
    data: &[u8],
    compression: &Compression,
) -> Result<Vec<u8>, CompressError> {
    match encoding {
        Encoding::Identity => Ok(data.to_vec()),
        Encoding::Gzip => gzip(data, compression.gzip_level),
        Encoding::Brotli => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: i32::from(compression.brotli_quality.min(MAX_BROTLI_QUALITY)),
                lgwin: BROTLI_LGWIN,
                size_hint: data.len(),
                ..Default::default()
            };
            let mut out = Vec::with_capacity(data.len() / 4 + 64);
            let mut input = data;
            brotli::enc::BrotliCompress(&mut input, &mut out, &params).map_err(CompressError::Brotli)?;
            Ok(out)
        }
    }
}

/// A thread's libdeflate compressor, kept with its level between bodies.
struct GzipState {
    level: u8,
    compressor: libdeflater::Compressor,
    /// Output scratch, as long as the largest bound seen: libdeflate needs the whole bound up
    /// front, and zeroing a fresh buffer of the body's size for every body showed in the profile.
    scratch: Vec<u8>,
}

/// The largest output scratch a thread keeps (a 50-item page with full text is ~100 KB).
const MAX_SCRATCH: usize = 1 << 20;

thread_local! {
    /// One compressor per thread, kept between bodies: its tables are a few hundred KB, and
    /// allocating them for every body showed in the profile as page clearing. The threads that
    /// compress are the bounded render workers ([`super::pool`]), so this memory is bounded too.
    static GZIP: std::cell::RefCell<Option<GzipState>> = const { std::cell::RefCell::new(None) };
}

/// gzip (RFC 1952) in one call with libdeflate: a whole body at once is exactly what it is built
/// for, and it is several times faster than a streaming deflate at the same size.
fn gzip(data: &[u8], level: u8) -> Result<Vec<u8>, CompressError> {
    let level = level.clamp(1, MAX_GZIP_LEVEL);
    GZIP.with(|cell| {
        let mut cell = cell.borrow_mut();
        let state = match cell.take() {
            Some(state) if state.level == level => cell.insert(state),
            _ => {
                let lvl = libdeflater::CompressionLvl::new(i32::from(level))
                    .map_err(|e| CompressError::Gzip(format!("level {level}: {e:?}")))?;
                cell.insert(GzipState {
                    level,
                    compressor: libdeflater::Compressor::new(lvl),
                    scratch: Vec::new(),
                })
            }
        };
        let bound = state.compressor.gzip_compress_bound(data.len());
        let mut fresh = Vec::new();
        let out = if bound <= MAX_SCRATCH {
            if state.scratch.len() < bound {
                state.scratch.resize(bound, 0);
            }
            &mut state.scratch[..bound]
        } else {
            // A rare huge page (500 items of full text) is not worth keeping a buffer for.
            fresh.resize(bound, 0);
            &mut fresh[..]
        };
        let len = state
            .compressor
            .gzip_compress(data, out)
            .map_err(|e| CompressError::Gzip(format!("{e:?}")))?;
        Ok(out[..len].to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    use Encoding::{Brotli as Br, Gzip as Gz, Identity as Id};

    #[test]
    fn negotiate_table() {
        let cases: &[(Option<&str>, Option<Encoding>)] = &[
            // Absent / empty.
            (None, Some(Id)),
            (Some(""), Some(Id)),
            (Some("   "), Some(Id)),
            (Some(" , ,"), Some(Id)),
            // Single codings.
            (Some("gzip"), Some(Gz)),
            (Some("x-gzip"), Some(Gz)),
            (Some("br"), Some(Br)),
            (Some("identity"), Some(Id)),
            (Some("deflate"), Some(Id)),
            // Typical browser headers: tie at q=1 → br.
            (Some("gzip, deflate, br"), Some(Br)),
            (Some("gzip, deflate, br, zstd"), Some(Br)),
            (Some("gzip, deflate"), Some(Gz)),
            // Exclusions.
            (Some("br;q=0"), Some(Id)),
            (Some("br;q=0, gzip"), Some(Gz)),
            (Some("gzip;q=0, br;q=0"), Some(Id)),
            // q-values.
            (Some("gzip;q=0.5, br;q=0.4"), Some(Gz)),
            (Some("gzip;q=0.4, br;q=0.5"), Some(Br)),
            (Some("gzip;q=0.5, br;q=0.5"), Some(Br)),
            (Some("gzip;q=1.0, br;q=0.999"), Some(Gz)),
            (Some("gzip;q=0.001"), Some(Gz)),
            (Some("identity;q=0.5, gzip;q=0.4"), Some(Id)),
            (Some("identity, gzip"), Some(Gz)),
            (Some("identity;q=1, gzip;q=1, br;q=1"), Some(Br)),
            // Explicit identity beats a lower-weighted coding; implicit does not.
            (Some("gzip;q=0.3"), Some(Gz)),
            (Some("identity;q=0.4, gzip;q=0.3"), Some(Id)),
            // Whitespace and case tolerance.
            (Some("  GZIP ; Q = 0.5 ,  Br ;q=0.4 "), Some(Gz)),
            (Some("BR"), Some(Br)),
            (Some("X-GZIP"), Some(Gz)),
            (Some("Identity;Q=0"), None),
            // Wildcard.
            (Some("*"), Some(Br)),
            (Some("*;q=0.5"), Some(Br)),
            (Some("*;q=0.5, br;q=0.4"), Some(Gz)),
            (Some("*;q=0.5, gzip;q=0, br;q=0"), Some(Id)),
            (Some("*;q=0.5, gzip;q=0, br;q=0, identity;q=0"), None),
            (Some("*;q=0, identity;q=0"), None),
            (Some("*;q=0"), None),
            (Some("*;q=0, identity"), Some(Id)),
            (Some("*;q=0, gzip"), Some(Gz)),
            (Some("*;q=0, br;q=0.1"), Some(Br)),
            (Some("*;q=0.1, identity;q=0.2"), Some(Id)),
            (Some("identity;q=0"), None),
            (Some("identity;q=0, gzip"), Some(Gz)),
            (Some("identity;q=0, deflate"), None),
            // Invalid q → element treated as absent.
            (Some("br;q=2, gzip"), Some(Gz)),
            (Some("br;q=abc"), Some(Id)),
            (Some("br;q=1.5"), Some(Id)),
            (Some("br;q=0.0001"), Some(Id)),
            (Some("br;q=.5"), Some(Id)),
            (Some("br;q=-0"), Some(Id)),
            (Some("br;q="), Some(Id)),
            (Some("br;q"), Some(Id)),
            (Some("identity;q=bogus"), Some(Id)),
            (Some("*;q=x, identity;q=0"), None),
            (Some("br;q=0.5;q=x"), Some(Id)),
            // Valid q boundary spellings.
            (Some("br;q=1.000, gzip;q=0.999"), Some(Br)),
            (Some("br;q=0., gzip;q=0.0"), Some(Id)),
            (Some("br;q=1., gzip"), Some(Br)),
            // Unknown parameters are tolerated.
            (Some("gzip;level=9;q=0.5, br;q=0.1"), Some(Gz)),
            // Duplicates: most permissive wins, order-independent.
            (Some("gzip;q=0, x-gzip"), Some(Gz)),
            (Some("x-gzip, gzip;q=0"), Some(Gz)),
            // Garbage tokens are ignored, valid neighbours still count.
            (Some("gz ip, br"), Some(Br)),
            (Some("\"br\", gzip"), Some(Gz)),
            (Some(";q=1, gzip"), Some(Gz)),
            (Some("@@@, ;;;, ==="), Some(Id)),
            (Some("bröt, br;q=0"), Some(Id)),
            (Some("brotli"), Some(Id)),
        ];
        for (header, expected) in cases {
            assert_eq!(negotiate(*header), *expected, "Accept-Encoding: {header:?}");
        }
    }

    #[test]
    fn header_tokens() {
        assert_eq!(Id.content_encoding(), None);
        assert_eq!(Gz.content_encoding(), Some("gzip"));
        assert_eq!(Br.content_encoding(), Some("br"));
        assert_eq!((Id.tag(), Gz.tag(), Br.tag()), ("id", "gz", "br"));
    }

    #[test]
    fn qvalue_parsing() {
        let cases = [
            ("0", Some(0)),
            ("0.", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.123", Some(123)),
            ("1", Some(1000)),
            ("1.0", Some(1000)),
            ("1.000", Some(1000)),
            ("1.001", None),
            ("0.1234", None),
            ("2", None),
            ("01", None),
            ("", None),
            ("0.a", None),
            ("+0.5", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_qvalue(input), expected, "q={input:?}");
        }
    }

    fn sample() -> Vec<u8> {
        let item = "<item><title>Ratsversammlung beschließt Haushalt</title>\
                    <link>https://example.org/a</link></item>\n";
        let mut doc = String::from("<?xml version=\"1.0\"?><rss><channel>");
        for i in 0..200 {
            doc.push_str(&item.replace("/a<", &format!("/{i}<")));
        }
        doc.push_str("</channel></rss>");
        doc.into_bytes()
    }

    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data).read_to_end(&mut out).unwrap();
        out
    }

    fn unbrotli(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        brotli::Decompressor::new(data, 4096)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn identity_is_a_copy() {
        let data = sample();
        assert_eq!(compress(Id, &data, &Compression::default()).unwrap(), data);
        assert_eq!(compress(Id, b"", &Compression::default()).unwrap(), b"");
    }

    #[test]
    fn gzip_round_trip() {
        let data = sample();
        let packed = compress(Gz, &data, &Compression::default()).unwrap();
        assert_eq!(&packed[..2], &[0x1f, 0x8b], "gzip magic");
        assert!(packed.len() < data.len() / 4, "{} bytes", packed.len());
        assert_eq!(gunzip(&packed), data);
        assert_eq!(gunzip(&compress(Gz, b"", &Compression::default()).unwrap()), b"");
    }

    #[test]
    fn brotli_round_trip() {
        let data = sample();
        let packed = compress(Br, &data, &Compression::default()).unwrap();
        assert!(packed.len() < data.len() / 4, "{} bytes", packed.len());
        assert_eq!(unbrotli(&packed), data);
        assert_eq!(
            unbrotli(&compress(Br, b"", &Compression::default()).unwrap()),
            b""
        );
    }

    #[test]
    fn round_trip_incompressible() {
        // Pseudo-random bytes (xorshift) exercise the stored-block paths.
        let mut x: u32 = 0x9e37_79b9;
        let data: Vec<u8> = (0..70_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        assert_eq!(
            gunzip(&compress(Gz, &data, &Compression::default()).unwrap()),
            data
        );
        assert_eq!(
            unbrotli(&compress(Br, &data, &Compression::default()).unwrap()),
            data
        );
    }

    #[test]
    fn compression_is_deterministic() {
        // ETags are derived from the coded bytes, so output must be stable.
        let data = sample();
        assert_eq!(
            compress(Gz, &data, &Compression::default()).unwrap(),
            compress(Gz, &data, &Compression::default()).unwrap()
        );
        assert_eq!(
            compress(Br, &data, &Compression::default()).unwrap(),
            compress(Br, &data, &Compression::default()).unwrap()
        );
    }
}
