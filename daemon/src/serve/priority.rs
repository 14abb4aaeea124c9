//! The CPU and I/O priority of the service's background work: a training
//! round (compaction, training, the check of the new rating file), loading
//! a hot-swapped checkpoint, and the check of a rating file's blocks after
//! start-up. Queries keep the CPU and the disk; background work gets what
//! they leave.
//!
//! The default is Linux's idle scheduling class (`SCHED_IDLE`): on a core
//! that also answers queries, a niced thread still gets time slices of
//! milliseconds, which a query waits behind; an idle-class thread runs only
//! when no normal thread wants the core. It is not starved for good: the
//! scheduler still gives it a small share (a weight of 3 against a normal
//! thread's 1024, about 0.3 %) even under full load, so a round or a swap
//! on a saturated server finishes, only slower (see docs/service.md).
//! Its I/O goes in the idle I/O class too (`IOPRIO_CLASS_IDLE`, for the
//! block layer's schedulers that honour classes: the disk's requests of
//! normal threads, such as the ingest log's syncs, go first). A niced
//! thread's I/O priority follows its nice value without being set.
//!
//! A thread's class is inherited by the threads it starts, and an
//! unprivileged process cannot take it back: apply it only on threads of
//! their own, never on a shared pool's.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// How background work is scheduled against the queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackgroundPriority {
    /// The idle scheduling class: runs when the queries leave the CPU free
    /// (Linux; elsewhere, normal priority).
    Idle,
    /// Normal class, `nice` this much higher (1..=19, Linux).
    Nice(i32),
    /// The same priority as the queries.
    Normal,
}

impl FromStr for BackgroundPriority {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "idle" => Ok(Self::Idle),
            "normal" => Ok(Self::Normal),
            _ => {
                let nice = text.strip_prefix("nice:").ok_or_else(|| {
                    format!("`{text}` is not a priority: use idle, nice:N (N in 1..=19) or normal")
                })?;
                match nice.parse::<i32>() {
                    Ok(n) if (1..=19).contains(&n) => Ok(Self::Nice(n)),
                    _ => Err(format!(
                        "`{text}`: the nice value must be a whole number in 1..=19 (higher is lower priority)"
                    )),
                }
            }
        }
    }
}

impl fmt::Display for BackgroundPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Idle => f.write_str("idle"),
            Self::Nice(n) => write!(f, "nice:{n}"),
            Self::Normal => f.write_str("normal"),
        }
    }
}

static CHOSEN: OnceLock<BackgroundPriority> = OnceLock::new();

/// Sets the priority of this process's background work (the first call
/// wins; [`BackgroundPriority::Idle`] until then).
pub fn choose(priority: BackgroundPriority) {
    let _ = CHOSEN.set(priority);
}

/// The priority of this process's background work.
pub fn chosen() -> BackgroundPriority {
    CHOSEN.get().copied().unwrap_or(BackgroundPriority::Idle)
}

/// Puts the calling thread, and the threads it starts from then on, at the
/// chosen background priority; `what` names the work in the log line
/// written to `log` if that fails (the work then runs at normal priority).
pub fn enter_background(what: &str, log: &super::Log) {
    if let Err(why) = apply(chosen()) {
        log.warning(&format!(
            "{what} runs at normal priority: cannot lower it to {} ({why}); \
             queries may wait behind it",
            chosen()
        ));
    }
}

/// Puts the calling thread at `priority`; a thread lowered (idle or niced)
/// also hands the CPU back at the pause points of its long loops
/// ([`crate::courtesy`]).
pub fn apply(priority: BackgroundPriority) -> Result<(), String> {
    let applied = lower(priority);
    if applied.is_ok() {
        crate::courtesy::set_background(priority != BackgroundPriority::Normal);
    }
    applied
}

fn lower(priority: BackgroundPriority) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        match priority {
            BackgroundPriority::Normal => Ok(()),
            BackgroundPriority::Idle => {
                let param = libc::sched_param { sched_priority: 0 };
                // SAFETY: `param` is a valid sched_param that outlives the
                // call; pid 0 is the calling thread.
                let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
                if rc != 0 {
                    return Err(format!(
                        "sched_setscheduler: {}",
                        std::io::Error::last_os_error()
                    ));
                }
                set_io_class(IoClass::Idle)
            }
            BackgroundPriority::Nice(nice) => {
                // SAFETY: plain system calls on the calling thread's own id;
                // no memory is passed.
                let rc = unsafe {
                    let tid = libc::gettid() as libc::id_t;
                    let now = libc::getpriority(libc::PRIO_PROCESS, tid);
                    libc::setpriority(libc::PRIO_PROCESS, tid, now + nice)
                };
                if rc == 0 {
                    Ok(())
                } else {
                    Err(format!("setpriority: {}", std::io::Error::last_os_error()))
                }
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        match priority {
            BackgroundPriority::Normal => Ok(()),
            other => Err(format!("{other} is supported on Linux only")),
        }
    }
}

/// An I/O scheduling class (Linux's `IOPRIO_CLASS_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoClass {
    /// None set: the priority follows the CPU nice value.
    None,
    /// Real time.
    RealTime,
    /// Best effort (the default of normal threads).
    BestEffort,
    /// Served only when no other class waits for the disk.
    Idle,
}

/// `ioprio_set`/`ioprio_get`'s "which": one thread.
#[cfg(target_os = "linux")]
const IOPRIO_WHO_PROCESS: libc::c_int = 1;
/// Where the class sits in an I/O priority value.
#[cfg(target_os = "linux")]
const IOPRIO_CLASS_SHIFT: u32 = 13;

/// Puts the calling thread's I/O (and that of threads it starts from then
/// on) in `class` at its lowest level.
#[cfg(target_os = "linux")]
fn set_io_class(class: IoClass) -> Result<(), String> {
    let (code, level) = match class {
        IoClass::None => (0, 0),
        IoClass::RealTime => (1, 7),
        IoClass::BestEffort => (2, 7),
        IoClass::Idle => (3, 0),
    };
    let value: libc::c_int = (code << IOPRIO_CLASS_SHIFT) | level;
    // SAFETY: a plain system call on the calling thread (who 0); no memory
    // is passed.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("ioprio_set: {}", std::io::Error::last_os_error()))
    }
}

/// The calling thread's I/O scheduling class (Linux).
#[cfg(target_os = "linux")]
pub fn current_io_class() -> Result<IoClass, String> {
    // SAFETY: a plain system call about the calling thread (who 0); no
    // memory is passed.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
    if rc < 0 {
        return Err(format!("ioprio_get: {}", std::io::Error::last_os_error()));
    }
    Ok(match rc >> IOPRIO_CLASS_SHIFT {
        0 => IoClass::None,
        1 => IoClass::RealTime,
        2 => IoClass::BestEffort,
        _ => IoClass::Idle,
    })
}

/// The calling thread's scheduling: whether it is in the idle class, and
/// its nice value (Linux).
#[cfg(target_os = "linux")]
pub fn current() -> (bool, i32) {
    // SAFETY: plain system calls about the calling thread; no memory is
    // passed.
    unsafe {
        let idle = libc::sched_getscheduler(0) == libc::SCHED_IDLE;
        let nice = libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t);
        (idle, nice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_parse_and_print_back() {
        for text in ["idle", "normal", "nice:1", "nice:10", "nice:19"] {
            let parsed: BackgroundPriority = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!("nice:7".parse(), Ok(BackgroundPriority::Nice(7)));
        for bad in [
            "", "low", "nice", "nice:", "nice:0", "nice:20", "nice:-3", "Idle",
        ] {
            let err = bad.parse::<BackgroundPriority>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }

    /// Runs `priority` on a thread of its own and reports the scheduling
    /// of that thread and of one it starts afterwards, against the start.
    #[cfg(target_os = "linux")]
    fn applied(priority: BackgroundPriority) -> ((bool, i32), (bool, i32)) {
        std::thread::spawn(move || {
            let (_, before) = current();
            apply(priority).unwrap();
            let (idle, nice) = current();
            let (child_idle, child_nice) = std::thread::spawn(current).join().unwrap();
            ((idle, nice - before), (child_idle, child_nice - before))
        })
        .join()
        .unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn idle_puts_the_thread_and_its_children_in_the_idle_class() {
        assert_eq!(applied(BackgroundPriority::Idle), ((true, 0), (true, 0)));
        // The thread that asked is untouched.
        assert!(!current().0);
    }

    /// The I/O class of a thread that sets `class`, of one it starts
    /// afterwards, and of the thread that asked (which stays as it was).
    #[cfg(target_os = "linux")]
    fn io_classes_after(class: IoClass) -> (IoClass, IoClass, IoClass) {
        let asking = current_io_class().unwrap();
        let (own, child) = std::thread::spawn(move || {
            set_io_class(class).unwrap();
            let own = current_io_class().unwrap();
            let child = std::thread::spawn(|| current_io_class().unwrap())
                .join()
                .unwrap();
            (own, child)
        })
        .join()
        .unwrap();
        assert_eq!(current_io_class().unwrap(), asking);
        (own, child, asking)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_idle_io_class_holds_for_the_thread_and_its_children() {
        let (own, child, asking) = io_classes_after(IoClass::Idle);
        assert_eq!((own, child), (IoClass::Idle, IoClass::Idle));
        assert_ne!(asking, IoClass::Idle);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn idle_puts_the_thread_and_its_children_in_the_idle_io_class() {
        let classes = std::thread::spawn(|| {
            apply(BackgroundPriority::Idle).unwrap();
            let child = std::thread::spawn(|| current_io_class().unwrap())
                .join()
                .unwrap();
            (current_io_class().unwrap(), child)
        })
        .join()
        .unwrap();
        assert_eq!(classes, (IoClass::Idle, IoClass::Idle));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn nice_and_normal_leave_the_io_class_to_follow_the_cpu_priority() {
        for priority in [BackgroundPriority::Nice(4), BackgroundPriority::Normal] {
            let class = std::thread::spawn(move || {
                apply(priority).unwrap();
                current_io_class().unwrap()
            })
            .join()
            .unwrap();
            // Unset (or, as newer kernels report it, best effort).
            assert!(
                matches!(class, IoClass::None | IoClass::BestEffort),
                "{priority}: {class:?}"
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn nice_lowers_the_thread_and_its_children_by_that_much() {
        assert_eq!(
            applied(BackgroundPriority::Nice(3)),
            ((false, 3), (false, 3))
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_lowered_thread_hands_the_cpu_back_at_pause_points_a_normal_one_does_not() {
        for (priority, yields) in [
            (BackgroundPriority::Idle, true),
            (BackgroundPriority::Nice(2), true),
            (BackgroundPriority::Normal, false),
        ] {
            let background = std::thread::spawn(move || {
                apply(priority).unwrap();
                crate::courtesy::is_background()
            })
            .join()
            .unwrap();
            assert_eq!(background, yields, "{priority}");
        }
        assert!(!crate::courtesy::is_background());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn normal_changes_nothing() {
        assert_eq!(
            applied(BackgroundPriority::Normal),
            ((false, 0), (false, 0))
        );
    }
}
