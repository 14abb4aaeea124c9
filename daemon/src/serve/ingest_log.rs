//! The ingest log: every batch of ratings the service accepted, in the
//! order it accepted them, durable before it is acknowledged.
//!
//! The log is a run of numbered segment files in the served directory
//! (`ingest-00000001.log`, …; see [`super::segments`]): intake appends to
//! the newest, and a training round closes it and starts the next one
//! ([`LogWriter::rotate`]) so that the round applies a closed set of
//! segments while intake goes on. Each segment is a 16-byte header
//! (`FUNKLOG\0`, format version u32, reserved u32) followed by records,
//! one per accepted request:
//!
//! ```text
//! u32  payload length            (little-endian)
//! u64  xxh3-64 of the payload
//! ...  payload: u32 count, then per rating
//!      u16 user length, user bytes, u16 item length, item bytes, f32 value
//! ```
//!
//! **Group commit**: one writer thread owns the file. Requests hand it
//! their batch over a channel; it takes every batch waiting, writes them
//! in one go, calls `fdatasync` once, and only then answers each of them,
//! so many concurrent requests share one flush. It does not wait for more
//! to arrive: the requests that come while a flush is in progress are
//! read and checked meanwhile and make the next round, so the flush of
//! one round overlaps the request work of the next. A failed write (a
//! full disk, an I/O error) is cut back off the file and answered with an
//! error to every request of that round: nothing is acknowledged that is
//! not on disk, and the file keeps only whole records. If even the cut
//! fails, intake stays refused until restart.
//!
//! **Replay** on start reads every record. A tail that ends the file
//! short of a whole record, or whose last record fails its checksum, or
//! that is all zeros, is what a crash in the middle of a write leaves: it
//! was never acknowledged, so it is cut off (with a log line). A record
//! that fails its checksum with more data after it is damage to
//! acknowledged ratings: the service refuses to start rather than drop
//! them silently.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use xxhash_rust::xxh3::xxh3_64;

const MAGIC: &[u8; 8] = b"FUNKLOG\0";
const VERSION: u32 = 1;
/// Bytes of the header every segment starts with.
pub const HEADER_LEN: u64 = 16;
const FRAME_LEN: usize = 12;
/// The largest payload a record may have (a larger length is damage).
pub const MAX_PAYLOAD: usize = 1 << 30;
/// The longest id, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// One rating as it was sent: original ids and the value.
#[derive(Clone, Debug, PartialEq)]
pub struct NewRating {
    /// The user's original id.
    pub user: String,
    /// The item's original id.
    pub item: String,
    /// The rating.
    pub value: f32,
}

/// The payload of one record.
pub fn encode(batch: &[NewRating]) -> Vec<u8> {
    let len = 4 + batch
        .iter()
        .map(|r| 8 + r.user.len() + r.item.len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&(batch.len() as u32).to_le_bytes());
    for r in batch {
        for id in [&r.user, &r.item] {
            // Ids were checked to be at most MAX_ID_BYTES long.
            out.extend_from_slice(&(id.len() as u16).to_le_bytes());
            out.extend_from_slice(id.as_bytes());
        }
        out.extend_from_slice(&r.value.to_le_bytes());
    }
    out
}

/// The batches of one record's payload (one or more encoded batches
/// back to back), or why it is not one.
pub fn decode(payload: &[u8]) -> Result<Vec<Vec<NewRating>>, String> {
    let mut rest = payload;
    let mut batches = Vec::new();
    while !rest.is_empty() {
        let count = u32::from_le_bytes(take::<4>(&mut rest)?) as usize;
        let mut out = Vec::with_capacity(count.min(rest.len() / 8));
        for _ in 0..count {
            let user = take_id(&mut rest)?;
            let item = take_id(&mut rest)?;
            let value = f32::from_le_bytes(take::<4>(&mut rest)?);
            out.push(NewRating { user, item, value });
        }
        batches.push(out);
    }
    if batches.is_empty() {
        return Err("an empty payload".into());
    }
    Ok(batches)
}

fn take_bytes<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if rest.len() < n {
        return Err("a payload shorter than its contents".to_string());
    }
    let (bytes, after) = rest.split_at(n);
    *rest = after;
    Ok(bytes)
}

fn take<const N: usize>(rest: &mut &[u8]) -> Result<[u8; N], String> {
    let mut out = [0u8; N];
    out.copy_from_slice(take_bytes(rest, N)?);
    Ok(out)
}

fn take_id(rest: &mut &[u8]) -> Result<String, String> {
    let len = u16::from_le_bytes(take::<2>(rest)?) as usize;
    std::str::from_utf8(take_bytes(rest, len)?)
        .map(str::to_owned)
        .map_err(|_| "an id that is not UTF-8".to_string())
}

/// Frames the concatenation of `parts` as one record, copying each part
/// once.
fn frame_all<'a>(parts: impl Iterator<Item = &'a [u8]> + Clone, out: &mut Vec<u8>) {
    let len: usize = parts.clone().map(<[u8]>::len).sum();
    let start = out.len();
    out.reserve(FRAME_LEN + len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    for part in parts {
        out.extend_from_slice(part);
    }
    let hash = xxh3_64(&out[start + FRAME_LEN..]);
    out[start + 4..start + FRAME_LEN].copy_from_slice(&hash.to_le_bytes());
}

/// Frames one payload (the layout [`frame_all`] writes, spelled out).
#[cfg(test)]
fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&xxh3_64(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What replaying the log found.
#[derive(Debug)]
pub struct Replayed {
    /// The accepted batches, in log order.
    pub batches: Vec<Vec<NewRating>>,
    /// Whole records read.
    pub records: u64,
    /// The length of the log's whole records (with the header).
    pub len: u64,
    /// Bytes of a torn tail that were cut off, and why it was torn.
    pub cut: Option<(u64, String)>,
}

/// Opens (creating if missing) the log segment at `path`, replays it, and
/// cuts a torn tail off. Damage before the tail is an error. (The caller
/// holds the directory's intake lock, see [`super::segments`].)
pub fn open(path: &Path) -> anyhow::Result<(File, Replayed)> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open the ingest log {}", path.display()))?;
    let size = file
        .metadata()
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let mut bytes = vec![0u8; size as usize];
    file.read_exact_at(&mut bytes, 0)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut replayed = scan(&bytes).with_context(|| {
        format!(
            "the ingest log {} is damaged before its end, in acknowledged ratings; \
             refusing to start rather than lose them. Restore it from a backup, or move it \
             aside to start without those ratings",
            path.display()
        )
    })?;
    if (size as usize) < HEADER_LEN as usize {
        // New (or torn while being created): write the header.
        let header = header();
        if size > 0 {
            file.set_len(0)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        file.write_all_at(&header, 0)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
        if let Some(dir) = path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .with_context(|| format!("cannot sync {}", dir.display()))?;
        }
        replayed.len = HEADER_LEN;
        replayed.cut = None;
    } else if replayed.len < size {
        file.set_len(replayed.len)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot cut the torn tail off {}", path.display()))?;
    }
    Ok((file, replayed))
}

/// Reads a whole log image: the batches, the length of the whole
/// records, and a torn tail; an error for damage before the tail.
pub fn scan(bytes: &[u8]) -> anyhow::Result<Replayed> {
    let size = bytes.len() as u64;
    let mut replayed = Replayed {
        batches: Vec::new(),
        records: 0,
        len: HEADER_LEN.min(size),
        cut: None,
    };
    if size < HEADER_LEN {
        if size > 0 {
            replayed.cut = Some((size, "a header torn while the log was created".into()));
        }
        return Ok(replayed);
    }
    if &bytes[..8] != MAGIC {
        bail!("it does not start with the ingest log's magic bytes (is it an ingest log?)");
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != VERSION {
        bail!("format version {version}, this build reads version {VERSION}");
    }
    let mut at = HEADER_LEN as usize;
    let torn = |at: usize, why: &str| Some(((size - at as u64), why.to_string()));
    while at < bytes.len() {
        let record = replayed.batches.len();
        let rest = &bytes[at..];
        if rest.iter().all(|&b| b == 0) {
            replayed.cut = torn(at, "zeros after the last record");
            break;
        }
        if rest.len() < FRAME_LEN {
            replayed.cut = torn(at, "a record header cut short");
            break;
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let sum = u64::from_le_bytes(rest[4..12].try_into().unwrap_or([0; 8]));
        if FRAME_LEN + len > rest.len() {
            replayed.cut = torn(at, "a record cut short");
            break;
        }
        let payload = &rest[FRAME_LEN..FRAME_LEN + len];
        let last = FRAME_LEN + len == rest.len();
        let damage = if len > MAX_PAYLOAD {
            Some(format!("a record length of {len} bytes"))
        } else if xxh3_64(payload) != sum {
            Some("a checksum mismatch".to_string())
        } else {
            decode(payload).err()
        };
        match damage {
            Some(why) if last => {
                replayed.cut = torn(at, &format!("the last record has {why}"));
                break;
            }
            Some(why) => bail!(
                "record {record} at byte {at} has {why}, and {} bytes follow it",
                rest.len() - FRAME_LEN - len
            ),
            None => {}
        }
        replayed
            .batches
            .extend(decode(payload).map_err(anyhow::Error::msg)?);
        at += FRAME_LEN + len;
        replayed.len = at as u64;
        replayed.records += 1;
    }
    Ok(replayed)
}

/// A batch handed to the writer, and where to send the outcome.
struct Append {
    payload: Vec<u8>,
    batch: Vec<NewRating>,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// What the writer thread is asked to do.
enum Order {
    /// Append a batch (group commit).
    Append(Append),
    /// Close the segment being written and go on in a new one; answers the
    /// number of the segment closed.
    Rotate(crossbeam_channel::Sender<Result<u64, String>>),
}

/// Whole records of one segment not yet applied to a published model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentStats {
    /// Bytes of whole records (with the header).
    pub bytes: u64,
    /// Records (rounds of group commit).
    pub records: u64,
    /// Batches (accepted requests).
    pub batches: u64,
    /// Ratings.
    pub ratings: u64,
}

impl SegmentStats {
    /// What replaying a segment found.
    pub fn of(replayed: &Replayed) -> SegmentStats {
        SegmentStats {
            bytes: replayed.len,
            records: replayed.records,
            batches: replayed.batches.len() as u64,
            ratings: replayed.batches.iter().map(|b| b.len() as u64).sum(),
        }
    }
}

/// Counters of the writer, for status and metrics.
#[derive(Debug, Default)]
pub struct LogStats {
    /// The segments not yet applied to a published model, by number.
    pub segments: std::sync::Mutex<std::collections::BTreeMap<u64, SegmentStats>>,
    /// The segment being written.
    pub active: std::sync::atomic::AtomicU64,
    /// Flushes (`fdatasync`) done since start.
    pub syncs: std::sync::atomic::AtomicU64,
    /// Rounds that failed to write (nothing of them acknowledged).
    pub failures: std::sync::atomic::AtomicU64,
}

impl LogStats {
    /// The sum over the segments not yet applied.
    pub fn pending(&self) -> (SegmentStats, usize) {
        let segments = self
            .segments
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut sum = SegmentStats::default();
        for s in segments.values() {
            sum.bytes += s.bytes;
            sum.records += s.records;
            sum.batches += s.batches;
            sum.ratings += s.ratings;
        }
        (sum, segments.len())
    }

    /// Forgets the segments up to `last`: a published model holds them.
    pub fn applied_through(&self, last: u64) {
        self.segments
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|&n, _| n > last);
    }

    fn update(&self, segment: u64, change: impl FnOnce(&mut SegmentStats)) {
        let mut segments = self
            .segments
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        change(segments.entry(segment).or_default());
    }
}

/// The sending side of the writer thread (see the module documentation).
#[derive(Debug, Clone)]
pub struct LogWriter {
    tx: crossbeam_channel::Sender<Order>,
    /// The directory of the log's segments.
    pub dir: PathBuf,
    /// Counters.
    pub stats: Arc<LogStats>,
}

/// The most bytes written in one round of group commit.
const ROUND_BYTES: usize = 64 << 20;

/// The segment the writer appends to.
struct Active {
    number: u64,
    file: File,
    len: u64,
}

impl LogWriter {
    /// Starts the writer thread on segment `number` of the log in `dir`,
    /// open as `file` (whose whole records end at `replayed.len`).
    /// `pending` are the stats of every segment not yet applied to a
    /// published model, this one included. `apply` runs on the writer
    /// thread for every batch once it is durable, in log order, with the
    /// number of its segment, before the batch is acknowledged. `gather`
    /// (a testing aid, normally zero) is waited after the first batch of a
    /// round arrives, so that more join it. A failed write is told to
    /// `log`.
    pub fn start(
        dir: PathBuf,
        (number, file): (u64, File),
        replayed: &Replayed,
        pending: std::collections::BTreeMap<u64, SegmentStats>,
        gather: std::time::Duration,
        log: super::Log,
        apply: impl Fn(Vec<NewRating>, u64) + Send + 'static,
    ) -> anyhow::Result<LogWriter> {
        use std::sync::atomic::Ordering::Relaxed;
        let stats = Arc::new(LogStats::default());
        *stats
            .segments
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = pending;
        stats.update(number, |s| *s = SegmentStats::of(replayed));
        stats.active.store(number, Relaxed);
        let (tx, rx) = crossbeam_channel::unbounded::<Order>();
        let shared = Arc::clone(&stats);
        let mut active = Active {
            number,
            file,
            len: replayed.len,
        };
        let segments_dir = dir.clone();
        std::thread::Builder::new()
            .name("funkd-ingest".into())
            .spawn(move || {
                let mut broken: Option<String> = None;
                let mut buf = Vec::new();
                while let Ok(first) = rx.recv() {
                    let first = match first {
                        Order::Append(a) => a,
                        Order::Rotate(answer) => {
                            let _ = answer.send(rotate(&segments_dir, &mut active, &shared));
                            continue;
                        }
                    };
                    if !gather.is_zero() {
                        std::thread::sleep(gather);
                    }
                    let mut round = vec![first];
                    let mut bytes = round[0].payload.len();
                    // A rotation waiting behind the batches is done after them.
                    let mut rotation = None;
                    while bytes < ROUND_BYTES && rotation.is_none() {
                        match rx.try_recv() {
                            Ok(Order::Append(next)) => {
                                bytes += next.payload.len();
                                round.push(next);
                            }
                            Ok(Order::Rotate(answer)) => rotation = Some(answer),
                            Err(_) => break,
                        }
                    }
                    if let Some(why) = &broken {
                        for a in round {
                            let _ = a.done.send(Err(why.clone()));
                        }
                    } else {
                        broken = commit(round, &mut active, &mut buf, &shared, &apply, &log);
                    }
                    if let Some(answer) = rotation {
                        let _ = answer.send(rotate(&segments_dir, &mut active, &shared));
                    }
                }
            })
            .context("cannot start the ingest log's writer thread")?;
        Ok(LogWriter { tx, dir, stats })
    }

    /// Appends `batch` and waits until it is durable (and applied).
    pub async fn append(&self, batch: Vec<NewRating>) -> Result<(), String> {
        let (done, wait) = tokio::sync::oneshot::channel();
        let payload = encode(&batch);
        let sent = self.tx.send(Order::Append(Append {
            payload,
            batch,
            done,
        }));
        sent.map_err(|_| "the ingest log's writer has stopped".to_string())?;
        wait.await
            .map_err(|_| "the ingest log's writer has stopped".to_string())?
    }

    /// Closes the segment being written and starts the next one (durably:
    /// its header is on disk and in the directory before this returns).
    /// Every batch acknowledged before the call is in the closed segment or
    /// an older one; every batch after it goes to the new one. Returns the
    /// number of the segment closed. Blocks: call it off the request path.
    pub fn rotate(&self) -> Result<u64, String> {
        let (answer, wait) = crossbeam_channel::bounded(1);
        self.tx
            .send(Order::Rotate(answer))
            .map_err(|_| "the ingest log's writer has stopped".to_string())?;
        wait.recv()
            .map_err(|_| "the ingest log's writer has stopped".to_string())?
    }
}

/// Writes one round of group commit as one record and answers its
/// requests; returns why intake must stop, if it must.
fn commit(
    round: Vec<Append>,
    active: &mut Active,
    buf: &mut Vec<u8>,
    shared: &LogStats,
    apply: &impl Fn(Vec<NewRating>, u64),
    log: &super::Log,
) -> Option<String> {
    use std::sync::atomic::Ordering::Relaxed;
    // The round is one record, so that a crash part-way through its write
    // leaves one torn last record.
    buf.clear();
    frame_all(round.iter().map(|a| a.payload.as_slice()), buf);
    let written = active
        .file
        .write_all_at(buf, active.len)
        .and_then(|()| active.file.sync_data());
    shared.syncs.fetch_add(1, Relaxed);
    match written {
        Ok(()) => {
            active.len += buf.len() as u64;
            let ratings: u64 = round.iter().map(|a| a.batch.len() as u64).sum();
            let (len, batches) = (active.len, round.len() as u64);
            shared.update(active.number, |s| {
                s.bytes = len;
                s.records += 1;
                s.batches += batches;
                s.ratings += ratings;
            });
            for a in round {
                apply(a.batch, active.number);
                let _ = a.done.send(Ok(()));
            }
            None
        }
        Err(e) => {
            shared.failures.fetch_add(1, Relaxed);
            let why = format!("cannot write the ingest log: {e}");
            log.error(&format!("{why}; the ratings of this round are refused"));
            let mut fatal = None;
            if let Err(cut) = active
                .file
                .set_len(active.len)
                .and_then(|()| active.file.sync_data())
            {
                let message = format!(
                    "{why}, and cannot cut the failed write off it ({cut}): \
                     intake is off until the service restarts"
                );
                log.error(&message);
                fatal = Some(message);
            }
            for a in round {
                let _ = a.done.send(Err(why.clone()));
            }
            fatal
        }
    }
}

/// Starts segment `active.number + 1` and makes it the one written.
fn rotate(dir: &Path, active: &mut Active, shared: &LogStats) -> Result<u64, String> {
    use std::sync::atomic::Ordering::Relaxed;
    let next = active.number + 1;
    let file = super::segments::create(dir, next).map_err(|e| format!("{e:#}"))?;
    let closed = std::mem::replace(
        active,
        Active {
            number: next,
            file,
            len: HEADER_LEN,
        },
    );
    shared.update(next, |s| s.bytes = HEADER_LEN);
    shared.active.store(next, Relaxed);
    Ok(closed.number)
}

/// The 16 bytes every segment starts with.
pub fn header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize) -> Vec<NewRating> {
        (0..n)
            .map(|i| NewRating {
                user: format!("u{i}"),
                item: format!("item-{}", i * 7),
                value: i as f32 * 0.5,
            })
            .collect()
    }

    fn image(batches: &[Vec<NewRating>]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        for b in batches {
            frame(&encode(b), &mut out);
        }
        out
    }

    #[test]
    fn a_round_framed_in_parts_is_one_record_of_their_concatenation() {
        let parts = [encode(&batch(3)), encode(&batch(1)), encode(&batch(5))];
        let mut whole = b"prefix".to_vec();
        frame_all(parts.iter().map(Vec::as_slice), &mut whole);
        let mut expected = b"prefix".to_vec();
        frame(&parts.concat(), &mut expected);
        assert_eq!(whole, expected);
        assert_eq!(decode(&parts.concat()).unwrap().len(), 3);
    }

    #[test]
    fn an_encoded_batch_takes_exactly_the_room_reserved_for_it() {
        let b = batch(17);
        let out = encode(&b);
        assert_eq!(out.len(), out.capacity());
        assert_eq!(decode(&out), Ok(vec![b]));
    }

    #[test]
    fn records_round_trip() {
        let batches = vec![batch(3), batch(1), batch(40)];
        let r = scan(&image(&batches)).unwrap();
        assert_eq!(r.batches, batches);
        assert!(r.cut.is_none());
    }

    #[test]
    fn every_torn_tail_is_cut_back_to_the_last_whole_record() {
        let whole = image(&[batch(3), batch(2)]);
        let first_end = image(&[batch(3)]).len();
        for cut in first_end + 1..whole.len() {
            let r = scan(&whole[..cut]).unwrap();
            assert_eq!(r.batches, vec![batch(3)], "cut at {cut}");
            assert_eq!(r.len, first_end as u64);
            assert!(r.cut.is_some());
        }
        // A flipped byte in the last record: torn, cut.
        let mut bad = whole.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(scan(&bad).unwrap().batches, vec![batch(3)]);
        // Zeros after the last record (a file extended, never written).
        let mut zeros = whole.clone();
        zeros.extend_from_slice(&[0u8; 100]);
        assert_eq!(scan(&zeros).unwrap().batches.len(), 2);
    }

    #[test]
    fn a_failed_write_acknowledges_nothing_and_applies_nothing() {
        // /dev/full fails every write with ENOSPC, as a full disk does,
        // and cannot be cut back either: intake then stays off.
        let file = OpenOptions::new().write(true).open("/dev/full").unwrap();
        let replayed = Replayed {
            batches: Vec::new(),
            records: 0,
            len: HEADER_LEN,
            cut: None,
        };
        let applied = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = Arc::clone(&applied);
        let told = Arc::new(crate::report::Collecting::default());
        let writer = LogWriter::start(
            "/dev".into(),
            (1, file),
            &replayed,
            Default::default(),
            std::time::Duration::ZERO,
            crate::serve::Log::new(Arc::clone(&told) as _),
            move |b, _| {
                seen.fetch_add(b.len(), std::sync::atomic::Ordering::SeqCst);
            },
        )
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let first = runtime.block_on(writer.append(batch(2))).unwrap_err();
        assert!(first.contains("cannot write the ingest log"), "{first}");
        let second = runtime.block_on(writer.append(batch(1))).unwrap_err();
        assert!(second.contains("intake is off"), "{second}");
        assert_eq!(applied.load(std::sync::atomic::Ordering::SeqCst), 0);
        // The service's log was told both, as errors.
        use crate::report::Event::Notice;
        match told.events().as_slice() {
            [Notice(failed), Notice(off)] => {
                assert!(
                    failed.starts_with("error: cannot write the ingest log: ")
                        && failed.ends_with("; the ratings of this round are refused"),
                    "{failed}"
                );
                assert!(
                    off.starts_with("error: cannot write the ingest log: ")
                        && off.ends_with("intake is off until the service restarts"),
                    "{off}"
                );
            }
            other => panic!("the log was told {other:?}"),
        }
        let (pending, segments) = writer.stats.pending();
        assert_eq!(
            (pending.ratings, pending.bytes, segments),
            (0, HEADER_LEN, 1)
        );
    }

    #[test]
    fn a_round_is_written_durably_and_applied_in_order_and_rotation_splits_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = super::super::segments::path(dir.path(), 1);
        let (file, replayed) = open(&path).unwrap();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&order);
        let writer = LogWriter::start(
            dir.path().to_path_buf(),
            (1, file),
            &replayed,
            Default::default(),
            std::time::Duration::ZERO,
            crate::serve::Log::silent(),
            move |b, segment| seen.lock().unwrap().push((b.len(), segment)),
        )
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for n in 1..=3 {
            runtime.block_on(writer.append(batch(n))).unwrap();
        }
        assert_eq!(writer.rotate(), Ok(1));
        runtime.block_on(writer.append(batch(4))).unwrap();
        assert_eq!(*order.lock().unwrap(), [(1, 1), (2, 1), (3, 1), (4, 2)]);
        let (pending, segments) = writer.stats.pending();
        assert_eq!((pending.ratings, pending.batches, segments), (10, 4, 2));
        writer.stats.applied_through(1);
        assert_eq!(writer.stats.pending().0.ratings, 4);
        drop(writer);
        let again = scan(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(again.batches, vec![batch(1), batch(2), batch(3)]);
        assert!(again.cut.is_none());
        let second = super::super::segments::path(dir.path(), 2);
        let next = scan(&std::fs::read(second).unwrap()).unwrap();
        assert_eq!(next.batches, vec![batch(4)]);
    }

    /// The record (counted from 1) of each batch in the whole records of
    /// a log image, by the batch's first user id (a record still being
    /// written at the end is left out).
    fn record_of_each_batch(bytes: &[u8]) -> std::collections::HashMap<String, u64> {
        let mut at = HEADER_LEN as usize;
        let mut record = 0;
        let mut found = std::collections::HashMap::new();
        while at + FRAME_LEN <= bytes.len() {
            let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            let Some(payload) = bytes.get(at + FRAME_LEN..at + FRAME_LEN + len) else {
                break;
            };
            if xxh3_64(payload).to_le_bytes() != bytes[at + 4..at + FRAME_LEN] {
                break;
            }
            record += 1;
            for b in decode(payload).unwrap() {
                assert!(found.insert(b[0].user.clone(), record).is_none());
            }
            at += FRAME_LEN + len;
        }
        found
    }

    #[test]
    fn concurrent_appenders_are_each_acknowledged_only_after_the_flush_of_their_record() {
        use std::sync::atomic::Ordering::SeqCst;
        let dir = tempfile::tempdir().unwrap();
        let path = super::super::segments::path(dir.path(), 1);
        let (file, replayed) = open(&path).unwrap();
        let applied = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&applied);
        let writer = LogWriter::start(
            dir.path().to_path_buf(),
            (1, file),
            &replayed,
            Default::default(),
            std::time::Duration::ZERO,
            crate::serve::Log::silent(),
            move |b, _| seen.lock().unwrap().push(b[0].user.clone()),
        )
        .unwrap();
        let (threads, each) = (16, 25);
        let appenders: Vec<_> = (0..threads)
            .map(|t| {
                let (writer, path) = (writer.clone(), path.clone());
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    for n in 0..each {
                        let id = format!("c{t}-{n}");
                        let one = vec![NewRating {
                            user: id.clone(),
                            item: "i".into(),
                            value: 1.0,
                        }];
                        runtime.block_on(writer.append(one)).unwrap();
                        // Acknowledged: its record is whole in the file and
                        // the flush that wrote it has returned (the k-th
                        // record is on disk once k flushes are done).
                        let syncs = writer.stats.syncs.load(SeqCst);
                        let records = record_of_each_batch(&std::fs::read(&path).unwrap());
                        let record = records[&id];
                        assert!(
                            record <= syncs,
                            "{id} acknowledged in record {record} after {syncs} flushes"
                        );
                    }
                })
            })
            .collect();
        for a in appenders {
            a.join().unwrap();
        }
        let records = record_of_each_batch(&std::fs::read(&path).unwrap());
        assert_eq!(records.len(), threads * each, "every batch once");
        let flushes = writer.stats.syncs.load(SeqCst);
        let (pending, _) = writer.stats.pending();
        assert_eq!(pending.records, flushes, "one record a flush");
        assert_eq!(pending.batches, (threads * each) as u64);
        assert_eq!(applied.lock().unwrap().len(), threads * each);
    }

    #[test]
    fn damage_before_the_last_record_is_an_error() {
        let mut bad = image(&[batch(3), batch(2)]);
        bad[HEADER_LEN as usize + FRAME_LEN + 2] ^= 0x40;
        let e = scan(&bad).unwrap_err().to_string();
        assert!(e.contains("record 0 at byte 16"), "{e}");
        assert!(scan(b"NOTALOG\0\x01\0\0\0\0\0\0\0").is_err());
    }
}
