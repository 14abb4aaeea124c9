//! `train --fresh`: start over in a checkpoint directory that holds a run,
//! keeping the old run whole beside it (never deleting it).

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::report::Reporter;

/// Moves a checkpoint directory that holds anything to a new sibling
/// `DIR.old-<UTC time>` (with `-2`, `-3`… if that exists), so that a new
/// run starts in an empty `DIR`. A run that is alive in `DIR` (its
/// `status.json` names a running process) is refused, a usage error. Returns where the old run went, or `None`
/// when there was nothing to move (no directory, or an empty one).
pub fn move_aside(dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let mut entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("--fresh: cannot read {}", dir.display())),
    };
    if entries.next().is_none() {
        return Ok(None);
    }
    // A writer that holds the directory's lock is refused before anything
    // moves (exit 2, naming its pid); the lock is held until the rename is
    // done, so no writer can start in between.
    let _lock = crate::dirlock::DirLock::acquire(dir)?;
    if let Some(run) = crate::service::status::run_report(dir) {
        let running = matches!(
            run["state"].as_str(),
            Some("starting" | "training" | "stopping")
        );
        if running && run["alive"] == true {
            crate::usage_bail!(
                "--fresh: a run is training in {} now (pid {}); stop it first (kill -TERM {} \
                 checkpoints and exits), then start over",
                dir.display(),
                run["pid"],
                run["pid"]
            );
        }
    }
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| {
            format!(
                "--fresh: cannot move {} aside (it has no plain name); name the checkpoint directory itself",
                dir.display()
            )
        })?;
    let stamp = utc_stamp(crate::service::status::unix_now() as i64);
    let mut aside = dir.with_file_name(format!("{name}.old-{stamp}"));
    let mut n = 2;
    while aside.exists() {
        aside = dir.with_file_name(format!("{name}.old-{stamp}-{n}"));
        n += 1;
    }
    std::fs::rename(dir, &aside).with_context(|| {
        format!(
            "--fresh: cannot move the previous run in {} to {}",
            dir.display(),
            aside.display()
        )
    })?;
    Ok(Some(aside))
}

/// `--fresh`: moves the run in `dir`, if any, aside ([`move_aside`]) and
/// tells `reporter` where to.
pub fn start_over(dir: &Path, reporter: &dyn Reporter) -> anyhow::Result<()> {
    if let Some(aside) = move_aside(dir)? {
        reporter.notice(&format!(
            "--fresh: the previous run in {} was moved to {} (nothing was deleted)",
            dir.display(),
            aside.display()
        ));
    }
    Ok(())
}

/// A Unix time as `YYYYMMDDTHHMMSSZ` (UTC): sorts like time, safe in a
/// file name.
pub fn utc_stamp(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
        assert_eq!(utc_stamp(1_764_628_199), "20251201T222959Z");
    }

    #[test]
    fn a_missing_or_empty_directory_is_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(move_aside(&tmp.path().join("none")).unwrap(), None);
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert_eq!(move_aside(&empty).unwrap(), None);
        assert!(empty.is_dir());
    }

    #[test]
    fn a_run_is_moved_whole_beside_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        std::fs::create_dir(&run).unwrap();
        std::fs::write(run.join("metrics.jsonl"), b"{}\n").unwrap();
        let first = move_aside(&run).unwrap().unwrap();
        assert!(!run.exists());
        assert_eq!(std::fs::read(first.join("metrics.jsonl")).unwrap(), b"{}\n");
        let name = first.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with("run.old-"), "{name}");
        // A second move in the same second gets its own name.
        std::fs::create_dir(&run).unwrap();
        std::fs::write(run.join("status.json"), b"{}").unwrap();
        let second = move_aside(&run).unwrap().unwrap();
        assert_ne!(first, second);
        assert!(second.join("status.json").is_file());
        assert!(first.join("metrics.jsonl").is_file());
    }
}
