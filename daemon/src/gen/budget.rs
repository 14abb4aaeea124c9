//! Whether a generated data set fits this machine, decided before any of
//! it is generated: `gen` holds every rating in memory twice at its peak
//! (the sampled ratings and the blocked records being written) and then
//! writes a file of 12 bytes a rating. A size that cannot fit is refused
//! with the numbers and the largest `--scale` that would fit, instead of
//! being killed by the OOM killer, or by a full disk, an hour later.

use std::path::Path;

use super::GenConfig;
use crate::ratingfile;
use crate::usage_bail;

/// Peak memory per rating: 12 bytes of sampled triple plus 12 of blocked
/// record, and a little for the vectors' growth (measured: 25–26 bytes per
/// rating at 1–10 million ratings, including everything else).
const MEMORY_PER_RATING: u64 = 26;
/// Memory per user and per item beside their ratings: the id string and
/// its table entries, the permutation, the loads, the sampling plan.
const MEMORY_PER_ROW: u64 = 128;
/// Memory that does not grow with the data (code, threads, buffers).
const MEMORY_FIXED: u64 = 64 << 20;
/// Bytes of a rating record in the file.
const RECORD_BYTES: u64 = 12;

/// What a data set needs, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    /// Peak memory while generating and writing.
    pub memory: u64,
    /// The rating file's size on disk.
    pub disk: u64,
}

/// What this machine has, in bytes (`None` where it cannot be told).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Room {
    /// Memory available without swapping: `MemAvailable`, or a smaller
    /// cgroup limit.
    pub memory: Option<u64>,
    /// Free space for an unprivileged writer in the output's directory.
    pub disk: Option<u64>,
}

/// What `config` needs: peak memory and file size.
pub fn needs(config: &GenConfig) -> Needs {
    let (users, items, ratings) = config.shape();
    let rows = users as u64 + items as u64;
    let id_bytes = digits(users) * users as u64 + digits(items) * items as u64;
    let item_model = items as u64 * (config.rank as u64 + 2) * 8;
    let grid = config
        .grid
        .unwrap_or_else(|| ratingfile::default_grid(users, items, ratings)) as u64;
    Needs {
        memory: ratings * MEMORY_PER_RATING + rows * MEMORY_PER_ROW + item_model + MEMORY_FIXED,
        // Header, block table, records, id offsets (8), bytes and index (4),
        // every section padded to 64 bytes.
        disk: 512
            + grid * grid * 48
            + ratings * RECORD_BYTES
            + rows * 12
            + 8 * 2
            + id_bytes
            + 10 * 64,
    }
}

/// The memory and disk space this machine has for writing `out`.
pub fn room_for(out: &Path) -> Room {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Room {
        memory: available_memory(),
        disk: free_disk(dir),
    }
}

/// Refuses (a usage error, exit 2) a `config` whose needs exceed `room`,
/// with the numbers and the largest scale that fits.
pub fn check_fits(config: &GenConfig, room: Room, out: &Path) -> anyhow::Result<()> {
    let need = needs(config);
    if fits(need, room) {
        return Ok(());
    }
    let (users, items, ratings) = config.shape();
    let mut short = Vec::new();
    if let Some(have) = room.memory.filter(|&have| need.memory > have) {
        short.push(format!(
            "about {} of memory ({} available)",
            size(need.memory),
            size(have)
        ));
    }
    if let Some(have) = room.disk.filter(|&have| need.disk > have) {
        let dir = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        short.push(format!(
            "{} of disk ({} free in {})",
            size(need.disk),
            size(have),
            dir.display()
        ));
    }
    let shape = format!(
        "{} users × {} items, {} ratings",
        grouped(users as u64),
        grouped(items as u64),
        grouped(ratings)
    );
    let needs = short.join(" and ");
    if let Some((rows, cols)) = config.dense {
        usage_bail!(
            "--dense {rows}x{cols} does not fit this machine: {shape} need {needs}; choose a smaller matrix"
        );
    }
    let what = match largest_scale(config, room) {
        Some(scale) => format!("the largest scale that fits is --scale {scale}"),
        None => "no scale fits: free some memory or disk space".to_string(),
    };
    usage_bail!(
        "--scale {} does not fit this machine: {shape} need {needs}; {what}",
        config.scale
    )
}

fn fits(need: Needs, room: Room) -> bool {
    room.memory.is_none_or(|m| need.memory <= m) && room.disk.is_none_or(|d| need.disk <= d)
}

/// The largest scale below `config.scale`, rounded down to two significant
/// digits, whose needs fit `room`.
fn largest_scale(config: &GenConfig, room: Room) -> Option<f64> {
    let fits_at = |scale: f64| {
        fits(
            needs(&GenConfig {
                scale,
                ..config.clone()
            }),
            room,
        )
    };
    let (mut lo, mut hi) = (0.0f64, config.scale);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if fits_at(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    if lo <= 0.0 {
        return None;
    }
    let unit = 10f64.powi(lo.log10().floor() as i32 - 1);
    let rounded = (lo / unit).floor() * unit;
    // Printed with no more digits than it has.
    let rounded: f64 = format!("{rounded:.12}").parse().unwrap_or(rounded);
    (rounded > 0.0 && fits_at(rounded)).then_some(rounded)
}

/// `n` with thousands separators: 10,048,050,700.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() * 4 / 3);
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn digits(n: usize) -> u64 {
    n.max(1).to_string().len() as u64
}

/// Bytes for a person, in TB, GB, MB or bytes.
fn size(bytes: u64) -> String {
    if bytes >= 1_000_000_000_000 {
        format!("{:.1} TB", bytes as f64 / 1e12)
    } else if bytes >= 1_000_000_000 {
        format!("{:.1} GB", bytes as f64 / 1e9)
    } else if bytes >= 1_000_000 {
        format!("{:.0} MB", bytes as f64 / 1e6)
    } else {
        format!("{bytes} bytes")
    }
}

/// `MemAvailable` from `/proc/meminfo`, or a cgroup v2 memory limit less
/// what the group uses when that is smaller; `None` elsewhere.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)?;
    let read = |name: &str| {
        std::fs::read_to_string(Path::new("/sys/fs/cgroup").join(name))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    let limited = match (read("memory.max"), read("memory.current")) {
        (Some(max), Some(current)) => Some(max.saturating_sub(current)),
        _ => None,
    };
    Some(limited.map_or(available, |l| l.min(available)))
}

/// Free space for an unprivileged writer in the file system of `dir`.
#[cfg(unix)]
fn free_disk(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string that outlives the call, and
    // `stat` points to writable memory of the size statvfs fills in.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it initialised the whole struct.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field types differ by platform
    Some(stat.f_bavail as u64 * stat.f_frsize as u64)
}

#[cfg(not(unix))]
fn free_disk(_dir: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(scale: f64) -> GenConfig {
        GenConfig {
            scale,
            ..GenConfig::default()
        }
    }

    #[test]
    fn the_full_netflix_shape_needs_gigabytes_and_the_file_is_twelve_bytes_a_rating() {
        let need = needs(&at(1.0));
        // 100,480,507 ratings.
        assert!((2.6e9..2.8e9).contains(&(need.memory as f64)), "{need:?}");
        assert!((1.2e9..1.24e9).contains(&(need.disk as f64)), "{need:?}");
    }

    #[test]
    fn what_does_not_fit_is_refused_with_the_largest_scale_that_does() {
        let room = Room {
            memory: Some(24_000_000_000),
            disk: Some(500_000_000_000),
        };
        let out = Path::new("big.funk");
        assert!(check_fits(&at(1.0), room, out).is_ok());
        let err = check_fits(&at(100.0), room, out).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2);
        let text = err.to_string();
        assert!(text.contains("--scale 100 does not fit"), "{text}");
        assert!(text.contains("24.0 GB available"), "{text}");
        assert!(!text.contains("of disk"), "{text}");
        let best = largest_scale(&at(100.0), room).unwrap();
        assert!(text.contains(&format!("--scale {best}")), "{text}");
        assert!(check_fits(&at(best), room, out).is_ok());
        // Two significant digits, and not far below the limit.
        assert!(check_fits(&at(best * 1.1), room, out).is_err());
        assert!((1.0..100.0).contains(&best), "{best}");

        let tiny_disk = Room {
            memory: None,
            disk: Some(1000),
        };
        let err = check_fits(&at(1.0), tiny_disk, out)
            .unwrap_err()
            .to_string();
        assert!(err.contains("of disk (1000 bytes free in .)"), "{err}");
        assert!(err.contains("no scale fits"), "{err}");
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(10_048_050_700), "10,048,050,700");
    }

    #[test]
    fn an_unknown_room_refuses_nothing() {
        assert!(check_fits(&at(1000.0), Room::default(), Path::new("x")).is_ok());
    }

    #[test]
    fn this_machine_reports_its_memory_and_disk() {
        let room = room_for(Path::new("x.funk"));
        if cfg!(target_os = "linux") {
            assert!(room.memory.is_some_and(|m| m > 0));
            assert!(room.disk.is_some());
        }
    }
}
