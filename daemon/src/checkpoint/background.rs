//! Checkpoints written in the background, from a snapshot.
//!
//! Writing a checkpoint has two parts: encoding the model (a copy through
//! the checksum, as fast as memory) and getting the bytes durably onto the
//! disk (write, fsync, rename, directory fsync, pruning), which waits for
//! the device. [`BackgroundWriter::start`] does the first on the calling
//! thread, so the bytes are exactly the state at that moment, and hands
//! the second to a thread of its own while training goes on, the way a
//! database saves a snapshot while it serves.
//!
//! The guarantees are those of [`CheckpointDir::write`]: the same bytes,
//! the same atomic write (a reader sees the old set of checkpoints or the
//! new one, never a partial file). At most one write is in flight: a new
//! one first waits for the last. Whoever needs the directory quiet (a
//! stop, the final checkpoint, removing abandoned checkpoints) calls
//! [`BackgroundWriter::wait`] first, which also hands back the outcome of
//! the write, so that a failure is reported rather than lost.

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, Context};

use super::{CheckpointDir, CheckpointView, Position};

/// The outcome of a background write.
#[derive(Debug)]
pub struct Written {
    /// The position the checkpoint was taken at.
    pub position: Position,
    /// The checkpoint's file, or why it could not be written.
    pub result: anyhow::Result<PathBuf>,
}

/// The write in flight: its position and the thread doing it, which
/// hands back the buffer (for the next snapshot) and the result.
struct InFlight {
    position: Position,
    thread: JoinHandle<(Vec<u8>, anyhow::Result<PathBuf>)>,
}

/// Writes checkpoints on a thread of their own, one at a time.
#[derive(Default)]
pub struct BackgroundWriter {
    in_flight: Option<InFlight>,
    /// The last snapshot's buffer, kept so that the next one reuses its
    /// pages instead of faulting in new ones.
    spare: Vec<u8>,
}

impl BackgroundWriter {
    /// A writer with nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a write is in flight.
    pub fn busy(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Waits for the write in flight, if any, and returns its outcome.
    pub fn wait(&mut self) -> Option<Written> {
        let InFlight { position, thread } = self.in_flight.take()?;
        let result = match thread.join() {
            Ok((buffer, result)) => {
                self.spare = buffer;
                result
            }
            Err(_) => Err(anyhow!(
                "the thread writing checkpoint {} panicked",
                position.file_name()
            )),
        };
        Some(Written { position, result })
    }

    /// Waits for the write in flight (whose outcome it returns), encodes
    /// `checkpoint` now, and writes it at `position` in `dir` on another
    /// thread, keeping `keep` checkpoints (see [`CheckpointDir::write`];
    /// `pause` is its testing aid). An error here (the snapshot could not
    /// be encoded, no thread could be started) means nothing is in flight.
    pub fn start(
        &mut self,
        dir: &CheckpointDir,
        checkpoint: &CheckpointView<'_>,
        position: Position,
        keep: usize,
        pause: Option<Duration>,
    ) -> (Option<Written>, anyhow::Result<()>) {
        let previous = self.wait();
        let mut bytes = std::mem::take(&mut self.spare);
        bytes.clear();
        if let Err(e) = checkpoint.encode(&mut bytes) {
            let e = anyhow::Error::new(e)
                .context(format!("cannot encode checkpoint {}", position.file_name()));
            return (previous, Err(e));
        }
        let dir = dir.clone();
        let spawned = std::thread::Builder::new()
            .name("funkd-checkpoint".into())
            .spawn(move || {
                let result = dir.write_bytes(&bytes, position, keep, pause);
                (bytes, result)
            })
            .context("cannot start the thread that writes checkpoints");
        match spawned {
            Ok(thread) => {
                self.in_flight = Some(InFlight { position, thread });
                (previous, Ok(()))
            }
            Err(e) => (previous, Err(e)),
        }
    }
}

impl Drop for BackgroundWriter {
    /// A write in flight is finished, never abandoned half-way by this
    /// process (its outcome is dropped: whoever cares called `wait`).
    fn drop(&mut self) {
        let _ = self.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::store::read;
    use crate::checkpoint::Checkpoint;

    fn sample(epoch: u32) -> Checkpoint {
        let mut c = crate::checkpoint::tests::sample(true, false);
        c.progress.epoch = epoch;
        c
    }

    #[test]
    fn the_file_holds_the_snapshot_taken_at_start_not_later_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = CheckpointDir::new(tmp.path());
        let mut writer = BackgroundWriter::new();
        let mut checkpoint = sample(1);
        let expected = {
            let mut bytes = Vec::new();
            checkpoint.encode(&mut bytes).unwrap();
            bytes
        };
        let position = Position {
            epoch: 1,
            stratum: 0,
        };
        let pause = Some(Duration::from_millis(200));
        let (previous, started) = writer.start(&dir, &checkpoint.view(), position, 3, pause);
        assert!(previous.is_none());
        started.unwrap();
        assert!(writer.busy());
        // Training goes on while the bytes reach the disk.
        checkpoint.params.mu += 1.0;
        checkpoint.progress.epoch = 2;
        let written = writer.wait().expect("a write was in flight");
        assert_eq!(written.position, position);
        let path = written.result.unwrap();
        assert_eq!(path, tmp.path().join(position.file_name()));
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        assert_eq!(read(&path).unwrap().progress.epoch, 1);
        assert!(!writer.busy());
        assert!(writer.wait().is_none());
    }

    #[test]
    fn a_new_write_waits_for_the_last_and_returns_its_outcome() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = CheckpointDir::new(tmp.path());
        let mut writer = BackgroundWriter::new();
        let at = |epoch| Position { epoch, stratum: 0 };
        let pause = Some(Duration::from_millis(100));
        for epoch in 1..=4 {
            let (previous, started) =
                writer.start(&dir, &sample(epoch).view(), at(epoch), 2, pause);
            started.unwrap();
            match previous {
                None => assert_eq!(epoch, 1),
                Some(done) => {
                    assert_eq!(done.position, at(epoch - 1));
                    done.result.unwrap();
                    // One write at a time: the previous one is complete
                    // and no temporary file of it is left.
                    assert!(tmp.path().join(at(epoch - 1).file_name()).exists());
                }
            }
        }
        writer.wait().unwrap().result.unwrap();
        let kept: Vec<Position> = dir.list().unwrap().into_iter().map(|(p, _)| p).collect();
        assert_eq!(kept, vec![at(3), at(4)]);
    }

    #[test]
    fn dropping_the_writer_finishes_the_write_in_flight() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = CheckpointDir::new(tmp.path());
        let mut writer = BackgroundWriter::new();
        let position = Position {
            epoch: 1,
            stratum: 0,
        };
        let pause = Some(Duration::from_millis(300));
        let (_, started) = writer.start(&dir, &sample(1).view(), position, 3, pause);
        started.unwrap();
        drop(writer);
        // The whole checkpoint is there as soon as the writer is gone.
        let path = tmp.path().join(position.file_name());
        assert_eq!(read(&path).unwrap().progress.epoch, 1);
    }

    #[test]
    fn a_failed_write_is_reported_by_wait() {
        let tmp = tempfile::tempdir().unwrap();
        // A directory that does not exist: the temporary file cannot be made.
        let dir = CheckpointDir::new(&tmp.path().join("missing"));
        let mut writer = BackgroundWriter::new();
        let position = Position {
            epoch: 1,
            stratum: 0,
        };
        let (_, started) = writer.start(&dir, &sample(1).view(), position, 1, None);
        started.unwrap();
        let written = writer.wait().unwrap();
        let message = format!("{:#}", written.result.unwrap_err());
        assert!(message.contains("missing"), "{message}");
    }
}
