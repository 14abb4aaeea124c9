//! Telling a live run from a dead one: a status file records its
//! process's pid, start time and boot, and a reader checks that a process
//! with that pid still exists and started at that time on this boot (so a
//! pid reused by another process, or a restarted machine, reads as dead).
//!
//! The start time and boot come from Linux's `/proc`; elsewhere they are
//! unknown, and so is whether the run is alive.

use serde::{Deserialize, Serialize};

/// Who wrote a status file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessIdentity {
    /// Process id.
    pub pid: u32,
    /// When the process started, in clock ticks after boot (field 22 of
    /// `/proc/PID/stat`), where known.
    pub process_start: Option<u64>,
    /// The boot it ran in (`/proc/sys/kernel/random/boot_id`), where known.
    pub boot_id: Option<String>,
}

/// Whether the process that wrote a status file still runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// The same process is running.
    Alive,
    /// It is gone; why we know.
    Dead(String),
    /// This system cannot tell (no `/proc`, or nothing recorded).
    Unknown,
}

impl ProcessIdentity {
    /// This process.
    pub fn current() -> ProcessIdentity {
        let pid = std::process::id();
        ProcessIdentity {
            pid,
            process_start: start_ticks(pid),
            boot_id: boot_id(),
        }
    }

    /// Whether this process is still running.
    pub fn liveness(&self) -> Liveness {
        if let (Some(then), Some(now)) = (&self.boot_id, boot_id()) {
            if *then != now {
                return Liveness::Dead("the machine has restarted since".into());
            }
        }
        let Some(recorded) = self.process_start else {
            return Liveness::Unknown;
        };
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Ok(stat) => match parse_stat(&stat) {
                Some((state, start)) if start == recorded && state != 'Z' && state != 'X' => {
                    Liveness::Alive
                }
                Some((_, start)) if start == recorded => {
                    Liveness::Dead(format!("process {} has exited", self.pid))
                }
                Some(_) => Liveness::Dead(format!(
                    "process {} has exited (the pid now belongs to another process)",
                    self.pid
                )),
                None => Liveness::Unknown,
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if std::path::Path::new("/proc/self/stat").exists() {
                    Liveness::Dead(format!("process {} has exited", self.pid))
                } else {
                    Liveness::Unknown
                }
            }
            Err(_) => Liveness::Unknown,
        }
    }
}

/// The start time of process `pid`, in clock ticks after boot.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat).map(|(_, start)| start)
}

/// The state letter and start time of a `/proc/PID/stat` line. The command
/// name (field 2) is in parentheses and may hold spaces and parentheses
/// itself, so the fields are counted after its last `)`.
fn parse_stat(stat: &str) -> Option<(char, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Field 3 is the state; the start time is field 22.
    let start = fields.nth(22 - 4)?.parse().ok()?;
    Some((state, start))
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_counted_after_the_last_parenthesis() {
        let line =
            "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 123 0 0 0 5 6 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_stat(line), Some(('S', 987_654)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_made_up_start_time_is_not() {
        let me = ProcessIdentity::current();
        if me.process_start.is_none() {
            // No /proc here: nothing can be told.
            assert_eq!(me.liveness(), Liveness::Unknown);
            return;
        }
        assert_eq!(me.liveness(), Liveness::Alive);
        let reused = ProcessIdentity {
            process_start: me.process_start.map(|t| t + 1),
            ..me.clone()
        };
        assert!(matches!(reused.liveness(), Liveness::Dead(_)));
        let rebooted = ProcessIdentity {
            boot_id: Some("another boot".into()),
            ..me
        };
        assert!(matches!(rebooted.liveness(), Liveness::Dead(_)));
    }

    #[test]
    fn a_process_that_exited_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let start = start_ticks(pid);
        child.wait().unwrap();
        let gone = ProcessIdentity {
            pid,
            process_start: start.or(Some(1)),
            boot_id: boot_id(),
        };
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(
                matches!(gone.liveness(), Liveness::Dead(_)),
                "{:?}",
                gone.liveness()
            );
        }
    }
}
