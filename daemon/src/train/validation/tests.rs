//! Tests of the validation slice: the skip runs, the fraction, the lazily
//! scanned slice against an eager reference scan, and the same slice in a
//! file and its extension.

use super::*;
use crate::ratingfile::ExtraRating;

fn r(user: u32, item: u32) -> Rating {
    Rating {
        user,
        item,
        value: 3.0,
    }
}

fn runs_of(block: &[Rating], held: &[u32]) -> Vec<Vec<(u32, u32)>> {
    TrainingRuns {
        block,
        held,
        next: 0,
    }
    .map(|run| run.iter().map(|x| (x.user, x.item)).collect())
    .collect()
}

#[test]
fn runs_skip_exactly_the_held_out_positions() {
    let block: Vec<Rating> = (0..6).map(|i| r(i, i)).collect();
    assert_eq!(
        runs_of(&block, &[1, 2, 5]),
        vec![vec![(0, 0)], vec![(3, 3), (4, 4)]]
    );
    assert_eq!(
        runs_of(&block, &[0]),
        vec![(1..6).map(|i| (i, i)).collect::<Vec<_>>()]
    );
    assert_eq!(runs_of(&block, &[]).len(), 1);
    assert!(runs_of(&block, &[0, 1, 2, 3, 4, 5]).is_empty());
    assert!(runs_of(&[], &[]).is_empty());
}

#[test]
fn the_held_out_fraction_is_about_the_asked_one() {
    let n = 200_000;
    let pair = |k: usize| ((k % 977).to_string(), (k / 977).to_string());
    let held = (0..n)
        .filter(|&k| {
            let (u, i) = pair(k);
            is_held_out(&u, &i, 0.02)
        })
        .count();
    let frac = held as f64 / n as f64;
    assert!((frac - 0.02).abs() < 0.002, "held out {frac}");
    assert!(!(0..1000).any(|k| is_held_out(&k.to_string(), &k.to_string(), 0.0)));
    assert!((0..1000).all(|k| is_held_out(&k.to_string(), &(3 * k).to_string(), 1.0)));
}

/// A small generated rating file (grid 6), in a temporary directory.
fn small_file() -> (tempfile::TempDir, RatingFile) {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let path = tmp.path().join("small.funk");
    let config = crate::gen::GenConfig {
        scale: 0.005,
        seed: 11,
        ..crate::gen::GenConfig::default()
    };
    crate::gen::generate(&config, &path).expect("generate test data");
    let data = RatingFile::open(&path).expect("open test data");
    (tmp, data)
}

/// The eager reference: every block scanned in order with the public
/// per-pair rule, (positions, ratings) per block.
fn eager(data: &RatingFile, fraction: f32) -> Vec<(Vec<u32>, Vec<Rating>)> {
    let grid = data.grid();
    let mut all = Vec::new();
    for ub in 0..grid {
        for ib in 0..grid {
            let (u0, i0) = (data.user_band(ub).start, data.item_band(ib).start);
            let mut part = (Vec::new(), Vec::new());
            for (pos, r) in data.train_block(ub, ib).iter().enumerate() {
                let user = data.user_id(u0 + r.user as usize);
                let item = data.item_id(i0 + r.item as usize);
                if is_held_out(user, item, fraction) {
                    part.0.push(pos as u32);
                    part.1.push(*r);
                }
            }
            all.push(part);
        }
    }
    all
}

#[test]
fn the_lazy_slice_equals_an_eager_scan_whoever_asks_first() {
    let (_tmp, data) = small_file();
    let grid = data.grid();
    assert!(grid > 2, "the test wants several blocks, grid {grid}");
    let fraction = 0.05;
    let reference = eager(&data, fraction);
    let total: u64 = reference.iter().map(|(h, _)| h.len() as u64).sum();
    assert!(total > 100, "too few held out to compare: {total}");

    // Blocks asked for by three threads at once, in scrambled orders,
    // then the count.
    let lazy = ValidationSlice::select(&data, fraction, 3);
    std::thread::scope(|s| {
        for t in 0..3 {
            let lazy = &lazy;
            s.spawn(move || {
                for k in 0..grid * grid {
                    let b = (k * 7 + t * 5) % (grid * grid);
                    let _ = lazy.held_out(b / grid, b % grid);
                }
            });
        }
    });
    // The count first: it scans every block itself (on one thread).
    let counted_first = ValidationSlice::select(&data, fraction, 1);
    assert_eq!(counted_first.count(), total);
    // Half the blocks seen through the runs, the rest by the count.
    let mixed = ValidationSlice::select(&data, fraction, 2);
    for b in (0..grid * grid).step_by(2) {
        let block = data.train_block(b / grid, b % grid);
        let _ = mixed.training_runs(b / grid, b % grid, block).count();
    }
    assert_eq!(mixed.count(), total);

    for slice in [&lazy, &counted_first, &mixed] {
        for (b, (held, ratings)) in reference.iter().enumerate() {
            let (ub, ib) = (b / grid, b % grid);
            assert_eq!(slice.held_out(ub, ib), &held[..], "positions of block {b}");
            assert_eq!(slice.ratings(ub, ib), &ratings[..], "ratings of block {b}");
            let kept: usize = slice
                .training_runs(ub, ib, data.train_block(ub, ib))
                .map(<[Rating]>::len)
                .sum();
            assert_eq!(kept + held.len(), data.train_block(ub, ib).len());
        }
        assert_eq!(slice.count(), total);
    }
    // Outside the grid: nothing held out.
    assert!(lazy.held_out(grid, 0).is_empty() && lazy.ratings(0, grid).is_empty());
}

#[test]
fn the_portable_and_the_dispatched_scan_agree_with_the_rule() {
    let (_tmp, data) = small_file();
    let grid = data.grid();
    let hashes = IdHashes::of(&data);
    for fraction in [0.05, 0.5, 1.0] {
        let below = threshold(fraction);
        for b in 0..grid * grid {
            let (ub, ib) = (b / grid, b % grid);
            let origin = (data.user_band(ub).start, data.item_band(ib).start);
            let bands = (
                band_hashes(&hashes.users, data.user_band(ub)),
                band_hashes(&hashes.items, data.item_band(ib)),
            );
            let block = data.train_block(ub, ib);
            // Whole blocks and short prefixes around the chunk size.
            for len in [
                block.len(),
                0,
                1,
                CHUNK - 1,
                CHUNK,
                CHUNK + 1,
                2 * CHUNK + 3,
            ] {
                let part = &block[..len.min(block.len())];
                let rule: Vec<u32> = (0..part.len() as u32)
                    .filter(|&p| {
                        let r = part[p as usize];
                        is_held_out(
                            data.user_id(origin.0 + r.user as usize),
                            data.item_id(origin.1 + r.item as usize),
                            fraction,
                        )
                    })
                    .collect();
                assert_eq!(held_positions_with(part, bands, below), rule);
                assert_eq!(held_positions(part, bands, below), rule);
            }
        }
    }
}

#[test]
fn no_fraction_holds_out_nothing_and_scans_nothing() {
    let (_tmp, data) = small_file();
    let slice = ValidationSlice::select(&data, 0.0, 2);
    let grid = data.grid();
    for ub in 0..grid {
        for ib in 0..grid {
            assert!(slice.held_out(ub, ib).is_empty());
            let block = data.train_block(ub, ib);
            let runs: Vec<_> = slice.training_runs(ub, ib, block).collect();
            assert_eq!(runs.len(), usize::from(!block.is_empty()));
        }
    }
    assert_eq!(slice.count(), 0);
    assert!(slice.blocks.iter().all(|b| b.get().is_none()));
    assert!(slice.hashes.get().is_none());
}

/// Every train pair of `data` by original ids, with whether `slice` holds
/// it out and its internal ids.
fn pairs_held(
    data: &RatingFile,
    slice: &ValidationSlice<'_>,
) -> std::collections::HashMap<(String, String), (bool, (usize, usize))> {
    let grid = data.grid();
    let mut all = std::collections::HashMap::new();
    for ub in 0..grid {
        for ib in 0..grid {
            let (u0, i0) = (data.user_band(ub).start, data.item_band(ib).start);
            let held = slice.held_out(ub, ib);
            for (pos, r) in data.train_block(ub, ib).iter().enumerate() {
                let internal = (u0 + r.user as usize, i0 + r.item as usize);
                let ids = (
                    data.user_id(internal.0).to_string(),
                    data.item_id(internal.1).to_string(),
                );
                let out = held.binary_search(&(pos as u32)).is_ok();
                all.insert(ids, (out, internal));
            }
        }
    }
    all
}

#[test]
fn a_file_and_its_extension_hold_out_the_same_pairs_though_renumbered() {
    let (tmp, base) = small_file();
    // Extra ratings as a service round takes them in: new users, new
    // items, known users rating known items (some replacing a rating).
    let mut extra = Vec::new();
    for n in 0..300u32 {
        extra.push(ExtraRating {
            user: format!("new-user-{}", n % 60),
            item: base.item_id((n as usize * 7) % base.items()).to_string(),
            value: 4.0,
        });
        extra.push(ExtraRating {
            user: base.user_id((n as usize * 13) % base.users()).to_string(),
            item: format!("new-item-{}", n % 9),
            value: 2.0,
        });
        extra.push(ExtraRating {
            user: base.user_id((n as usize * 31) % base.users()).to_string(),
            item: base.item_id((n as usize * 17) % base.items()).to_string(),
            value: 3.5,
        });
    }
    let path = tmp.path().join("extended.funk");
    let summary = crate::ratingfile::extend(&base, &extra, &path, "test").expect("extend");
    assert_eq!((summary.new_users, summary.new_items), (60, 9));
    let extended = RatingFile::open(&path).expect("open the extension");

    let fraction = 0.1;
    let before = pairs_held(&base, &ValidationSlice::select(&base, fraction, 2));
    let after = pairs_held(&extended, &ValidationSlice::select(&extended, fraction, 1));
    let (mut shared, mut renumbered, mut held) = (0, 0, 0);
    for (ids, &(out_before, internal_before)) in &before {
        let Some(&(out_after, internal_after)) = after.get(ids) else {
            continue;
        };
        shared += 1;
        renumbered += usize::from(internal_before != internal_after);
        held += usize::from(out_before);
        assert_eq!(
            out_before, out_after,
            "pair {ids:?} (internal {internal_before:?} before, {internal_after:?} after)"
        );
    }
    // Every old pair is still there (none was dropped), most renumbered,
    // and enough held out for the comparison to mean something.
    assert_eq!(shared, before.len());
    assert!(
        renumbered * 2 > shared,
        "{renumbered} of {shared} renumbered"
    );
    assert!(held > 100, "{held} of {shared} held out");
    // The new pairs are held out by the same rule.
    let new_held = after
        .iter()
        .filter(|(ids, _)| !before.contains_key(*ids))
        .filter(|(ids, &(out, _))| {
            assert_eq!(
                out,
                is_held_out(&ids.0, &ids.1, fraction),
                "new pair {ids:?}"
            );
            out
        })
        .count();
    assert!(new_held > 0, "no new pair held out");
}

#[test]
fn held_out_pairs_answer_as_the_rule_on_original_ids() {
    let (_tmp, data) = small_file();
    assert!(HeldOutPairs::of(&data, 0.0).is_none());
    let pairs = HeldOutPairs::of(&data, 0.1).expect("a fraction holds out pairs");
    let mut held = 0;
    for user in (0..data.users()).step_by(7) {
        for item in 0..data.items() {
            let expected = is_held_out(data.user_id(user), data.item_id(item), 0.1);
            assert_eq!(pairs.contains(user, item), expected, "({user}, {item})");
            held += usize::from(expected);
        }
    }
    assert!(held > 0);
}
