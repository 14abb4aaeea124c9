//! Splits a rating file into a base and about 1% new ratings, and extends
//! the base with them the way a service round does: the data of
//! `benches/warm-start.sh`.
//!
//! ```text
//! cargo run --release --example warm_split -- --data FILE --out DIR
//!     [--new-users 2000] [--new-items 30] [--new-fraction 0.01] [--seed 1]
//! ```
//!
//! Writes, in `DIR`:
//!
//! - `base.funk`: `FILE` without the new ratings: without `--new-users`
//!   users and `--new-items` items (all their ratings, train and test; the
//!   base does not know them) and without a random share of the other
//!   train ratings, so that the new ratings make up `--new-fraction` of
//!   the train ratings in all;
//! - `merged.funk`: `base.funk` extended with the new ratings by
//!   `funkd::ratingfile::extend` (what `funkd compact` and a service round
//!   run), in a random arrival order: its id maps extend the base's, its
//!   numbering is its own, its test split is the base's;
//! - `new-test.tsv`: the test ratings of `FILE` that the base cannot hold
//!   (those of new users or new items), `user<TAB>item<TAB>rating`, for
//!   `funkd predict --pairs`;
//!
//! and prints a JSON summary on stdout.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use funk::daemon::ratingfile::{
    extend, write, ExtraRating, Meta, RatingFile, RatingSet, Triple, WriteOptions,
};
use rand::seq::{index, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// What the command line asks for.
struct Args {
    data: PathBuf,
    out: PathBuf,
    new_users: usize,
    new_items: usize,
    new_fraction: f64,
    seed: u64,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        data: PathBuf::new(),
        out: PathBuf::new(),
        new_users: 2000,
        new_items: 30,
        new_fraction: 0.01,
        seed: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next().with_context(|| {
                format!("{flag} needs a value (see the top of benches/warm_split.rs)")
            })
        };
        match flag.as_str() {
            "--data" => args.data = value()?.into(),
            "--out" => args.out = value()?.into(),
            "--new-users" => args.new_users = value()?.parse().context("--new-users")?,
            "--new-items" => args.new_items = value()?.parse().context("--new-items")?,
            "--new-fraction" => args.new_fraction = value()?.parse().context("--new-fraction")?,
            "--seed" => args.seed = value()?.parse().context("--seed")?,
            // `cargo bench`-style harness flags are not ours.
            "--bench" => {}
            other => bail!("unknown argument {other} (see the top of benches/warm_split.rs)"),
        }
    }
    if args.data.as_os_str().is_empty() || args.out.as_os_str().is_empty() {
        bail!("usage: warm_split --data FILE --out DIR [--new-users N] [--new-items N] [--new-fraction F] [--seed S]");
    }
    if !(0.0..0.5).contains(&args.new_fraction) {
        bail!("--new-fraction {} must be within 0..0.5", args.new_fraction);
    }
    Ok(args)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let data = RatingFile::open(&args.data)
        .with_context(|| format!("cannot open {}", args.data.display()))?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.seed);
    if args.new_users >= data.users() || args.new_items >= data.items() {
        bail!(
            "{} has {} users and {} items: too few for {} new users and {} new items",
            args.data.display(),
            data.users(),
            data.items(),
            args.new_users,
            args.new_items
        );
    }
    let new_users: HashSet<usize> = index::sample(&mut rng, data.users(), args.new_users)
        .into_iter()
        .collect();
    let new_items: HashSet<usize> = index::sample(&mut rng, data.items(), args.new_items)
        .into_iter()
        .collect();

    // The base's ids: every old one but the new users' and items'.
    let (base_users, user_map) = renumber(data.users(), &new_users);
    let (base_items, item_map) = renumber(data.items(), &new_items);

    // Train ratings of new users or items are new; of the rest, a random
    // share tops the new ratings up to the asked fraction.
    let train_count = data.train_count();
    let forced: u64 = every_rating(&data, false)
        .filter(|&(u, i, _)| new_users.contains(&u) || new_items.contains(&i))
        .count() as u64;
    let target = (args.new_fraction * train_count as f64).round() as u64;
    let known_share = if target > forced {
        (target - forced) as f64 / (train_count - forced) as f64
    } else {
        0.0
    };

    let mut base_train = Vec::with_capacity(train_count as usize);
    let mut new = Vec::with_capacity(target.max(forced) as usize);
    let (mut new_of_new_users, mut new_of_new_items) = (0u64, 0u64);
    for (u, i, value) in every_rating(&data, false) {
        let (is_new_user, is_new_item) = (new_users.contains(&u), new_items.contains(&i));
        if is_new_user || is_new_item || rng.random_bool(known_share) {
            new_of_new_users += u64::from(is_new_user);
            new_of_new_items += u64::from(is_new_item);
            new.push(ExtraRating {
                user: data.user_id(u).to_string(),
                item: data.item_id(i).to_string(),
                value,
            });
        } else {
            base_train.push(Triple {
                user: user_map[u],
                item: item_map[i],
                value,
            });
        }
    }
    let mut base_test = Vec::with_capacity(data.test_count() as usize);
    let new_test_path = args.out.join("new-test.tsv");
    let mut new_test = std::io::BufWriter::new(
        std::fs::File::create(&new_test_path)
            .with_context(|| format!("cannot create {}", new_test_path.display()))?,
    );
    let mut new_test_count = 0u64;
    for (u, i, value) in every_rating(&data, true) {
        if new_users.contains(&u) || new_items.contains(&i) {
            writeln!(
                new_test,
                "{}\t{}\t{value}",
                data.user_id(u),
                data.item_id(i)
            )?;
            new_test_count += 1;
        } else {
            base_test.push(Triple {
                user: user_map[u],
                item: item_map[i],
                value,
            });
        }
    }
    new_test.flush()?;

    let base = RatingSet {
        user_ids: base_users
            .iter()
            .map(|&u| data.user_id(u).to_string())
            .collect(),
        item_ids: base_items
            .iter()
            .map(|&i| data.item_id(i).to_string())
            .collect(),
        train: base_train,
        test: base_test,
        meta: Meta {
            rating_range: data.rating_range(),
            noise_floor: None,
            mean_rmse: None,
            source: format!(
                "warm_split base of {} (seed {})",
                args.data.display(),
                args.seed
            ),
        },
    };
    let base_path = args.out.join("base.funk");
    let written = write(
        &base_path,
        &base,
        &WriteOptions {
            grid: None,
            seed: data.seed(),
        },
    )
    .with_context(|| format!("cannot write {}", base_path.display()))?;
    drop(base);

    // The new ratings arrive in a random order, as an ingest log has them.
    new.shuffle(&mut rng);
    let base_file = RatingFile::open(&base_path)?;
    let merged_path = args.out.join("merged.funk");
    let extended = extend(
        &base_file,
        &new,
        &merged_path,
        &format!(
            "{} extended with {} new ratings",
            base_path.display(),
            new.len()
        ),
    )
    .with_context(|| format!("cannot write {}", merged_path.display()))?;

    let summary = serde_json::json!({
        "data": args.data,
        "train": train_count,
        "new_ratings": new.len(),
        "new_fraction": new.len() as f64 / train_count as f64,
        "new_users": args.new_users,
        "new_items": args.new_items,
        "new_ratings_of_new_users": new_of_new_users,
        "new_ratings_of_new_items": new_of_new_items,
        "new_test_ratings": new_test_count,
        "base": {"path": base_path, "users": written.users, "items": written.items,
                 "train": written.train, "test": written.test, "grid": written.grid},
        "merged": {"path": merged_path, "users": extended.written.users,
                   "items": extended.written.items, "train": extended.written.train,
                   "test": extended.written.test, "grid": extended.written.grid,
                   "new_users": extended.new_users, "new_items": extended.new_items},
        "new_test": new_test_path,
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

/// The indices `0..n` without `dropped`, in order, and each old index's
/// new one (`u32::MAX` for a dropped one).
fn renumber(n: usize, dropped: &HashSet<usize>) -> (Vec<usize>, Vec<u32>) {
    let kept: Vec<usize> = (0..n).filter(|x| !dropped.contains(x)).collect();
    let mut map = vec![u32::MAX; n];
    for (new, &old) in kept.iter().enumerate() {
        map[old] = new as u32;
    }
    (kept, map)
}

/// Every train (or test) rating of `data` as (internal user, internal
/// item, value), block by block.
fn every_rating(data: &RatingFile, test: bool) -> impl Iterator<Item = (usize, usize, f32)> + '_ {
    let p = data.grid();
    (0..p * p).flat_map(move |b| {
        let (ub, ib) = (b / p, b % p);
        let (u0, i0) = (data.user_band(ub).start, data.item_band(ib).start);
        let block = if test {
            data.test_block(ub, ib)
        } else {
            data.train_block(ub, ib)
        };
        block
            .iter()
            .map(move |r| (u0 + r.user as usize, i0 + r.item as usize, r.value))
    })
}
