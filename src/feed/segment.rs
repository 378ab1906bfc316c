//! Deflate segments that join into one gzip member (RFC 1951, RFC 1952).
//!
//! A segment is raw deflate from a fresh compressor, ended by a sync flush: it ends on a byte
//! boundary, has no final block, and refers to nothing before its own start. Any sequence of
//! such segments followed by one ended with the final block is therefore one valid deflate
//! stream (the technique pigz uses to compress in parallel), and a gzip header, that stream, the
//! CRC-32 and the length of the whole text make a gzip member any client inflates. That lets a
//! feed compress each item once and reuse it in every page that lists it ([`super::stitch`]).
//!
//! The price is ratio: an item cannot refer back to the items before it. lenta pays it only on
//! pages that miss the render cache; see the module doc of [`super::stitch`].

use std::cell::RefCell;

use flate2::{Compress, CompressError, Compression, FlushCompress, Status};

/// The most deflate grows incompressible input by, per call, beyond its stored-block headers.
const SLACK: usize = 64;

thread_local! {
    /// This thread's compressor and its level: deflate's state is a few hundred KiB, so it is
    /// reset between segments rather than allocated for each.
    static DEFLATE: RefCell<Option<(u32, Compress)>> = const { RefCell::new(None) };
}

/// `data` as a segment (sync-flushed, not final) at gzip `level` (1..=9; higher is clamped).
pub fn segment(data: &[u8], level: u8) -> Result<Vec<u8>, CompressError> {
    deflate(data, level, FlushCompress::Sync)
}

/// `data` as the last segment of a stream (with the final block).
pub fn last_segment(data: &[u8], level: u8) -> Result<Vec<u8>, CompressError> {
    deflate(data, level, FlushCompress::Finish)
}

fn deflate(data: &[u8], level: u8, flush: FlushCompress) -> Result<Vec<u8>, CompressError> {
    let level = u32::from(level.clamp(1, 9));
    DEFLATE.with(|cell| {
        let mut cell = cell.borrow_mut();
        let compress = match cell.take() {
            Some((l, mut c)) if l == level => {
                c.reset();
                &mut cell.insert((l, c)).1
            }
            _ => {
                &mut cell
                    .insert((level, Compress::new(Compression::new(level), false)))
                    .1
            }
        };
        // Stored blocks cost 5 bytes per 64 KiB: this bound fits the worst case in one call.
        let mut out = Vec::with_capacity(data.len() + data.len() / 8192 * 5 + SLACK);
        let mut input = data;
        loop {
            let before = compress.total_in();
            let status = compress.compress_vec(input, &mut out, flush)?;
            input = &input[(compress.total_in() - before) as usize..];
            let room_left = out.len() < out.capacity();
            match status {
                Status::StreamEnd => break,
                _ if input.is_empty() && room_left && matches!(flush, FlushCompress::Sync) => break,
                _ => out.reserve(out.capacity().max(SLACK)),
            }
        }
        Ok(out)
    })
}

/// One gzip member of `text`, whose deflate stream is `segments` in order (all but the last
/// sync-flushed, see [`segment`]; the last from [`last_segment`]).
pub fn gzip_member<'a>(segments: impl IntoIterator<Item = &'a [u8]>, text: &[u8]) -> Vec<u8> {
    // ID1 ID2, CM = deflate, no flags, MTIME 0 (none: the bytes must not depend on the clock),
    // XFL 0, OS 255 (unknown). RFC 1952 §2.3.
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut out = Vec::with_capacity(text.len() / 3 + 64);
    out.extend_from_slice(&HEADER);
    for segment in segments {
        out.extend_from_slice(segment);
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(text);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    // ISIZE is the length modulo 2^32.
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    #[test]
    fn segments_join_into_one_member() {
        let parts: Vec<Vec<u8>> = vec![
            "<rss><channel>".repeat(40).into_bytes(),
            Vec::new(),
            "<item>ёлка</item>".repeat(500).into_bytes(),
            (0..70_000u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect(),
        ];
        let tail = b"</channel></rss>";
        for level in [1, 6, 9, 12] {
            let mut segments: Vec<Vec<u8>> = parts.iter().map(|p| segment(p, level).unwrap()).collect();
            segments.push(last_segment(tail, level).unwrap());
            let text: Vec<u8> = parts.iter().flatten().chain(tail).copied().collect();
            let member = gzip_member(segments.iter().map(Vec::as_slice), &text);
            assert_eq!(gunzip(&member), text, "level {level}");
        }
    }

    #[test]
    fn a_segment_is_the_same_bytes_every_time() {
        let data = "Нижний Новгород ".repeat(100).into_bytes();
        assert_eq!(segment(&data, 6).unwrap(), segment(&data, 6).unwrap());
        assert_ne!(segment(&data, 1).unwrap(), last_segment(&data, 1).unwrap());
    }
}
