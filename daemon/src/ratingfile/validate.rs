//! Validation of a rating file's header, section table, block table and
//! id tables: everything but the records, so that opening is cheap.

use std::path::Path;

use funk_kernel::Rating;
use xxhash_rust::xxh3::xxh3_64;

use super::ids::IdTable;
use super::layout::{
    BlockEntry, RawHeader, Section, BLOCK_ENTRY_LEN, ENDIAN_WORD, FLAG_MEAN_RMSE, FLAG_NOISE_FLOOR,
    FLAG_RANGE, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_GRID, SECTION_ALIGN,
};
use super::FormatError;

/// Validates `bytes` as a rating file (everything but the records) and
/// returns its header.
pub(crate) fn validate(path: &Path, bytes: &[u8]) -> Result<RawHeader, FormatError> {
    let bad = |what: String| FormatError::corrupt(path, what);
    let prefix = &bytes[..bytes.len().min(8)];
    if prefix != &MAGIC[..prefix.len()] || bytes.len() < 8 {
        let foreign = super::foreign::describe(path, bytes);
        return Err(FormatError::BadMagic {
            path: path.to_path_buf(),
            looks_like: foreign.looks_like,
            advice: foreign.advice,
        });
    }
    if bytes.len() < HEADER_LEN {
        return Err(bad(format!(
            "the file is {} bytes, shorter than the {HEADER_LEN}-byte header (truncated)",
            bytes.len()
        )));
    }
    let header: RawHeader = bytemuck::pod_read_unaligned(&bytes[..HEADER_LEN]);
    if header.version > FORMAT_VERSION {
        return Err(FormatError::FutureVersion {
            path: path.to_path_buf(),
            found: header.version,
            supported: FORMAT_VERSION,
        });
    }
    if header.version == 0 {
        return Err(bad("format version 0 does not exist".into()));
    }
    if header.endian != ENDIAN_WORD {
        return Err(bad(format!(
            "byte-order word is {:#010x}, expected {ENDIAN_WORD:#010x} (the file is little-endian; this machine or the file is not)",
            header.endian
        )));
    }
    let computed = header.compute_hash();
    if computed != header.header_hash {
        return Err(FormatError::Checksum {
            path: path.to_path_buf(),
            section: "header".into(),
            stored: header.header_hash,
            computed,
        });
    }
    if header.header_len != HEADER_LEN as u64 {
        return Err(bad(format!(
            "header length {} (expected {HEADER_LEN})",
            header.header_len
        )));
    }
    if header.file_len != bytes.len() as u64 {
        return Err(bad(format!(
            "the header says the file is {} bytes but it is {} bytes ({})",
            header.file_len,
            bytes.len(),
            if (bytes.len() as u64) < header.file_len {
                "truncated"
            } else {
                "data appended"
            }
        )));
    }
    let p = header.grid;
    if p == 0 || p > MAX_GRID as u64 {
        return Err(bad(format!("grid {p} is outside 1..={MAX_GRID}")));
    }
    if header.users < p
        || header.items < p
        || header.users > u64::from(u32::MAX)
        || header.items > u64::from(u32::MAX)
    {
        return Err(bad(format!(
            "{} users and {} items cannot fill a {p} × {p} grid",
            header.users, header.items
        )));
    }
    if !header.mean.is_finite() {
        return Err(bad(format!("mean rating {} is not finite", header.mean)));
    }
    if header.flags & !(FLAG_RANGE | FLAG_NOISE_FLOOR | FLAG_MEAN_RMSE) != 0 {
        return Err(bad(format!("unknown header flags {:#x}", header.flags)));
    }
    if header.flags & FLAG_RANGE != 0 {
        let [lo, hi] = header.range;
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(bad(format!(
                "rating range {lo}..{hi} is not a finite interval"
            )));
        }
    }
    check_sections(path, &header)?;
    check_padding(path, &header, bytes)?;

    // The small sections are checksummed on open (a few MB at most).
    for s in Section::ALL {
        if s == Section::Records {
            continue;
        }
        let sec = header.section(s);
        let computed = xxh3_64(&bytes[sec.range()]);
        if computed != sec.hash {
            return Err(FormatError::Checksum {
                path: path.to_path_buf(),
                section: s.name().into(),
                stored: sec.hash,
                computed,
            });
        }
    }
    let table: &[BlockEntry] =
        bytemuck::try_cast_slice(&bytes[header.section(Section::BlockTable).range()])
            .map_err(|e| bad(format!("block table is misaligned: {e}")))?;
    let (mut train_next, mut test_next) = (0u64, header.train_count);
    for (b, e) in table.iter().enumerate() {
        if e.train_start != train_next || e.test_start != test_next {
            return Err(bad(format!(
                "block ({}, {}) starts at train record {} / test record {}, expected {train_next} / {test_next}",
                b as u64 / p, b as u64 % p, e.train_start, e.test_start
            )));
        }
        train_next = train_next
            .checked_add(e.train_len)
            .ok_or_else(|| bad("block table counts overflow".into()))?;
        test_next = test_next
            .checked_add(e.test_len)
            .ok_or_else(|| bad("block table counts overflow".into()))?;
    }
    if train_next != header.train_count || test_next != header.train_count + header.test_count {
        return Err(bad(format!(
            "the block table holds {train_next} train and {} test records, the header says {} and {}",
            test_next - header.train_count,
            header.train_count,
            header.test_count
        )));
    }
    let records = &bytes[header.section(Section::Records).range()];
    if bytemuck::try_cast_slice::<u8, Rating>(records).is_err() {
        return Err(bad("the records section is misaligned".into()));
    }
    for (who, offsets, text, sorted, n) in [
        (
            "user id",
            Section::UserOffsets,
            Section::UserBytes,
            Section::UserSorted,
            header.users,
        ),
        (
            "item id",
            Section::ItemOffsets,
            Section::ItemBytes,
            Section::ItemSorted,
            header.items,
        ),
    ] {
        let offsets: &[u64] = bytemuck::try_cast_slice(&bytes[header.section(offsets).range()])
            .map_err(|e| bad(format!("{who} offsets are misaligned: {e}")))?;
        let table = IdTable {
            offsets,
            bytes: &bytes[header.section(text).range()],
        };
        table.validate(who).map_err(bad)?;
        let sorted: &[u32] = bytemuck::try_cast_slice(&bytes[header.section(sorted).range()])
            .map_err(|e| bad(format!("{who} index is misaligned: {e}")))?;
        if sorted.len() as u64 != n || offsets.len() as u64 != n + 1 {
            return Err(bad(format!("{who} tables do not hold {n} ids")));
        }
    }
    if std::str::from_utf8(&bytes[header.section(Section::Source).range()]).is_err() {
        return Err(bad("the source text is not valid UTF-8".into()));
    }
    Ok(header)
}

/// Checks that the sections are aligned, in order, inside the file, and
/// as long as the counts say.
fn check_sections(path: &Path, h: &RawHeader) -> Result<(), FormatError> {
    let bad = |what: String| FormatError::corrupt(path, what);
    let mul = |a: u64, b: u64| {
        a.checked_mul(b)
            .ok_or_else(|| bad("header counts overflow".into()))
    };
    let records = mul(
        h.train_count
            .checked_add(h.test_count)
            .ok_or_else(|| bad("header counts overflow".into()))?,
        12,
    )?;
    let expected: [Option<u64>; 9] = [
        Some(mul(mul(h.grid, h.grid)?, BLOCK_ENTRY_LEN as u64)?),
        Some(records),
        Some(mul(h.users + 1, 8)?),
        None,
        Some(mul(h.users, 4)?),
        Some(mul(h.items + 1, 8)?),
        None,
        Some(mul(h.items, 4)?),
        None,
    ];
    let mut end = HEADER_LEN as u64;
    for s in Section::ALL {
        let sec = h.section(s);
        if !sec.offset.is_multiple_of(SECTION_ALIGN) || sec.offset < end {
            return Err(bad(format!(
                "the {} section starts at a bad offset ({})",
                s.name(),
                sec.offset
            )));
        }
        if let Some(len) = expected[s as usize] {
            if sec.len != len {
                return Err(bad(format!(
                    "the {} section is {} bytes, the header's counts need {len}",
                    s.name(),
                    sec.len
                )));
            }
        }
        end = sec
            .offset
            .checked_add(sec.len)
            .filter(|&e| e <= h.file_len)
            .ok_or_else(|| {
                bad(format!(
                    "the {} section ({} bytes at {}) runs past the end of the {}-byte file",
                    s.name(),
                    sec.len,
                    sec.offset,
                    h.file_len
                ))
            })?;
    }
    if end != h.file_len {
        return Err(bad(format!(
            "{} bytes after the last section",
            h.file_len - end
        )));
    }
    Ok(())
}

/// The alignment gaps between sections must be zero (no checksum covers
/// them, so this is how a flipped bit there is caught).
fn check_padding(path: &Path, h: &RawHeader, bytes: &[u8]) -> Result<(), FormatError> {
    let mut end = HEADER_LEN;
    for s in Section::ALL {
        let sec = h.section(s);
        if bytes[end..sec.offset as usize].iter().any(|&b| b != 0) {
            return Err(FormatError::corrupt(
                path,
                format!("non-zero padding before the {} section", s.name()),
            ));
        }
        end = (sec.offset + sec.len) as usize;
    }
    Ok(())
}
