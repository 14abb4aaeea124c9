//! Background work that hands the CPU back at a fine grain.
//!
//! A background thread (a training round's compaction, the load of a
//! checkpoint, the check of a rating file's blocks) runs on the cores that
//! answer queries, in the idle scheduling class or niced. Linux still gives
//! it a small share of a saturated core, and once it is picked it keeps the
//! core until the next timer tick (4 ms at 250 Hz) unless a thread wakes:
//! query threads that were already runnable wait behind it that long. A
//! long loop of such work therefore calls [`pause_point`] every few
//! microseconds of work; on a background thread, once [`EVERY`] has passed
//! since it last gave the CPU back, that yields it (`sched_yield`), which
//! puts every runnable query thread first. The work's share of the CPU is
//! the scheduler's as before; what changes is that it comes in stretches of
//! [`EVERY`] instead of a tick.
//!
//! Only background threads yield: those marked by [`set_background`] (the
//! service marks the threads it lowers) and those in the idle class when
//! they first reach a pause point (a thread started by a background thread
//! inherits its class). On any other thread, a query's included, a pause
//! point does nothing but read a thread-local flag.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// How much work a background thread does between two yields.
pub const EVERY: Duration = Duration::from_micros(200);

/// When the next yield is due: [`EVERY`] (or the interval given) after the
/// last one returned.
#[derive(Clone, Copy, Debug)]
pub struct Cadence {
    every: Duration,
    since: Instant,
}

impl Cadence {
    /// A cadence of one yield per `every` of work, counted from `now`.
    pub fn new(every: Duration, now: Instant) -> Cadence {
        Cadence { every, since: now }
    }

    /// Whether a yield is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.since) >= self.every
    }

    /// Counts the next interval from `now` (when a yield returned: the time
    /// the thread waited for the CPU again is not work).
    pub fn restart(&mut self, now: Instant) {
        self.since = now;
    }
}

thread_local! {
    /// Whether this thread yields at pause points (`None`: not known yet).
    static BACKGROUND: Cell<Option<bool>> = const { Cell::new(None) };
    /// This thread's cadence, once it reached a pause point as background.
    static CADENCE: Cell<Option<Cadence>> = const { Cell::new(None) };
}

/// Marks the calling thread as background work (it yields at pause points)
/// or not. Threads it starts find out by their scheduling class.
pub fn set_background(background: bool) {
    BACKGROUND.with(|b| b.set(Some(background)));
}

/// Whether the calling thread yields at pause points.
pub fn is_background() -> bool {
    BACKGROUND.with(|b| match b.get() {
        Some(known) => known,
        None => {
            let found = in_idle_class();
            b.set(Some(found));
            found
        }
    })
}

#[cfg(target_os = "linux")]
fn in_idle_class() -> bool {
    // SAFETY: a plain system call about the calling thread; no memory is
    // passed.
    unsafe { libc::sched_getscheduler(0) == libc::SCHED_IDLE }
}

#[cfg(not(target_os = "linux"))]
fn in_idle_class() -> bool {
    false
}

/// A place in a long loop of background work where the thread may hand
/// the CPU back (see the module documentation). Call it every few
/// microseconds of work: it reads the clock only on a background thread.
/// Returns whether it yielded.
pub fn pause_point() -> bool {
    if !is_background() {
        return false;
    }
    CADENCE.with(|c| {
        let now = Instant::now();
        let mut cadence = c.get().unwrap_or_else(|| Cadence::new(EVERY, now));
        let due = cadence.due(now);
        if due {
            std::thread::yield_now();
            cadence.restart(Instant::now());
        }
        c.set(Some(cadence));
        due
    })
}

/// How many steps of a loop (a record placed, two keys compared) a
/// [`Pacer`] counts between pause points by default: at most tens of
/// microseconds of work.
pub const STEPS_BETWEEN_PAUSES: u32 = 1024;

/// Counts the steps of a loop and reaches a [`pause_point`] every so many:
/// a decrement a step, the clock read only at the pause points. It does
/// not change what the loop computes, so it may sit in a sort's comparison.
#[derive(Clone, Debug)]
pub struct Pacer {
    every: u32,
    left: u32,
}

impl Pacer {
    /// A pause point every [`STEPS_BETWEEN_PAUSES`] steps.
    pub fn new() -> Pacer {
        Pacer::every(STEPS_BETWEEN_PAUSES)
    }

    /// A pause point every `steps` steps (at least 1).
    pub fn every(steps: u32) -> Pacer {
        let every = steps.max(1);
        Pacer { every, left: every }
    }

    /// One step of work; a pause point after every `every` of them.
    /// Returns whether this step reached one.
    #[inline]
    pub fn step(&mut self) -> bool {
        self.left -= 1;
        if self.left == 0 {
            self.left = self.every;
            pause_point();
            return true;
        }
        false
    }
}

impl Default for Pacer {
    fn default() -> Pacer {
        Pacer::new()
    }
}

/// How many bytes a hash or copy handles between pause points.
pub const BYTES_BETWEEN_PAUSES: usize = 256 << 10;

/// xxh3-64 of `bytes` (the same value as [`xxhash_rust::xxh3::xxh3_64`]),
/// with a pause point every [`BYTES_BETWEEN_PAUSES`].
pub fn xxh3_64(bytes: &[u8]) -> u64 {
    if bytes.len() <= BYTES_BETWEEN_PAUSES {
        return xxhash_rust::xxh3::xxh3_64(bytes);
    }
    let mut hasher = xxhash_rust::xxh3::Xxh3Default::new();
    for piece in bytes.chunks(BYTES_BETWEEN_PAUSES) {
        hasher.update(piece);
        pause_point();
    }
    hasher.digest()
}

/// How many elements of `T` make a piece of [`BYTES_BETWEEN_PAUSES`] (at
/// least one).
fn elements_per_piece<T>() -> usize {
    (BYTES_BETWEEN_PAUSES / std::mem::size_of::<T>().max(1)).max(1)
}

/// A vector of `len` copies of `value`, written a piece of
/// [`BYTES_BETWEEN_PAUSES`] at a time with a pause point after each: the
/// memory of a large one is mapped page by page as it is first written,
/// kernel work a background thread should not do in one stretch.
pub fn filled<T: Copy>(len: usize, value: T) -> Vec<T> {
    let per_piece = elements_per_piece::<T>();
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        let n = (len - v.len()).min(per_piece);
        v.extend(std::iter::repeat_n(value, n));
        pause_point();
    }
    v
}

/// `parts` one after the other in a new vector, copied a piece of
/// [`BYTES_BETWEEN_PAUSES`] at a time with a pause point after each (the
/// same values as concatenating them; a background thread that copies
/// tens of megabytes, page faults of the new memory included, does not do
/// it in one stretch).
pub fn concatenated<'a, T: Copy + 'a>(parts: impl IntoIterator<Item = &'a [T]> + Clone) -> Vec<T> {
    let per_piece = elements_per_piece::<T>();
    let len = parts.clone().into_iter().map(<[T]>::len).sum();
    let mut v = Vec::with_capacity(len);
    for part in parts {
        for piece in part.chunks(per_piece) {
            v.extend_from_slice(piece);
            pause_point();
        }
    }
    v
}

/// Whether `a` and `b` are equal (the same answer as `a == b`), compared
/// a piece of [`BYTES_BETWEEN_PAUSES`] at a time with a pause point after
/// each.
pub fn equal<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    let per_piece = elements_per_piece::<T>();
    a.len() == b.len()
        && a.chunks(per_piece).zip(b.chunks(per_piece)).all(|(x, y)| {
            let same = x == y;
            pause_point();
            same
        })
}

/// Whether every element of `v` passes `test` (the same answer as
/// `v.iter().all(test)`), checked a piece of [`BYTES_BETWEEN_PAUSES`] at a
/// time with a pause point after each.
pub fn all<T>(v: &[T], mut test: impl FnMut(&T) -> bool) -> bool {
    v.chunks(elements_per_piece::<T>()).all(|piece| {
        let passed = piece.iter().all(&mut test);
        pause_point();
        passed
    })
}

/// Frees `v`; on a background thread, a piece of its memory at a time with
/// a pause point after each (unmapping a large buffer at once is kernel
/// work of milliseconds that a waiting query would sit behind).
pub fn release<T: Copy>(v: Vec<T>) {
    let bytes = v.capacity() * std::mem::size_of::<T>();
    // SAFETY: the range is `v`'s allocation, which nothing reads again: `v`
    // is dropped below, and `T: Copy` has no drop code.
    unsafe { give_back_pages(v.as_ptr().cast(), bytes) };
    drop(v);
}

/// Unmaps `map`; on a background thread, its pages a piece at a time with
/// a pause point after each (a large file's mapping has hundreds of
/// thousands of page-table entries, milliseconds of kernel work to remove
/// at once).
pub fn release_mapping(map: memmap2::Mmap) {
    // SAFETY: the range is `map`'s mapping, which nothing reads again: the
    // map is owned here (no slice of it outlives this call) and dropped
    // below.
    unsafe { give_back_pages(map.as_ptr(), map.len()) };
    drop(map);
}

/// On a background thread (Linux), gives back the whole pages of the
/// `bytes` bytes from `start` ([`PAGES_BETWEEN_PAUSES`] at a time, with a
/// pause point after each), so that unmapping them later is quick; does
/// nothing elsewhere.
///
/// # Safety
///
/// The range is one mapping (or allocation) of this process that nothing
/// reads or writes again but the call that unmaps it: a page given back
/// reads as zeros (anonymous memory) or as the file again.
unsafe fn give_back_pages(start: *const u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    if is_background() {
        // SAFETY: a plain query; no memory is passed.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .unwrap_or(4096)
            .max(1);
        let start = start as usize;
        let end = start + bytes;
        let mut at = start.next_multiple_of(page);
        let last = end / page * page;
        while at < last {
            let n = (last - at).min(PAGES_BETWEEN_PAUSES);
            // SAFETY: [at, at + n) is whole pages inside the range, which
            // the caller promises nothing uses again. MADV_DONTNEED gives
            // the pages back; the mapping stays valid.
            unsafe {
                libc::madvise(at as *mut libc::c_void, n, libc::MADV_DONTNEED);
            }
            at += n;
            pause_point();
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (start, bytes);
}

/// How many bytes of memory are given back, or mapped in ahead, between
/// two pause points: a fraction of a millisecond of kernel work.
pub const PAGES_BETWEEN_PAUSES: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_yield_is_due_once_the_interval_passed_since_the_last_one_returned() {
        let t0 = Instant::now();
        let at = |us: u64| t0 + Duration::from_micros(us);
        let mut c = Cadence::new(Duration::from_micros(200), t0);
        assert!(!c.due(t0));
        assert!(!c.due(at(199)));
        assert!(c.due(at(200)));
        assert!(c.due(at(5_000)));
        // The yield returned at 5 ms (it waited): the next one is 200 µs
        // of work later, not at once.
        c.restart(at(5_000));
        assert!(!c.due(at(5_100)));
        assert!(c.due(at(5_200)));
        // A clock read before the restart (another thread's instant) is
        // not due, not a panic.
        assert!(!c.due(at(4_000)));
    }

    #[test]
    fn only_a_background_thread_yields() {
        let run = |background: Option<bool>| {
            std::thread::spawn(move || {
                if let Some(b) = background {
                    set_background(b);
                }
                let until = Instant::now() + EVERY * 20;
                let mut yields = 0;
                while Instant::now() < until {
                    yields += usize::from(pause_point());
                }
                (is_background(), yields)
            })
            .join()
            .unwrap()
        };
        // A thread in the normal class, unmarked or marked not background.
        assert_eq!(run(None), (false, 0));
        assert_eq!(run(Some(false)), (false, 0));
        // Marked: it yields, at most once per interval (20 intervals of
        // spinning; a slow machine may see fewer).
        let (background, yields) = run(Some(true));
        assert!(background);
        assert!((1..=20).contains(&yields), "{yields}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_in_the_idle_class_is_background_unasked() {
        let found = std::thread::spawn(|| {
            let param = libc::sched_param { sched_priority: 0 };
            // SAFETY: `param` outlives the call; pid 0 is this thread.
            let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
            assert_eq!(rc, 0);
            // Its children inherit the class and find out on their own.
            std::thread::spawn(is_background).join().unwrap()
        })
        .join()
        .unwrap();
        assert!(found);
        assert!(!is_background(), "the test's own thread is not");
    }

    #[test]
    fn a_pacer_pauses_once_every_so_many_steps() {
        let steps: Vec<bool> = {
            let mut pacer = Pacer::every(3);
            (0..7).map(|_| pacer.step()).collect()
        };
        assert_eq!(steps, [false, false, true, false, false, true, false]);
        // Never zero steps between pause points.
        let mut every_step = Pacer::every(0);
        assert!(every_step.step() && every_step.step());
    }

    #[test]
    fn a_sort_with_a_pacer_in_its_comparison_sorts_the_same() {
        let keys: Vec<u64> = (0..50_000u64)
            .map(|k| k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 7)
            .collect();
        let mut plain = keys.clone();
        plain.sort_unstable();
        let paced = std::thread::spawn(move || {
            set_background(true);
            let mut keys = keys;
            let mut pacer = Pacer::every(7);
            keys.sort_unstable_by(|a, b| {
                pacer.step();
                a.cmp(b)
            });
            keys
        })
        .join()
        .unwrap();
        assert_eq!(paced, plain);
    }

    #[test]
    fn a_vector_filled_in_pieces_is_filled_and_released_whole() {
        for len in [0, 1, 100_000, 3 * BYTES_BETWEEN_PAUSES + 5] {
            let v = filled(len, (7u32, 1.5f32));
            assert_eq!(v.len(), len);
            assert!(v.iter().all(|&x| x == (7, 1.5)));
            // Released in pieces on a background thread, whole elsewhere.
            std::thread::spawn(move || {
                set_background(true);
                release(v);
            })
            .join()
            .unwrap();
            release(filled(len, 3u8));
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn pages_are_given_back_whole_on_a_background_thread_only() {
        let run = |background: bool| {
            std::thread::spawn(move || {
                set_background(background);
                let v = vec![1u8; 3 * PAGES_BETWEEN_PAUSES + 12_345];
                // SAFETY: `v` is one allocation; it is read below only as
                // bytes, for which a page given back (zeros) is a value.
                unsafe { give_back_pages(v.as_ptr(), v.len()) };
                let zeros = v.iter().filter(|&&b| b == 0).count();
                (zeros, v[0], v[v.len() - 1], v.len())
            })
            .join()
            .unwrap()
        };
        // SAFETY: a plain query.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let (zeros, first, last, len) = run(true);
        // Every whole page inside, and nothing outside them: the partial
        // pages at both ends keep their bytes.
        assert!(zeros >= len - 2 * page && zeros % page == 0, "{zeros}");
        assert_eq!((first, last), (1, 1));
        assert_eq!(run(false).0, 0, "a foreground thread gives nothing back");
    }

    #[test]
    fn a_mapping_released_in_pieces_leaves_its_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let bytes: Vec<u8> = (0..3 * PAGES_BETWEEN_PAUSES + 99)
            .map(|i| i as u8)
            .collect();
        std::fs::write(&path, &bytes).unwrap();
        for background in [true, false] {
            let file = std::fs::File::open(&path).unwrap();
            // SAFETY: the test's own file, not changed while mapped.
            let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
            assert_eq!(&map[..], &bytes[..]);
            std::thread::spawn(move || {
                set_background(background);
                release_mapping(map);
            })
            .join()
            .unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
        }
    }

    #[test]
    fn parts_concatenated_in_pieces_are_the_parts_concatenated() {
        let per_piece = BYTES_BETWEEN_PAUSES / 4;
        let a: Vec<u32> = (0..3 * per_piece as u32 + 7).collect();
        let b: Vec<u32> = vec![9; per_piece];
        for parts in [
            vec![],
            vec![&a[..0]],
            vec![&a[..1], &b[..0], &b[..3]],
            vec![&a[..], &b[..], &a[..per_piece + 1]],
        ] {
            let whole: Vec<u32> = parts.iter().flat_map(|p| p.iter().copied()).collect();
            assert_eq!(concatenated(parts.iter().copied()), whole);
            let paced = std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        set_background(true);
                        concatenated(parts.iter().copied())
                    })
                    .join()
                    .unwrap()
            });
            assert_eq!(paced, whole);
        }
    }

    #[test]
    fn slices_compared_in_pieces_compare_as_wholes() {
        let per_piece = BYTES_BETWEEN_PAUSES / 4;
        let a: Vec<f32> = (0..3 * per_piece + 5).map(|k| k as f32).collect();
        let mut late = a.clone();
        *late.last_mut().unwrap() = -1.0;
        let mut nan = a.clone();
        nan[per_piece + 1] = f32::NAN;
        let pairs: [(&[f32], &[f32]); 6] = [
            (&a, &a),
            (&a, &late),
            (&a, &a[..a.len() - 1]),
            (&[], &[]),
            (&[0.0], &[-0.0]),
            (&nan, &nan),
        ];
        for (x, y) in pairs {
            assert_eq!(equal(x, y), x == y);
            let paced = std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        set_background(true);
                        equal(x, y)
                    })
                    .join()
                    .unwrap()
            });
            assert_eq!(paced, x == y);
        }
    }

    #[test]
    fn a_test_in_pieces_answers_as_a_whole() {
        let per_piece = elements_per_piece::<f32>();
        for len in [0, 1, per_piece, 3 * per_piece + 7] {
            let ok = vec![1.5f32; len];
            let answers = std::thread::spawn(move || {
                set_background(true);
                let mut found = vec![all(&ok, |v| v.is_finite())];
                for at in [0, len / 2, len.saturating_sub(1)]
                    .into_iter()
                    .filter(|_| len > 0)
                {
                    let mut bad = ok.clone();
                    bad[at] = f32::NAN;
                    found.push(all(&bad, |v| v.is_finite()));
                }
                found
            })
            .join()
            .unwrap();
            assert!(answers[0], "len {len}");
            assert!(answers[1..].iter().all(|&a| !a), "len {len}: {answers:?}");
        }
    }

    #[test]
    fn the_hash_in_pieces_is_xxh3() {
        for len in [
            0,
            1,
            BYTES_BETWEEN_PAUSES,
            BYTES_BETWEEN_PAUSES + 1,
            3 * BYTES_BETWEEN_PAUSES + 77,
        ] {
            let bytes: Vec<u8> = (0..len).map(|k| (k * 31 % 251) as u8).collect();
            let whole = xxhash_rust::xxh3::xxh3_64(&bytes);
            assert_eq!(xxh3_64(&bytes), whole, "{len}");
            let piecewise = std::thread::spawn(move || {
                set_background(true);
                xxh3_64(&bytes)
            })
            .join()
            .unwrap();
            assert_eq!(piecewise, whole, "{len}, background");
        }
    }
}
