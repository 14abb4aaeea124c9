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
//! the new one is written in place through a shared map of a temporary
//! file (its pages belong to the page cache, which writes them back as it
//! needs), then synced and renamed over the target. What is held in memory
//! is per user and per item (load counts, the permutation, the id tables)
//! plus the extra ratings, never the ratings of either file.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use funk_kernel::Rating;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use xxhash_rust::xxh3::xxh3_64;

use super::ids::encode_ids;
use super::layout::{
    align_up, band_of, band_range, default_grid, BlockEntry, RawHeader, Section, SectionRef,
    ENDIAN_WORD, FLAG_MEAN_RMSE, FLAG_RANGE, FORMAT_VERSION, HEADER_LEN, MAGIC, SECTIONS,
};
use super::{FormatError, RatingFile, WriteSummary};

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

/// Writes `base` plus `extra` to `out` atomically (see the module docs).
/// `source` is the provenance text of the new file.
pub fn extend(
    base: &RatingFile,
    extra: &[ExtraRating],
    out: &Path,
    source: &str,
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
    for r in extra {
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
    let mut extras: Vec<(u32, u32, f32)> = latest.iter().map(|(&(u, i), &v)| (u, i, v)).collect();
    extras.sort_unstable_by_key(|&(u, i, _)| (u, i));
    let replaces: HashSet<(u32, u32)> = extras
        .iter()
        .filter(|&&(u, i, _)| (u as usize) < old_users && (i as usize) < old_items)
        .map(|&(u, i, _)| (u, i))
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
        for ub in 0..p_old {
            let u0 = base.user_band(ub).start as u32;
            for ib in 0..p_old {
                let i0 = base.item_band(ib).start as u32;
                for r in base.checked_train_records(ub, ib)? {
                    f(u0 + r.user, i0 + r.item, r.value, true);
                }
                for r in base.checked_test_records(ub, ib)? {
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
    let mut user_names: Vec<&str> = vec![""; users];
    for (ext, &int) in user_perm.iter().enumerate() {
        user_names[int as usize] = name_of_user(ext);
    }
    let mut item_names: Vec<&str> = vec![""; items];
    for (ext, &int) in item_perm.iter().enumerate() {
        item_names[int as usize] = name_of_item(ext);
    }
    let user_tables = encode_ids(&user_names)
        .map_err(|dup| invalid(format!("user id {dup:?} appears more than once")))?;
    let item_tables = encode_ids(&item_names)
        .map_err(|dup| invalid(format!("item id {dup:?} appears more than once")))?;

    // The layout.
    let table_len = (grid * grid * std::mem::size_of::<BlockEntry>()) as u64;
    let records_len = (train_count + test_count) * 12;
    let lens: [u64; SECTIONS] = [
        table_len,
        records_len,
        (user_tables.offsets.len() * 8) as u64,
        user_tables.bytes.len() as u64,
        (user_tables.sorted.len() * 4) as u64,
        (item_tables.offsets.len() * 8) as u64,
        item_tables.bytes.len() as u64,
        (item_tables.sorted.len() * 4) as u64,
        source.len() as u64,
    ];
    let mut sections = [SectionRef::default(); SECTIONS];
    let mut offset = align_up(HEADER_LEN as u64);
    for s in Section::ALL {
        sections[s as usize] = SectionRef {
            offset,
            len: lens[s as usize],
            hash: 0,
        };
        offset = align_up(offset + lens[s as usize]);
    }
    let file_len = sections[SECTIONS - 1].offset + sections[SECTIONS - 1].len;

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
    tmp.as_file().set_len(file_len).map_err(io)?;
    // SAFETY: the map is of a temporary file this function just created
    // and alone writes; nothing else maps or truncates it while the map
    // lives (it is dropped before the file is renamed into place).
    let mut map = unsafe { memmap2::MmapMut::map_mut(tmp.as_file()) }.map_err(io)?;

    // Pass 3: every record to its place, then each block sorted.
    let rec = sections[Section::Records as usize];
    let (head, rest) = map.split_at_mut(rec.offset as usize);
    let (records_bytes, tail) = rest.split_at_mut(records_len as usize);
    let records: &mut [Rating] = bytemuck::cast_slice_mut(records_bytes);
    let mut train_fill = train_starts.clone();
    let mut test_fill = test_starts.clone();
    each_old(&mut |u, i, value, train| {
        if train && replaces.contains(&(u, i)) {
            return;
        }
        let (b, mut r) = place(u, i);
        r.value = value;
        let fill = if train {
            &mut train_fill[b]
        } else {
            &mut test_fill[b]
        };
        records[*fill as usize] = r;
        *fill += 1;
    })?;
    for &(u, i, value) in &extras {
        let (b, mut r) = place(u, i);
        r.value = value;
        records[train_fill[b] as usize] = r;
        train_fill[b] += 1;
    }
    let mut table = Vec::with_capacity(grid * grid);
    let mut train_sum = 0f64;
    for b in 0..grid * grid {
        let tr = train_starts[b] as usize..(train_starts[b] + train_per_block[b]) as usize;
        let te = test_starts[b] as usize..(test_starts[b] + test_per_block[b]) as usize;
        for span in [tr.clone(), te.clone()] {
            records[span].sort_unstable_by_key(|r| (u64::from(r.user) << 32) | u64::from(r.item));
        }
        train_sum += records[tr.clone()]
            .iter()
            .map(|r| f64::from(r.value))
            .sum::<f64>();
        table.push(BlockEntry {
            train_start: tr.start as u64,
            train_len: tr.len() as u64,
            test_start: te.start as u64,
            test_len: te.len() as u64,
            train_hash: xxh3_64(bytemuck::cast_slice(&records[tr])),
            test_hash: xxh3_64(bytemuck::cast_slice(&records[te])),
        });
    }
    let mean = train_sum / train_count.max(1) as f64;
    let test_sse: f64 = records[train_count as usize..]
        .iter()
        .map(|r| (f64::from(r.value) - mean).powi(2))
        .sum();
    let mean_rmse =
        (test_count > 0 && train_count > 0).then(|| (test_sse / test_count as f64).sqrt());

    // The other sections, then the header.
    let contents: [&[u8]; SECTIONS] = [
        bytemuck::cast_slice(&table),
        &[],
        bytemuck::cast_slice(&user_tables.offsets),
        &user_tables.bytes,
        bytemuck::cast_slice(&user_tables.sorted),
        bytemuck::cast_slice(&item_tables.offsets),
        &item_tables.bytes,
        bytemuck::cast_slice(&item_tables.sorted),
        source.as_bytes(),
    ];
    let after_records = rec.offset + records_len;
    for s in Section::ALL {
        if s == Section::Records {
            continue;
        }
        let r = &mut sections[s as usize];
        let bytes = contents[s as usize];
        r.hash = xxh3_64(bytes);
        let at = r.offset as usize;
        if r.offset < rec.offset {
            head[at..at + bytes.len()].copy_from_slice(bytes);
        } else {
            let at = at - after_records as usize;
            tail[at..at + bytes.len()].copy_from_slice(bytes);
        }
    }
    let mut flags = 0;
    let (lo, hi) = match base.rating_range() {
        Some(range) => {
            flags |= FLAG_RANGE;
            range
        }
        None => (0.0, 0.0),
    };
    if mean_rmse.is_some() {
        flags |= FLAG_MEAN_RMSE;
    }
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
        test_count,
        mean,
        flags,
        range: [lo, hi],
        noise_floor: 0.0,
        mean_rmse: mean_rmse.unwrap_or(0.0),
        seed: base.seed(),
        sections,
        reserved: [0; 21],
        header_hash: 0,
    };
    header.header_hash = header.compute_hash();
    head[..HEADER_LEN].copy_from_slice(bytemuck::bytes_of(&header));

    map.flush().map_err(io)?;
    drop(map);
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratingfile::{write, Meta, RatingSet, Triple, WriteOptions};

    fn base_set() -> RatingSet {
        let users = 200;
        let items = 100;
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
