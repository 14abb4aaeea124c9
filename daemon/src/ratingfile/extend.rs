//! A new rating file from an existing one plus extra train ratings, written
//! without reading the old file into memory: what a training round of the
//! service (and `funkd compact`) makes from the served data and the
//! ingest log.
//!
//! The new file keeps every user and item of the old one (its id maps
//! extend the old ones, matched by original id) and adds the new ones the
//! extra ratings bring. An extra rating of a (user, item) pair the old
//! train split has replaces it; among extra ratings of one pair the last
//! one wins. The test split is the old one. Ids are renumbered by the same
//! seeded, balanced permutation [`super::write`] uses (the old file's
//! seed), so the blocks stay balanced as the data grows.
//!
//! Memory: the old file is read through its memory map, block by block;
//! the new one is written to a temporary file, synced and renamed over the
//! target. What is held in memory is per user and per item (load counts,
//! the permutation, the id tables), the extra ratings, and the records of
//! one run of the new file's user bands ([`RUN_BYTES`], unless one band
//! holds more): the records are written a run at a time, each run from a
//! pass over the old file, never all of either file at once.
//!
//! Disk: what is written goes to the disk as it is written, a piece at a
//! time ([`PacedWrites`]), so that the page cache never holds more than a
//! few pieces of it dirty. A server writing the file in the background
//! then never has gigabytes to write back at once, the burst of kernel
//! work (and the stalls of every other writer of the disk) that no thread
//! priority holds back. The pieces are small and each is written in
//! smaller calls still ([`WRITE_CALL_BYTES`]): the kernel work of one
//! call (copying into the page cache, starting a piece's writeback) runs
//! to its end before a waiting thread gets the CPU on a kernel without
//! preemption, and 8 MiB at once cost the queries of a server on the
//! same CPU about 4 ms at their 99th percentile.
//!
//! CPU: every long loop (over the old records, the extra ratings, the ids;
//! each block's sort and checksum) passes a pause point at a fine grain
//! ([`crate::courtesy`]), where a background thread hands the CPU back to
//! waiting queries every 200 µs of work instead of holding it to the
//! scheduler's next tick. The pause points change nothing the file holds.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use funk_kernel::Rating;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::layout::{
    band_of, band_range, default_grid, place_sections, BlockEntry, HeaderFields, Section,
};
use super::writer::{id_tables, section_contents};
use super::{FormatError, RatingFile, WriteSummary};
use crate::courtesy::{self, xxh3_64, Pacer};

/// One extra rating by original ids.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtraRating {
    /// The user's original id.
    pub user: String,
    /// The item's original id.
    pub item: String,
    /// The rating.
    pub value: f32,
}

/// What [`extend`] wrote, beyond the file's summary.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtendSummary {
    /// The new file.
    pub written: WriteSummary,
    /// Extra ratings given.
    pub extra: u64,
    /// Extra ratings that replaced an old train rating or an earlier extra
    /// rating of the same pair.
    pub replaced: u64,
    /// Users the extra ratings introduced.
    pub new_users: usize,
    /// Items the extra ratings introduced.
    pub new_items: usize,
}

/// How many bytes of the new file's records a pass over the old file
/// gathers in memory at most (unless one user band holds more).
pub const RUN_BYTES: usize = 128 << 20;

/// Writes `base` plus `extra` to `out` atomically (see the module docs).
/// `source` is the provenance text of the new file.
pub fn extend(
    base: &RatingFile,
    extra: &[ExtraRating],
    out: &Path,
    source: &str,
) -> Result<ExtendSummary, FormatError> {
    extend_in_runs(base, extra, out, source, RUN_BYTES)
}

/// [`extend`], gathering at most `run_bytes` of records a pass.
fn extend_in_runs(
    base: &RatingFile,
    extra: &[ExtraRating],
    out: &Path,
    source: &str,
    run_bytes: usize,
) -> Result<ExtendSummary, FormatError> {
    let invalid = |what: String| FormatError::invalid(out, what);
    let (old_users, old_items) = (base.users(), base.items());
    // New users and items take the indices after the old ones, in the
    // order the extra ratings bring them.
    let mut new_user_ids: Vec<&str> = Vec::new();
    let mut new_item_ids: Vec<&str> = Vec::new();
    let mut new_users: HashMap<&str, u32> = HashMap::new();
    let mut new_items: HashMap<&str, u32> = HashMap::new();
    let user_index = base.user_index();
    let item_index = base.item_index();
    // Latest value of each extra pair, by new external index.
    let mut latest: HashMap<(u32, u32), f32> = HashMap::with_capacity(extra.len());
    let mut pacer = Pacer::every(64);
    for r in extra {
        pacer.step();
        if !r.value.is_finite() {
            return Err(invalid(format!(
                "an extra rating of user {:?}, item {:?} is not finite ({})",
                r.user, r.item, r.value
            )));
        }
        let u = match user_index.get(&r.user) {
            Some(u) => u as u32,
            None => *new_users.entry(&r.user).or_insert_with(|| {
                new_user_ids.push(&r.user);
                (old_users + new_user_ids.len() - 1) as u32
            }),
        };
        let i = match item_index.get(&r.item) {
            Some(i) => i as u32,
            None => *new_items.entry(&r.item).or_insert_with(|| {
                new_item_ids.push(&r.item);
                (old_items + new_item_ids.len() - 1) as u32
            }),
        };
        latest.insert((u, i), r.value);
    }
    let users = old_users + new_user_ids.len();
    let items = old_items + new_item_ids.len();
    if users > u32::MAX as usize || items > u32::MAX as usize {
        return Err(invalid("more than 2^32 − 1 users or items".into()));
    }
    let mut pacer = Pacer::new();
    let mut extras: Vec<(u32, u32, f32)> = latest
        .iter()
        .map(|(&(u, i), &v)| {
            pacer.step();
            (u, i, v)
        })
        .collect();
    // The pairs are distinct: any order of the sort is this one.
    extras.sort_unstable_by(|a, b| {
        pacer.step();
        (a.0, a.1).cmp(&(b.0, b.1))
    });
    let replaces: HashSet<(u32, u32)> = extras
        .iter()
        .filter(|&&(u, i, _)| (u as usize) < old_users && (i as usize) < old_items)
        .map(|&(u, i, _)| {
            pacer.step();
            (u, i)
        })
        .collect();

    // Pass 1 over the old train blocks: loads, and the old ratings kept.
    let p_old = base.grid();
    let mut user_load = vec![0u64; users];
    let mut item_load = vec![0u64; items];
    let mut replaced_old = 0u64;
    for ub in 0..p_old {
        let u0 = base.user_band(ub).start as u32;
        for ib in 0..p_old {
            let i0 = base.item_band(ib).start as u32;
            for r in base.checked_train_records(ub, ib)? {
                pacer.step();
                let (u, i) = (u0 + r.user, i0 + r.item);
                if replaces.contains(&(u, i)) {
                    replaced_old += 1;
                    continue;
                }
                user_load[u as usize] += 1;
                item_load[i as usize] += 1;
            }
        }
    }
    for &(u, i, _) in &extras {
        pacer.step();
        user_load[u as usize] += 1;
        item_load[i as usize] += 1;
    }
    let train_count = base.train_count() - replaced_old + extras.len() as u64;
    let test_count = base.test_count();
    let grid = default_grid(users, items, train_count);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(base.seed());
    let user_perm = super::blocking::balanced_permutation(&user_load, grid, &mut rng);
    let item_perm = super::blocking::balanced_permutation(&item_load, grid, &mut rng);
    drop((user_load, item_load));
    let place = |u: u32, i: u32| {
        let (nu, ni) = (
            user_perm[u as usize] as usize,
            item_perm[i as usize] as usize,
        );
        let (ub, ib) = (band_of(users, grid, nu), band_of(items, grid, ni));
        let record = Rating {
            user: (nu - band_range(users, grid, ub).start) as u32,
            item: (ni - band_range(items, grid, ib).start) as u32,
            value: 0.0,
        };
        (ub * grid + ib, record)
    };

    // Pass 2: how many records each new block gets.
    let mut train_per_block = vec![0u64; grid * grid];
    let mut test_per_block = vec![0u64; grid * grid];
    let each_old = |f: &mut dyn FnMut(u32, u32, f32, bool)| -> Result<(), FormatError> {
        let mut pacer = Pacer::new();
        for ub in 0..p_old {
            let u0 = base.user_band(ub).start as u32;
            for ib in 0..p_old {
                let i0 = base.item_band(ib).start as u32;
                for r in base.checked_train_records(ub, ib)? {
                    pacer.step();
                    f(u0 + r.user, i0 + r.item, r.value, true);
                }
                for r in base.checked_test_records(ub, ib)? {
                    pacer.step();
                    f(u0 + r.user, i0 + r.item, r.value, false);
                }
            }
        }
        Ok(())
    };
    each_old(&mut |u, i, _, train| {
        if train && replaces.contains(&(u, i)) {
            return;
        }
        let (b, _) = place(u, i);
        if train {
            train_per_block[b] += 1;
        } else {
            test_per_block[b] += 1;
        }
    })?;
    for &(u, i, _) in &extras {
        pacer.step();
        train_per_block[place(u, i).0] += 1;
    }
    let starts = |counts: &[u64], from: u64| -> Vec<u64> {
        let mut acc = from;
        counts
            .iter()
            .map(|c| {
                let s = acc;
                acc += c;
                s
            })
            .collect()
    };
    let train_starts = starts(&train_per_block, 0);
    let test_starts = starts(&test_per_block, train_count);

    // Id tables in the new internal order.
    let name_of_user = |ext: usize| -> &str {
        if ext < old_users {
            base.user_id(ext)
        } else {
            new_user_ids[ext - old_users]
        }
    };
    let name_of_item = |ext: usize| -> &str {
        if ext < old_items {
            base.item_id(ext)
        } else {
            new_item_ids[ext - old_items]
        }
    };
    let user_tables = id_tables(out, "user", &user_perm, name_of_user)?;
    let item_tables = id_tables(out, "item", &item_perm, name_of_item)?;

    // The layout: the block table and the records are written later.
    let mut lens =
        section_contents(&[], &user_tables, &item_tables, source).map(|c| c.len() as u64);
    lens[Section::BlockTable as usize] = (grid * grid * std::mem::size_of::<BlockEntry>()) as u64;
    lens[Section::Records as usize] = (train_count + test_count) * 12;
    let (mut sections, file_len) = place_sections(lens);

    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let io = |error: std::io::Error| FormatError::Write {
        path: out.to_path_buf(),
        message: error.to_string(),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".funk-tmp-")
        .tempfile_in(dir)
        .map_err(io)?;
    let file = tmp.as_file();
    file.set_len(file_len).map_err(io)?;
    let mut paced = PacedWrites::new(file);

    // Pass 3, by runs of new user bands: a run's train blocks lie together
    // in the file, and so do its test blocks. Each pass over the old file
    // gathers the run's records in memory (at most `run_bytes` unless one
    // band holds more), sorts and hashes each block, and writes them.
    let rec = sections[Section::Records as usize];
    let user_band: Vec<u32> = user_perm
        .iter()
        .map(|&nu| {
            pacer.step();
            band_of(users, grid, nu as usize) as u32
        })
        .collect();
    let run_len = |from: usize, to: usize| -> u64 {
        let blocks = from * grid..to * grid;
        train_per_block[blocks.clone()].iter().sum::<u64>()
            + test_per_block[blocks].iter().sum::<u64>()
    };
    let mut table = Vec::with_capacity(grid * grid);
    let mut train_sum = 0f64;
    let mut from = 0;
    while from < grid {
        let mut to = from + 1;
        while to < grid && run_len(from, to + 1) * 12 <= run_bytes as u64 {
            to += 1;
        }
        let blocks = from * grid..to * grid;
        let in_run = |u: u32| (from..to).contains(&(user_band[u as usize] as usize));
        let (train_lo, test_lo) = (train_starts[blocks.start], test_starts[blocks.start]);
        let train_len: u64 = train_per_block[blocks.clone()].iter().sum();
        let test_len: u64 = test_per_block[blocks.clone()].iter().sum();
        let mut train_run = courtesy::filled(train_len as usize, Rating::default());
        let mut test_run = courtesy::filled(test_len as usize, Rating::default());
        let mut train_fill: Vec<usize> = train_starts[blocks.clone()]
            .iter()
            .map(|&s| (s - train_lo) as usize)
            .collect();
        let mut test_fill: Vec<usize> = test_starts[blocks.clone()]
            .iter()
            .map(|&s| (s - test_lo) as usize)
            .collect();
        each_old(&mut |u, i, value, train| {
            if !in_run(u) || (train && replaces.contains(&(u, i))) {
                return;
            }
            let (b, mut r) = place(u, i);
            r.value = value;
            let (run, fill) = if train {
                (&mut train_run, &mut train_fill[b - blocks.start])
            } else {
                (&mut test_run, &mut test_fill[b - blocks.start])
            };
            run[*fill] = r;
            *fill += 1;
        })?;
        for &(u, i, value) in extras.iter().filter(|&&(u, _, _)| in_run(u)) {
            pacer.step();
            let (b, mut r) = place(u, i);
            r.value = value;
            let fill = &mut train_fill[b - blocks.start];
            train_run[*fill] = r;
            *fill += 1;
        }
        for b in blocks.clone() {
            let tr = (train_starts[b] - train_lo) as usize
                ..(train_starts[b] - train_lo + train_per_block[b]) as usize;
            let te = (test_starts[b] - test_lo) as usize
                ..(test_starts[b] - test_lo + test_per_block[b]) as usize;
            // The pairs of a block are distinct: any order of the sort is
            // this one, whatever the pause points in its comparisons.
            let by_row = |r: &Rating| (u64::from(r.user) << 32) | u64::from(r.item);
            let mut in_order = |a: &Rating, b: &Rating| {
                pacer.step();
                by_row(a).cmp(&by_row(b))
            };
            train_run[tr.clone()].sort_unstable_by(&mut in_order);
            test_run[te.clone()].sort_unstable_by(&mut in_order);
            train_sum += train_run[tr.clone()]
                .iter()
                .map(|r| {
                    pacer.step();
                    f64::from(r.value)
                })
                .sum::<f64>();
            table.push(BlockEntry {
                train_start: train_starts[b],
                train_len: train_per_block[b],
                test_start: test_starts[b],
                test_len: test_per_block[b],
                train_hash: xxh3_64(bytemuck::cast_slice(&train_run[tr])),
                test_hash: xxh3_64(bytemuck::cast_slice(&test_run[te])),
            });
        }
        paced
            .write(bytemuck::cast_slice(&train_run), rec.offset + train_lo * 12)
            .map_err(io)?;
        paced
            .write(bytemuck::cast_slice(&test_run), rec.offset + test_lo * 12)
            .map_err(io)?;
        courtesy::release(train_run);
        courtesy::release(test_run);
        from = to;
    }
    paced.finish().map_err(io)?;
    let mean = train_sum / train_count.max(1) as f64;
    // The test records read back in file order (from the page cache).
    let mut test_sse = 0f64;
    let mut chunk = vec![Rating::default(); 1 << 16];
    let mut at = 0u64;
    while at < test_count {
        let n = (test_count - at).min(chunk.len() as u64) as usize;
        file.read_exact_at(
            bytemuck::cast_slice_mut(&mut chunk[..n]),
            rec.offset + (train_count + at) * 12,
        )
        .map_err(io)?;
        test_sse += chunk[..n]
            .iter()
            .map(|r| (f64::from(r.value) - mean).powi(2))
            .sum::<f64>();
        at += n as u64;
        courtesy::pause_point();
    }
    let mean_rmse =
        (test_count > 0 && train_count > 0).then(|| (test_sse / test_count as f64).sqrt());

    // The other sections, then the header.
    let contents = section_contents(&table, &user_tables, &item_tables, source);
    for s in Section::ALL {
        if s == Section::Records {
            continue;
        }
        let r = &mut sections[s as usize];
        let bytes = contents[s as usize];
        r.hash = xxh3_64(bytes);
        for (k, part) in bytes.chunks(WRITE_CALL_BYTES).enumerate() {
            file.write_all_at(part, r.offset + (k * WRITE_CALL_BYTES) as u64)
                .map_err(io)?;
            courtesy::pause_point();
        }
    }
    let header = HeaderFields {
        file_len,
        grid,
        users,
        items,
        train_count,
        test_count,
        mean,
        range: base.rating_range(),
        noise_floor: None,
        mean_rmse,
        seed: base.seed(),
        sections,
    }
    .seal();
    file.write_all_at(bytemuck::bytes_of(&header), 0)
        .map_err(io)?;
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io)?;
    }
    // Durable before it takes the target's name.
    file.sync_all().map_err(io)?;
    tmp.persist(out).map_err(|e| io(e.error))?;
    crate::atomic::sync_dir(dir).map_err(io)?;

    let extra_replaced = extra.len() as u64 - extras.len() as u64;
    Ok(ExtendSummary {
        written: WriteSummary {
            users,
            items,
            train: train_count,
            test: test_count,
            grid,
            bytes: file_len,
            identity: header.header_hash,
            mean,
        },
        extra: extra.len() as u64,
        replaced: replaced_old + extra_replaced,
        new_users: new_user_ids.len(),
        new_items: new_item_ids.len(),
    })
}

/// How much of a write is handed to the disk at once.
const PIECE_BYTES: usize = 1 << 20;

/// The most one system call writes: a piece is written in parts of this
/// size (see the module documentation).
const WRITE_CALL_BYTES: usize = crate::bounded_io::CALL_BYTES;

/// Writes to a file that go to the disk as they are made instead of in
/// one burst when the file is synced: each piece of [`PIECE_BYTES`] is
/// written, its writeback started at once, and the piece before it waited
/// for (Linux's `sync_file_range`), so that at most two pieces are dirty
/// or being written back at any time. The writeback is started by the
/// writing thread, at its CPU and I/O priority. Not a durability step:
/// the file is synced whole before it is renamed into place.
struct PacedWrites<'f> {
    file: &'f File,
    /// The piece being written back (offset, length).
    in_flight: Option<(u64, u64)>,
    /// `false` once the system refused to pace (the writes then go to the
    /// page cache only, as plain writes do).
    pacing: bool,
}

impl<'f> PacedWrites<'f> {
    fn new(file: &'f File) -> Self {
        PacedWrites {
            file,
            in_flight: None,
            pacing: cfg!(target_os = "linux"),
        }
    }

    /// Writes `bytes` at `at`.
    fn write(&mut self, bytes: &[u8], at: u64) -> std::io::Result<()> {
        for (k, piece) in bytes.chunks(PIECE_BYTES).enumerate() {
            let offset = at + (k * PIECE_BYTES) as u64;
            for (j, part) in piece.chunks(WRITE_CALL_BYTES).enumerate() {
                self.file
                    .write_all_at(part, offset + (j * WRITE_CALL_BYTES) as u64)?;
                courtesy::pause_point();
            }
            if self.pacing {
                self.start_writeback((offset, piece.len() as u64))?;
            }
        }
        Ok(())
    }

    /// Starts writing `piece` back and waits for the one before it.
    fn start_writeback(&mut self, piece: (u64, u64)) -> std::io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            match self.sync_range(piece, libc::SYNC_FILE_RANGE_WRITE) {
                Ok(()) => {}
                // Not supported here: plain writes.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOSYS | libc::EINVAL | libc::ESPIPE)
                    ) =>
                {
                    self.pacing = false;
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
            if let Some(before) = self.in_flight.replace(piece) {
                self.wait(before)?;
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = piece;
        Ok(())
    }

    /// Waits for the writeback of `piece`; a write error is returned here
    /// (the kernel reports it once).
    #[cfg(target_os = "linux")]
    fn wait(&self, piece: (u64, u64)) -> std::io::Result<()> {
        self.sync_range(
            piece,
            libc::SYNC_FILE_RANGE_WAIT_BEFORE
                | libc::SYNC_FILE_RANGE_WRITE
                | libc::SYNC_FILE_RANGE_WAIT_AFTER,
        )
    }

    #[cfg(target_os = "linux")]
    fn sync_range(&self, (offset, len): (u64, u64), flags: libc::c_uint) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: a plain system call on a file descriptor this value
        // borrows (open for its lifetime); no memory is passed.
        let rc = unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                offset as libc::off64_t,
                len as libc::off64_t,
                flags,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }

    /// Waits for the last piece's writeback.
    fn finish(mut self) -> std::io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(last) = self.in_flight.take() {
            self.wait(last)?;
        }
        let _ = &mut self;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratingfile::{write, Meta, RatingSet, Triple, WriteOptions};

    fn base_set() -> RatingSet {
        set_of(200, 100)
    }

    /// `users` × `items` with about 4 in 11 pairs rated for train and 1 in
    /// 11 for test.
    fn set_of(users: u32, items: u32) -> RatingSet {
        let mut train = Vec::new();
        let mut test = Vec::new();
        for u in 0..users {
            for i in 0..items {
                let h = (u * 31 + i * 17) % 11;
                let t = Triple {
                    user: u,
                    item: i,
                    value: 1.0 + (h % 5) as f32,
                };
                if h < 4 {
                    train.push(t);
                } else if h == 4 {
                    test.push(t);
                }
            }
        }
        RatingSet {
            user_ids: (0..users).map(|u| format!("u{u}")).collect(),
            item_ids: (0..items).map(|i| format!("i{i}")).collect(),
            train,
            test,
            meta: Meta {
                rating_range: Some((1.0, 5.0)),
                source: "test".into(),
                ..Meta::default()
            },
        }
    }

    /// (user, item) → value of a file's train or test split, by original id.
    fn pairs(file: &RatingFile, train: bool) -> HashMap<(String, String), f32> {
        let set = file.to_rating_set();
        let list = if train { &set.train } else { &set.test };
        list.iter()
            .map(|t| {
                (
                    (
                        set.user_ids[t.user as usize].clone(),
                        set.item_ids[t.item as usize].clone(),
                    ),
                    t.value,
                )
            })
            .collect()
    }

    #[test]
    fn the_new_file_holds_the_old_ratings_and_the_extra_ones_once() {
        let tmp = tempfile::tempdir().unwrap();
        let base_path = tmp.path().join("base.funk");
        write(
            &base_path,
            &base_set(),
            &WriteOptions {
                grid: None,
                seed: 9,
            },
        )
        .unwrap();
        let base = RatingFile::open(&base_path).unwrap();
        let old_train = pairs(&base, true);
        let (replaced_pair, _) = old_train.iter().next().unwrap();
        let r = |u: &str, i: &str, v: f32| ExtraRating {
            user: u.into(),
            item: i.into(),
            value: v,
        };
        let extra = vec![
            r(&replaced_pair.0, &replaced_pair.1, 5.0),
            r("new-user", "i3", 2.0),
            r("new-user", "new-item", 4.0),
            r("u1", "new-item", 1.0),
            r("u1", "new-item", 3.5),
        ];
        let out = tmp.path().join("out.funk");
        let summary = extend(&base, &extra, &out, "extended").unwrap();
        let new = RatingFile::open(&out).unwrap();
        new.check_all_blocks().unwrap();
        assert_eq!(new.identity(), summary.written.identity);
        assert_eq!((summary.new_users, summary.new_items), (1, 1));
        assert_eq!(summary.replaced, 2, "one old rating, one earlier extra");
        let mut expected = old_train.clone();
        expected.insert(replaced_pair.clone(), 5.0);
        expected.insert(("new-user".into(), "i3".into()), 2.0);
        expected.insert(("new-user".into(), "new-item".into()), 4.0);
        expected.insert(("u1".into(), "new-item".into()), 3.5);
        assert_eq!(pairs(&new, true), expected);
        assert_eq!(new.train_count() as usize, expected.len());
        assert_eq!(pairs(&new, false), pairs(&base, false));
        assert_eq!(new.rating_range(), Some((1.0, 5.0)));
        for id in base.user_index().iter() {
            assert!(new.user_index().get(id).is_some(), "user {id} kept");
        }
        // The same inputs give the same bytes.
        let again = tmp.path().join("again.funk");
        extend(&base, &extra, &again, "extended").unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
        // The grid is the one a file written whole gets, its blocks balanced.
        let whole = tmp.path().join("whole.funk");
        write(
            &whole,
            &new.to_rating_set(),
            &WriteOptions {
                grid: None,
                seed: 9,
            },
        )
        .unwrap();
        let whole = RatingFile::open(&whole).unwrap();
        assert_eq!(whole.grid(), new.grid());
        assert!(new.grid() > 1);
        let a = new.block_balance();
        assert!(a.max as f64 <= 1.1 * a.mean, "{a:?}");
    }

    #[test]
    fn the_file_is_the_same_whatever_the_run_size() {
        let tmp = tempfile::tempdir().unwrap();
        let base_path = tmp.path().join("base.funk");
        write(
            &base_path,
            &set_of(600, 300),
            &WriteOptions {
                grid: None,
                seed: 5,
            },
        )
        .unwrap();
        let base = RatingFile::open(&base_path).unwrap();
        let extra: Vec<ExtraRating> = (0..300)
            .map(|k| ExtraRating {
                user: format!("u{}", (k * 7) % 630),
                item: format!("i{}", (k * 13) % 310),
                value: 1.0 + (k % 5) as f32,
            })
            .collect();
        let whole = tmp.path().join("whole.funk");
        extend_in_runs(&base, &extra, &whole, "runs", usize::MAX).unwrap();
        let expected = std::fs::read(&whole).unwrap();
        let grid = RatingFile::open(&whole).unwrap().grid();
        assert!(grid > 2, "several bands: {grid}");
        // One band a pass (each is more than 1 byte), and two bands a pass.
        let band_bytes = expected.len() / grid;
        for run_bytes in [1, band_bytes * 2] {
            let out = tmp.path().join(format!("runs-{run_bytes}.funk"));
            extend_in_runs(&base, &extra, &out, "runs", run_bytes).unwrap();
            assert_eq!(
                std::fs::read(&out).unwrap(),
                expected,
                "run_bytes {run_bytes}"
            );
            RatingFile::open(&out).unwrap().check_all_blocks().unwrap();
        }
        // On a background thread, which yields at the pause points every
        // 200 µs of work: the same bytes.
        let out = tmp.path().join("background.funk");
        std::thread::scope(|s| {
            s.spawn(|| {
                crate::courtesy::set_background(true);
                extend_in_runs(&base, &extra, &out, "runs", 1).unwrap();
            });
        });
        assert_eq!(std::fs::read(&out).unwrap(), expected);
    }

    #[test]
    fn paced_writes_land_where_they_are_asked_across_pieces() {
        let tmp = tempfile::tempfile().unwrap();
        let len = 2 * PIECE_BYTES + PIECE_BYTES / 3;
        tmp.set_len((len + 100) as u64).unwrap();
        let bytes: Vec<u8> = (0..len).map(|k| (k % 251) as u8).collect();
        let mut paced = PacedWrites::new(&tmp);
        paced.write(&bytes, 100).unwrap();
        paced.write(b"head", 0).unwrap();
        paced.finish().unwrap();
        let mut back = vec![0u8; len + 100];
        tmp.read_exact_at(&mut back, 0).unwrap();
        assert_eq!(&back[..4], b"head");
        assert!(back[4..100].iter().all(|&b| b == 0));
        assert_eq!(&back[100..], &bytes[..]);
    }

    #[test]
    fn a_non_finite_extra_rating_is_refused_and_nothing_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let base_path = tmp.path().join("base.funk");
        write(
            &base_path,
            &base_set(),
            &WriteOptions {
                grid: None,
                seed: 1,
            },
        )
        .unwrap();
        let base = RatingFile::open(&base_path).unwrap();
        let out = tmp.path().join("out.funk");
        let bad = [ExtraRating {
            user: "u".into(),
            item: "i".into(),
            value: f32::NAN,
        }];
        assert!(extend(&base, &bad, &out, "x").is_err());
        assert!(!out.exists());
    }
}
