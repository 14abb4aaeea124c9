//! What the service serves and what a training round is doing, on disk,
//! so that a restart after a crash at any moment picks up where it was.
//!
//! - `DIR/serving.json` ([`Manifest`]), replaced atomically: the model
//!   published by the last training round, its rating file, and the last
//!   ingest log segment that rating file holds. Writing it is the moment a
//!   round commits. Without it the service serves the newest checkpoint of
//!   `DIR` (what `funkd train` wrote) and no segment is applied.
//! - `DIR/rounds/round-NNNNNN/` (one per round): `plan.json` ([`Plan`]:
//!   the base rating file and model, and the closed segments the round
//!   applies, written before any of its work), `data.funk` (the compacted
//!   rating file) and `train/` (the warm-started run's checkpoint
//!   directory). A round whose plan is newer than the manifest is resumed
//!   at start; the directories of older rounds are removed once a newer
//!   one is published.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The manifest's file name in the served directory.
pub const MANIFEST_FILE_NAME: &str = "serving.json";
/// The directory of the rounds' work, in the served directory.
pub const ROUNDS_DIR_NAME: &str = "rounds";
/// A round's plan, in its directory.
pub const PLAN_FILE_NAME: &str = "plan.json";
/// A round's compacted rating file, in its directory.
pub const DATA_FILE_NAME: &str = "data.funk";
/// A round's checkpoint directory, in its directory.
pub const TRAIN_DIR_NAME: &str = "train";

/// The model the last round published (`DIR/serving.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Rounds published so far (1 for the first).
    pub generation: u64,
    /// The rating file (relative to the served directory when inside it).
    pub data: PathBuf,
    /// The checkpoint (relative to the served directory when inside it).
    pub checkpoint: PathBuf,
    /// The last ingest log segment the rating file holds: segments up to
    /// it are applied.
    pub applied_through: u64,
    /// When it was published (seconds since the Unix epoch).
    pub published_unix: f64,
}

/// What a round applies and starts from (`plan.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The generation the round publishes.
    pub generation: u64,
    /// The rating file of the model served when the round began.
    pub base_data: PathBuf,
    /// That model's checkpoint: the warm start.
    pub base_checkpoint: PathBuf,
    /// The first segment applied.
    pub first_segment: u64,
    /// The last segment applied (closed when the round began).
    pub last_segment: u64,
    /// When the round began (seconds since the Unix epoch).
    pub began_unix: f64,
}

/// A path as stored: relative to `dir` when inside it.
pub fn stored(dir: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(dir)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// A stored path as used: relative ones are inside `dir`.
pub fn resolved(dir: &Path, path: &Path) -> PathBuf {
    if path.is_relative() {
        dir.join(path)
    } else {
        path.to_path_buf()
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not what funkd wrote there", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    crate::atomic::write_bytes_atomically(path, &bytes)
}

impl Manifest {
    /// The manifest of `dir`, if a round was ever published there.
    pub fn read(dir: &Path) -> anyhow::Result<Option<Manifest>> {
        read_json(&dir.join(MANIFEST_FILE_NAME))
    }

    /// Replaces the manifest of `dir` atomically and durably.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        write_json(&dir.join(MANIFEST_FILE_NAME), self)
    }
}

/// The directory of round `generation`.
pub fn round_dir(dir: &Path, generation: u64) -> PathBuf {
    dir.join(ROUNDS_DIR_NAME)
        .join(format!("round-{generation:06}"))
}

impl Plan {
    /// The plan in a round's directory, if it was written.
    pub fn read(round_dir: &Path) -> anyhow::Result<Option<Plan>> {
        read_json(&round_dir.join(PLAN_FILE_NAME))
    }

    /// Writes the plan into its round's directory, atomically and durably.
    pub fn write(&self, round_dir: &Path) -> anyhow::Result<()> {
        write_json(&round_dir.join(PLAN_FILE_NAME), self)
    }
}

/// The rounds' directories in `dir`, by generation, oldest first.
fn rounds(dir: &Path) -> anyhow::Result<Vec<(u64, PathBuf)>> {
    let root = dir.join(ROUNDS_DIR_NAME);
    let entries = match std::fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", root.display())),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", root.display()))?;
        let name = entry.file_name();
        if let Some(g) = name
            .to_str()
            .and_then(|n| n.strip_prefix("round-"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            found.push((g, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// What a start finds: the published state and a round to resume.
#[derive(Clone, Debug, Default)]
pub struct Recovered {
    /// The manifest, if a round was ever published.
    pub manifest: Option<Manifest>,
    /// A round that began and did not publish: it is resumed.
    pub pending: Option<Plan>,
}

impl Recovered {
    /// Rounds published.
    pub fn generation(&self) -> u64 {
        self.manifest.as_ref().map_or(0, |m| m.generation)
    }

    /// The last segment applied.
    pub fn applied_through(&self) -> u64 {
        self.manifest.as_ref().map_or(0, |m| m.applied_through)
    }
}

/// Reads the manifest and the rounds of `dir`, and removes what a crash
/// left behind: the directories of rounds older than the one published
/// (the publish that superseded them was durable), and of a round that
/// never got as far as its plan.
pub fn recover(dir: &Path) -> anyhow::Result<Recovered> {
    let manifest = Manifest::read(dir)?;
    let generation = manifest.as_ref().map_or(0, |m| m.generation);
    let applied = manifest.as_ref().map_or(0, |m| m.applied_through);
    let mut pending = None;
    for (g, path) in rounds(dir)? {
        let keep = if g == generation {
            true
        } else if g == generation + 1 {
            match Plan::read(&path) {
                Ok(Some(plan)) if plan.generation == g && plan.first_segment == applied + 1 => {
                    pending = Some(plan);
                    true
                }
                _ => false,
            }
        } else {
            false
        };
        if !keep {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove the finished round {}", path.display()))?;
        }
    }
    Ok(Recovered { manifest, pending })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(generation: u64, first: u64) -> Plan {
        Plan {
            generation,
            base_data: "/data.funk".into(),
            base_checkpoint: "/ckpt".into(),
            first_segment: first,
            last_segment: first + 1,
            began_unix: 0.0,
        }
    }

    #[test]
    fn a_start_keeps_the_published_round_and_the_one_to_resume() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        Manifest {
            generation: 2,
            data: "rounds/round-000002/data.funk".into(),
            checkpoint: "rounds/round-000002/train/ckpt-000003-00000.funkckpt".into(),
            applied_through: 4,
            published_unix: 1.0,
        }
        .write(dir)
        .unwrap();
        for g in 1..=3 {
            std::fs::create_dir_all(round_dir(dir, g)).unwrap();
        }
        plan(3, 5).write(&round_dir(dir, 3)).unwrap();
        let r = recover(dir).unwrap();
        assert_eq!(r.generation(), 2);
        assert_eq!(r.applied_through(), 4);
        assert_eq!(r.pending, Some(plan(3, 5)));
        assert!(!round_dir(dir, 1).exists(), "superseded");
        assert!(round_dir(dir, 2).exists() && round_dir(dir, 3).exists());

        // A plan that does not follow the published state is not resumed.
        plan(3, 9).write(&round_dir(dir, 3)).unwrap();
        let r = recover(dir).unwrap();
        assert_eq!(r.pending, None);
        assert!(!round_dir(dir, 3).exists());
    }

    #[test]
    fn paths_inside_the_directory_are_stored_relative() {
        let dir = Path::new("/srv/run");
        let inside = dir.join("rounds/round-000001/data.funk");
        assert_eq!(
            stored(dir, &inside),
            Path::new("rounds/round-000001/data.funk")
        );
        assert_eq!(resolved(dir, &stored(dir, &inside)), inside);
        assert_eq!(
            stored(dir, Path::new("/data/x.funk")),
            Path::new("/data/x.funk")
        );
    }
}
