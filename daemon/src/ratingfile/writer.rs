//! Turning a [`RatingSet`] into a rating file: random dense renumbering,
//! blocking, sorting, checksums, one atomic write.

use std::io::Write;
use std::path::Path;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;
use xxhash_rust::xxh3::xxh3_64;

use super::ids::encode_ids;
use super::layout::{
    align_up, default_grid, BlockEntry, RawHeader, Section, SectionRef, ENDIAN_WORD,
    FLAG_MEAN_RMSE, FLAG_NOISE_FLOOR, FLAG_RANGE, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_GRID,
    SECTIONS,
};
use super::{FormatError, RatingSet, Triple};

/// How to write a rating file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// P, the grid is P × P blocks; `None` picks [`super::default_grid`].
    pub grid: Option<usize>,
    /// Seed of the random renumbering of user and item ids.
    pub seed: u64,
}

/// What was written.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WriteSummary {
    /// Users (rows).
    pub users: usize,
    /// Items (columns).
    pub items: usize,
    /// Train ratings.
    pub train: u64,
    /// Test ratings.
    pub test: u64,
    /// P.
    pub grid: usize,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// The file's content identity (see [`super::RatingFile::identity`]).
    pub identity: u64,
    /// Mean train rating.
    pub mean: f64,
}

/// Writes `set` to `path` atomically (temporary file, fsync, rename): on
/// any error nothing is left at `path`, or the old file stays.
///
/// Users and items are renumbered by a random permutation seeded with
/// `opts.seed`; records are grouped into the P × P blocks and sorted by
/// user then item within each block. A (user, item) pair may appear at
/// most once in train and once in test; values must be finite.
pub fn write(
    path: &Path,
    set: &RatingSet,
    opts: &WriteOptions,
) -> Result<WriteSummary, FormatError> {
    write_to(path, set, opts, Output::File)
}

/// The bytes [`write()`] would put in a file, in memory (for tests and the
/// fuzz targets; nothing touches the disk).
pub fn encode(
    set: &RatingSet,
    opts: &WriteOptions,
) -> Result<(Vec<u8>, WriteSummary), FormatError> {
    let mut bytes = Vec::new();
    let summary = write_to(Path::new("<memory>"), set, opts, Output::Memory(&mut bytes))?;
    Ok((bytes, summary))
}

/// Where the bytes go.
enum Output<'a> {
    /// Atomically to the path.
    File,
    /// Into this buffer.
    Memory(&'a mut Vec<u8>),
}

fn write_to(
    path: &Path,
    set: &RatingSet,
    opts: &WriteOptions,
    out: Output<'_>,
) -> Result<WriteSummary, FormatError> {
    let users = set.user_ids.len();
    let items = set.item_ids.len();
    check_set(path, set)?;
    let grid = match opts.grid {
        Some(p) if p == 0 || p > MAX_GRID => {
            return Err(FormatError::invalid(
                path,
                format!("grid {p} is outside 1..={MAX_GRID}"),
            ))
        }
        Some(p) if p > users || p > items => {
            return Err(FormatError::invalid(
                path,
                format!("grid {p} is larger than the number of users ({users}) or items ({items}); every band must be non-empty"),
            ))
        }
        Some(p) => p,
        None => default_grid(users, items, set.train.len() as u64),
    };

    let mut rng = Xoshiro256PlusPlus::seed_from_u64(opts.seed);
    let mut user_load = vec![0u64; users];
    let mut item_load = vec![0u64; items];
    for t in &set.train {
        user_load[t.user as usize] += 1;
        item_load[t.item as usize] += 1;
    }
    let user_perm = super::blocking::balanced_permutation(&user_load, grid, &mut rng);
    let item_perm = super::blocking::balanced_permutation(&item_load, grid, &mut rng);
    let ctx = super::blocking::Blocking {
        grid,
        users,
        items,
        user_perm: &user_perm,
        item_perm: &item_perm,
        user_ids: &set.user_ids,
        item_ids: &set.item_ids,
    };

    let (train_records, train_spans) = ctx.block(path, &set.train, "train")?;
    let (test_records, test_spans) = ctx.block(path, &set.test, "test")?;

    let train_count = train_records.len() as u64;
    let mut table = Vec::with_capacity(grid * grid);
    for (tr, te) in train_spans.iter().zip(&test_spans) {
        table.push(BlockEntry {
            train_start: tr.start as u64,
            train_len: tr.len() as u64,
            test_start: train_count + te.start as u64,
            test_len: te.len() as u64,
            train_hash: xxh3_64(bytemuck::cast_slice(&train_records[tr.clone()])),
            test_hash: xxh3_64(bytemuck::cast_slice(&test_records[te.clone()])),
        });
    }

    // Id tables in internal order.
    let mut user_names: Vec<&str> = vec![""; users];
    for (ext, &int) in user_perm.iter().enumerate() {
        user_names[int as usize] = &set.user_ids[ext];
    }
    let mut item_names: Vec<&str> = vec![""; items];
    for (ext, &int) in item_perm.iter().enumerate() {
        item_names[int as usize] = &set.item_ids[ext];
    }
    let user_tables = encode_ids(&user_names).map_err(|dup| {
        FormatError::invalid(path, format!("user id {dup:?} appears more than once"))
    })?;
    let item_tables = encode_ids(&item_names).map_err(|dup| {
        FormatError::invalid(path, format!("item id {dup:?} appears more than once"))
    })?;

    let mean = mean_of(&set.train);
    let contents: [&[u8]; SECTIONS] = [
        bytemuck::cast_slice(&table),
        &[], // records: written from two vectors below
        bytemuck::cast_slice(&user_tables.offsets),
        &user_tables.bytes,
        bytemuck::cast_slice(&user_tables.sorted),
        bytemuck::cast_slice(&item_tables.offsets),
        &item_tables.bytes,
        bytemuck::cast_slice(&item_tables.sorted),
        set.meta.source.as_bytes(),
    ];
    let records_len = (train_records.len() + test_records.len()) as u64 * 12;

    let mut sections = [SectionRef::default(); SECTIONS];
    let mut offset = align_up(HEADER_LEN as u64);
    for s in Section::ALL {
        let len = if s == Section::Records {
            records_len
        } else {
            contents[s as usize].len() as u64
        };
        let hash = if s == Section::Records {
            0
        } else {
            xxh3_64(contents[s as usize])
        };
        sections[s as usize] = SectionRef { offset, len, hash };
        offset = align_up(offset + len);
    }
    let file_len = sections[SECTIONS - 1].offset + sections[SECTIONS - 1].len;

    let meta = &set.meta;
    let mut flags = 0;
    if meta.rating_range.is_some() {
        flags |= FLAG_RANGE;
    }
    if meta.noise_floor.is_some() {
        flags |= FLAG_NOISE_FLOOR;
    }
    if meta.mean_rmse.is_some() {
        flags |= FLAG_MEAN_RMSE;
    }
    let (lo, hi) = meta.rating_range.unwrap_or((0.0, 0.0));
    let mut header = RawHeader {
        magic: MAGIC,
        version: FORMAT_VERSION,
        endian: ENDIAN_WORD.to_le(),
        header_len: HEADER_LEN as u64,
        file_len,
        grid: grid as u64,
        users: users as u64,
        items: items as u64,
        train_count,
        test_count: test_records.len() as u64,
        mean,
        flags,
        range: [lo, hi],
        noise_floor: meta.noise_floor.unwrap_or(0.0),
        mean_rmse: meta.mean_rmse.unwrap_or(0.0),
        seed: opts.seed,
        sections,
        reserved: [0; 21],
        header_hash: 0,
    };
    header.header_hash = header.compute_hash();

    let emit = |w: &mut dyn Write| -> std::io::Result<()> {
        let mut pos = 0u64;
        let mut put = |w: &mut dyn Write, bytes: &[u8], at: u64| -> std::io::Result<()> {
            debug_assert!(at >= pos);
            let pad = (at - pos) as usize;
            w.write_all(&[0u8; 64][..pad])?;
            w.write_all(bytes)?;
            pos = at + bytes.len() as u64;
            Ok(())
        };
        put(w, bytemuck::bytes_of(&header), 0)?;
        for s in Section::ALL {
            let at = sections[s as usize].offset;
            if s == Section::Records {
                put(w, bytemuck::cast_slice(&train_records), at)?;
                put(
                    w,
                    bytemuck::cast_slice(&test_records),
                    at + train_count * 12,
                )?;
            } else {
                put(w, contents[s as usize], at)?;
            }
        }
        Ok(())
    };
    let failed = |message: String| FormatError::Write {
        path: path.to_path_buf(),
        message,
    };
    match out {
        Output::File => crate::atomic::write_atomically(path, |w| Ok(emit(w)?))
            .map_err(|e| failed(format!("{e:#}")))?,
        Output::Memory(buf) => emit(buf).map_err(|e| failed(e.to_string()))?,
    }

    Ok(WriteSummary {
        users,
        items,
        train: train_count,
        test: test_records.len() as u64,
        grid,
        bytes: file_len,
        identity: header.header_hash,
        mean,
    })
}

fn check_set(path: &Path, set: &RatingSet) -> Result<(), FormatError> {
    let (users, items) = (set.user_ids.len(), set.item_ids.len());
    if users == 0 || items == 0 || set.train.is_empty() {
        return Err(FormatError::invalid(
            path,
            "the data set has no training ratings",
        ));
    }
    if users > u32::MAX as usize || items > u32::MAX as usize {
        return Err(FormatError::invalid(
            path,
            "more than 2^32 − 1 users or items",
        ));
    }
    for (which, triples) in [("train", &set.train), ("test", &set.test)] {
        for (n, t) in triples.iter().enumerate() {
            if t.user as usize >= users || t.item as usize >= items {
                return Err(FormatError::invalid(
                    path,
                    format!("{which} rating #{n} refers to user {} / item {} beyond the id tables ({users} users, {items} items)", t.user, t.item),
                ));
            }
            if !t.value.is_finite() {
                return Err(FormatError::invalid(
                    path,
                    format!("{which} rating #{n} is not finite ({})", t.value),
                ));
            }
        }
    }
    if let Some((lo, hi)) = set.meta.rating_range {
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(FormatError::invalid(
                path,
                format!("bad rating range {lo}..{hi}"),
            ));
        }
    }
    Ok(())
}

fn mean_of(ratings: &[Triple]) -> f64 {
    ratings.iter().map(|t| f64::from(t.value)).sum::<f64>() / ratings.len().max(1) as f64
}
