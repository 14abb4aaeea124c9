//! Turning a [`RatingSet`] into a rating file: random dense renumbering,
//! blocking, sorting, checksums, one atomic write.

use std::io::Write;
use std::path::Path;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;
use xxhash_rust::xxh3::xxh3_64;

use super::ids::{encode_ids, IdTables};
use super::layout::{
    default_grid, place_sections, BlockEntry, HeaderFields, Section, MAX_GRID, SECTIONS,
};
use super::{FormatError, RatingSet, Triple};
use crate::courtesy::Pacer;

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

    let user_tables = id_tables(path, "user", &user_perm, |ext| &set.user_ids[ext])?;
    let item_tables = id_tables(path, "item", &item_perm, |ext| &set.item_ids[ext])?;

    let mean = mean_of(&set.train);
    // The records are written from two vectors below.
    let contents = section_contents(&table, &user_tables, &item_tables, &set.meta.source);
    let mut lens = contents.map(|c| c.len() as u64);
    lens[Section::Records as usize] = (train_records.len() + test_records.len()) as u64 * 12;
    let (mut sections, file_len) = place_sections(lens);
    for s in Section::ALL {
        if s != Section::Records {
            sections[s as usize].hash = xxh3_64(contents[s as usize]);
        }
    }

    let meta = &set.meta;
    let header = HeaderFields {
        file_len,
        grid,
        users,
        items,
        train_count,
        test_count: test_records.len() as u64,
        mean,
        range: meta.rating_range,
        noise_floor: meta.noise_floor,
        mean_rmse: meta.mean_rmse,
        seed: opts.seed,
        sections,
    }
    .seal();

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

/// The id tables of a file whose ids are renumbered by `perm` (external
/// index → internal one), `name` giving the id of an external index: the
/// ids in internal order, encoded. `what` ("user", "item") names them in
/// the error for an id that appears twice.
pub(super) fn id_tables<'n>(
    path: &Path,
    what: &str,
    perm: &[u32],
    name: impl Fn(usize) -> &'n str,
) -> Result<IdTables, FormatError> {
    let mut names: Vec<&str> = vec![""; perm.len()];
    let mut pacer = Pacer::new();
    for (ext, &int) in perm.iter().enumerate() {
        pacer.step();
        names[int as usize] = name(ext);
    }
    encode_ids(&names).map_err(|dup| {
        FormatError::invalid(path, format!("{what} id {dup:?} appears more than once"))
    })
}

/// The bytes of every section but the records (left empty), indexed by
/// [`Section`]: the block table `table`, the user and item id tables, the
/// provenance text `source`.
pub(super) fn section_contents<'a>(
    table: &'a [BlockEntry],
    users: &'a IdTables,
    items: &'a IdTables,
    source: &'a str,
) -> [&'a [u8]; SECTIONS] {
    [
        bytemuck::cast_slice(table),
        &[],
        bytemuck::cast_slice(&users.offsets),
        &users.bytes,
        bytemuck::cast_slice(&users.sorted),
        bytemuck::cast_slice(&items.offsets),
        &items.bytes,
        bytemuck::cast_slice(&items.sorted),
        source.as_bytes(),
    ]
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
