//! Reads and writes of files in system calls of bounded size.
//!
//! On a kernel without preemption of kernel code (`PREEMPT_NONE`, usual on
//! servers) the kernel work of one `read` or `write` — copying between the
//! page cache and the caller's memory — runs to its end, or to the next
//! point where the kernel checks whether to switch, before a thread
//! waiting for the CPU gets it, whatever the calling thread's scheduling
//! class. A background thread that moves a whole checkpoint (tens to
//! hundreds of MB) in one call can then hold a query thread of the same
//! CPU for the whole copy. [`Bounded`] hands the file at most
//! [`CALL_BYTES`] a call instead; the bytes read or written are the same.
//! Each call is followed by a pause point ([`crate::courtesy`]), where a
//! background thread hands the CPU back every so often.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

/// The most one system call of a [`Bounded`] reader or writer moves.
pub const CALL_BYTES: usize = 256 << 10;

/// A reader or writer whose every call to the one inside moves at most
/// [`CALL_BYTES`]; what it reads or writes is unchanged (a `write_all` or
/// `read_to_end` over it makes more, smaller calls).
#[derive(Debug)]
pub struct Bounded<T>(pub T);

impl<W: Write> Write for Bounded<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(CALL_BYTES);
        let written = self.0.write(&buf[..n]);
        crate::courtesy::pause_point();
        written
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(CALL_BYTES);
        let read = self.0.read(&mut buf[..n]);
        crate::courtesy::pause_point();
        read
    }
}

/// The whole of the file at `path`, as [`std::fs::read`] gives it, read in
/// calls of at most [`CALL_BYTES`].
pub fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let expected = file.metadata().map_or(0, |m| m.len() as usize);
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(expected)?;
    Bounded(file).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufWriter, Cursor};

    /// Bytes that show a misplaced or repeated piece.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len)
            .map(|k| (k % 251) as u8 ^ (k >> 16) as u8)
            .collect()
    }

    /// A writer (or reader) that records the size of every call made to it.
    #[derive(Default)]
    struct Recording<T> {
        inner: T,
        calls: Vec<usize>,
    }

    impl Write for Recording<Vec<u8>> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls.push(buf.len());
            self.inner.write(buf)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Read for Recording<Cursor<Vec<u8>>> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls.push(buf.len());
            self.inner.read(buf)
        }
    }

    /// A large `write_all`, straight or through the 1 MiB buffered writer
    /// the atomic writes use, lands byte for byte and never hands more than
    /// the bound to one call; without the bound it is one call.
    #[test]
    fn writes_are_the_same_bytes_in_calls_of_at_most_the_bound() {
        let bytes = pattern(5 * CALL_BYTES + 12_345);
        let mut straight = Bounded(Recording::<Vec<u8>>::default());
        straight.write_all(&bytes).unwrap();
        let mut buffered = BufWriter::with_capacity(1 << 20, Bounded(Recording::default()));
        buffered.write_all(&bytes[..1000]).unwrap();
        buffered.write_all(&bytes[1000..]).unwrap();
        let buffered = buffered.into_inner().map_err(|e| e.into_error()).unwrap();
        for (how, out) in [("straight", straight.0), ("buffered", buffered.0)] {
            assert_eq!(out.inner, bytes, "{how}");
            assert_eq!(out.calls.iter().sum::<usize>(), bytes.len(), "{how}");
            assert!(
                out.calls.iter().all(|&n| n <= CALL_BYTES),
                "{how}: {:?}",
                out.calls
            );
            assert!(out.calls.len() >= 6, "{how}: {:?}", out.calls);
        }
        let mut unbounded = Recording::<Vec<u8>>::default();
        unbounded.write_all(&bytes).unwrap();
        assert_eq!(unbounded.calls, [bytes.len()]);
    }

    /// Reading to the end asks for at most the bound a call and gives
    /// every byte, in order.
    #[test]
    fn reads_are_the_same_bytes_in_calls_of_at_most_the_bound() {
        let bytes = pattern(3 * CALL_BYTES + 777);
        let mut reader = Bounded(Recording {
            inner: Cursor::new(bytes.clone()),
            calls: Vec::new(),
        });
        let mut back = Vec::with_capacity(bytes.len());
        reader.read_to_end(&mut back).unwrap();
        assert_eq!(back, bytes);
        assert!(reader.0.calls.iter().all(|&n| n <= CALL_BYTES));
        assert!(reader.0.calls.contains(&CALL_BYTES), "{:?}", reader.0.calls);
    }

    /// A file reads back as `std::fs::read` gives it; an empty one and a
    /// missing one too.
    #[test]
    fn read_file_is_fs_read() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, CALL_BYTES, 2 * CALL_BYTES + 3] {
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, pattern(len)).unwrap();
            assert_eq!(read_file(&path).unwrap(), std::fs::read(&path).unwrap());
        }
        let missing = dir.path().join("missing");
        assert_eq!(
            read_file(&missing).unwrap_err().kind(),
            std::fs::read(&missing).unwrap_err().kind()
        );
    }
}
