//! The intake spool: where accepted events wait on local disk while the
//! database cannot take them (unreachable, failing over, read-only, out of
//! connections or space). Intake appends each batch and syncs it before
//! the 202s, like a commit; the mover (`mover.rs`) takes the oldest
//! records into the database as soon as it answers, and removes them.
//! While anything is spooled every batch is spooled, so events reach the
//! database in the order they arrived and each task keeps its order.
//!
//! On disk: numbered segment files of records (`record.rs`) in this
//! instance's directory (`slot.rs`). Segments a crash left are read at
//! start-up and moved first.

mod mover;
pub mod record;
mod slot;

pub use mover::start_mover;

use crate::db::deliveries::NewDelivery;
use anyhow::Context as _;
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

/// A segment takes appends until it is this large; the next starts anew
/// (moved segments are removed whole).
const SEGMENT_BYTES: u64 = 64 << 20;

const SEGMENT_SUFFIX: &str = ".spool";

/// Where the spool is and how large it may grow.
#[derive(Debug, Clone)]
pub struct SpoolSettings {
    pub dir: PathBuf,
    /// Past this, intake answers 503; 0 turns the spool off.
    pub max_bytes: u64,
}

/// What `/readyz`, `/metrics` and the dashboard show.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct SpoolStatus {
    pub events: u64,
    pub bytes: u64,
    pub max_bytes: u64,
}

/// Why a batch was not spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("the spool is full ({bytes} of {max} bytes, HOOKGATE_SPOOL_MAX_BYTES)")]
    Full { bytes: u64, max: u64 },
    #[error("cannot write to the spool: {0}")]
    Io(#[from] std::io::Error),
}

/// Shared by the intake writer (appends) and the mover (takes the oldest).
#[derive(Clone)]
pub struct Spool {
    shared: Arc<Shared>,
}

/// A handle that does not keep the spool (and its lock) open: the mover
/// stops once intake and the routes have let go of it.
pub struct WeakSpool(Weak<Shared>);

impl WeakSpool {
    pub fn upgrade(&self) -> Option<Spool> {
        self.0.upgrade().map(|shared| Spool { shared })
    }
}

struct Shared {
    segments: Mutex<Segments>,
    /// Signalled when a batch is spooled: the mover wakes.
    appended: Condvar,
    max_bytes: u64,
}

struct Segments {
    dir: PathBuf,
    /// Held for the process's life: no other instance takes this spool.
    _lock: File,
    /// Oldest first; the last one takes appends when `head` is open.
    list: VecDeque<Segment>,
    /// The newest segment, open for appending (never one a crash left).
    head: Option<File>,
    next_number: u64,
}

struct Segment {
    number: u64,
    path: PathBuf,
    /// Bytes of whole, synced records.
    len: u64,
    /// How far the mover has taken (oldest segment only).
    moved_to: u64,
    /// Events not yet moved.
    events: u64,
}

/// The oldest records not yet moved: a segment and a byte range of it.
#[derive(Debug, Clone)]
pub struct Oldest {
    pub number: u64,
    pub path: PathBuf,
    pub from: u64,
    pub end: u64,
}

impl Spool {
    /// Takes this instance's directory under `settings.dir` and finds
    /// what a crash left there. `database` names the database (no
    /// password) the events are for.
    pub fn open(settings: &SpoolSettings, database: &str) -> anyhow::Result<Self> {
        let (dir, lock) = slot::take(&settings.dir, database)?;
        let list = leftovers(&dir)?;
        let next_number = list.back().map_or(0, |s| s.number + 1);
        let spool = Self {
            shared: Arc::new(Shared {
                segments: Mutex::new(Segments {
                    dir,
                    _lock: lock,
                    list,
                    head: None,
                    next_number,
                }),
                appended: Condvar::new(),
                max_bytes: settings.max_bytes,
            }),
        };
        let status = spool.status();
        if status.events > 0 {
            tracing::warn!(
                events = status.events,
                bytes = status.bytes,
                "spooled events from before the restart will be moved into the database"
            );
        }
        spool.publish(&spool.lock());
        Ok(spool)
    }

    pub fn downgrade(&self) -> WeakSpool {
        WeakSpool(Arc::downgrade(&self.shared))
    }

    /// True while anything waits to be moved: new batches queue behind it.
    pub fn is_spooling(&self) -> bool {
        !self.lock().list.is_empty()
    }

    pub fn status(&self) -> SpoolStatus {
        self.lock().status(self.shared.max_bytes)
    }

    /// Appends the batch and syncs it to disk; each of its calls may then
    /// be answered 202.
    pub fn append(&self, batch: &[&NewDelivery]) -> Result<(), SpoolError> {
        let mut bytes = Vec::new();
        for delivery in batch {
            record::encode(delivery, &mut bytes);
        }
        let mut segments = self.lock();
        let held = segments.status(self.shared.max_bytes).bytes;
        if held + bytes.len() as u64 > self.shared.max_bytes {
            return Err(SpoolError::Full {
                bytes: held,
                max: self.shared.max_bytes,
            });
        }
        segments.append(&bytes, batch.len() as u64)?;
        self.publish(&segments);
        self.shared.appended.notify_all();
        Ok(())
    }

    /// The oldest records not yet moved, waiting up to `wait` for some.
    pub fn oldest(&self, wait: Duration) -> Option<Oldest> {
        let mut segments = self.lock();
        if segments.list.is_empty() {
            segments = match self.shared.appended.wait_timeout(segments, wait) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        let first = segments.list.front()?;
        Some(Oldest {
            number: first.number,
            path: first.path.clone(),
            from: first.moved_to,
            end: first.len,
        })
    }

    /// The mover took segment `number` up to `to`: `events` records.
    /// A segment taken whole is removed (the last one too: then nothing
    /// is spooled and intake writes to the database again).
    pub fn moved(&self, number: u64, to: u64, events: u64) {
        let mut segments = self.lock();
        segments.moved(number, to, events);
        self.publish(&segments);
    }

    fn lock(&self) -> MutexGuard<'_, Segments> {
        // A panic while holding it left the list as it was before the
        // failed call: every change is made after its write succeeded.
        self.shared
            .segments
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish(&self, segments: &Segments) {
        let status = segments.status(self.shared.max_bytes);
        crate::metrics::spool(status.events, status.bytes);
    }
}

impl Segments {
    fn status(&self, max_bytes: u64) -> SpoolStatus {
        SpoolStatus {
            events: self.list.iter().map(|s| s.events).sum(),
            bytes: self.list.iter().map(|s| s.len - s.moved_to).sum(),
            max_bytes,
        }
    }

    fn append(&mut self, bytes: &[u8], events: u64) -> std::io::Result<()> {
        let full = self.list.back().is_none_or(|s| s.len >= SEGMENT_BYTES);
        if self.head.is_none() || full {
            self.start_segment()?;
        }
        let head = self.head.as_mut().expect("a segment was just started");
        let segment = self.list.back_mut().expect("the head is listed");
        let written = head.write_all(bytes).and_then(|()| head.sync_data());
        if let Err(e) = written {
            // Cut back to whole records; if even that fails, the segment
            // takes no more appends (reads stop at `len` anyway).
            if head
                .set_len(segment.len)
                .and_then(|()| head.sync_data())
                .is_err()
            {
                self.head = None;
            }
            return Err(e);
        }
        segment.len += bytes.len() as u64;
        segment.events += events;
        Ok(())
    }

    /// A new, empty segment after the others, durable in the directory.
    fn start_segment(&mut self) -> std::io::Result<()> {
        let number = self.next_number;
        let path = self.dir.join(format!("{number:016}{SEGMENT_SUFFIX}"));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        File::open(&self.dir)?.sync_all()?;
        self.next_number += 1;
        self.list.push_back(Segment {
            number,
            path,
            len: 0,
            moved_to: 0,
            events: 0,
        });
        self.head = Some(file);
        Ok(())
    }

    fn moved(&mut self, number: u64, to: u64, events: u64) {
        let Some(first) = self.list.front_mut().filter(|s| s.number == number) else {
            return;
        };
        first.moved_to = to.min(first.len);
        first.events = first.events.saturating_sub(events);
        if first.moved_to < first.len {
            return;
        }
        let done = self.list.pop_front().expect("the front was just read");
        if self.list.is_empty() {
            self.head = None;
            tracing::info!("every spooled event is in the database: intake writes to it again");
        }
        if let Err(e) = fs::remove_file(&done.path) {
            tracing::error!(path = %done.path.display(), error = %e, "cannot remove a moved spool segment");
        }
    }
}

/// The segments a crash (or a stop while the database was away) left,
/// each read up to its last whole record.
fn leftovers(dir: &Path) -> anyhow::Result<VecDeque<Segment>> {
    let mut list = VecDeque::new();
    for (number, path) in segment_files(dir)? {
        let size = fs::metadata(&path)?.len();
        let (events, len) = record::Reader::open(&path, 0, size)
            .and_then(record::Reader::count)
            .with_context(|| format!("cannot read the spool segment {}", path.display()))?;
        if events == 0 {
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
            continue;
        }
        list.push_back(Segment {
            number,
            path,
            len,
            moved_to: 0,
            events,
        });
    }
    Ok(list)
}

/// The directory's segment files by number.
fn segment_files(dir: &Path) -> anyhow::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    let entries =
        fs::read_dir(dir).with_context(|| format!("cannot read the spool {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let number = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(SEGMENT_SUFFIX))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(number) = number {
            found.push((number, path));
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RouteMode;

    fn event(n: usize) -> NewDelivery {
        NewDelivery {
            id: format!("event-{n}"),
            agent_id: "agent".into(),
            route_id: Some("route".into()),
            mode: RouteMode::AcpEvent,
            task: Some(("task".into(), "pr#1".into())),
            dedup_key: Some(format!("delivery-{n}")),
            method: "POST".into(),
            path: "code_changes".into(),
            headers: "{}".into(),
            body: vec![0, 159, 146, 150, n as u8],
            content: None,
            ignored: None,
            shadow: None,
            is_shadow: false,
            loop_limit: None,
            coalesce: None,
        }
    }

    fn settings(dir: &Path, max_bytes: u64) -> SpoolSettings {
        SpoolSettings {
            dir: dir.to_owned(),
            max_bytes,
        }
    }

    fn append(spool: &Spool, range: std::ops::Range<usize>) {
        let events: Vec<NewDelivery> = range.map(event).collect();
        spool.append(&events.iter().collect::<Vec<_>>()).unwrap();
    }

    /// Every record of the oldest segment, read as the mover reads them.
    fn read_all(oldest: &Oldest) -> Vec<NewDelivery> {
        let mut reader = record::Reader::open(&oldest.path, oldest.from, oldest.end).unwrap();
        let mut out = Vec::new();
        while let record::Next::Record(delivery, _) = reader.read_next().unwrap() {
            out.push(*delivery);
        }
        out
    }

    #[test]
    fn a_restart_finds_every_whole_record_and_drops_a_torn_tail() {
        let root = tempfile::tempdir().unwrap();
        let spool = Spool::open(&settings(root.path(), 1 << 20), "db").unwrap();
        assert!(!spool.is_spooling());
        append(&spool, 0..3);
        append(&spool, 3..5);
        let oldest = spool.oldest(Duration::ZERO).unwrap();
        drop(spool);
        // A crash in the middle of the next append: half a record.
        let mut torn = Vec::new();
        record::encode(&event(5), &mut torn);
        let mut file = OpenOptions::new().append(true).open(&oldest.path).unwrap();
        file.write_all(&torn[..torn.len() / 2]).unwrap();

        let spool = Spool::open(&settings(root.path(), 1 << 20), "db").unwrap();
        assert!(spool.is_spooling());
        assert_eq!(spool.status().events, 5);
        let oldest = spool.oldest(Duration::ZERO).unwrap();
        let read = read_all(&oldest);
        let ids: Vec<&str> = read.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["event-0", "event-1", "event-2", "event-3", "event-4"]);
        assert_eq!(read[4].body, event(4).body, "bodies survive as bytes");
        assert_eq!(read[4].mode, RouteMode::AcpEvent);
        // New appends go to a new segment, after the old one.
        append(&spool, 5..6);
        spool.moved(oldest.number, oldest.end, 5);
        assert!(!oldest.path.exists(), "a moved segment is removed");
        let next = spool.oldest(Duration::ZERO).unwrap();
        assert_eq!(read_all(&next)[0].id, "event-5");
        spool.moved(next.number, next.end, 1);
        assert!(!spool.is_spooling());
        assert_eq!(spool.status().events, 0);
        assert_eq!(spool.status().bytes, 0);
    }

    #[test]
    fn a_damaged_record_ends_what_is_read() {
        let root = tempfile::tempdir().unwrap();
        let spool = Spool::open(&settings(root.path(), 1 << 20), "db").unwrap();
        append(&spool, 0..4);
        let oldest = spool.oldest(Duration::ZERO).unwrap();
        drop(spool);
        let mut bytes = fs::read(&oldest.path).unwrap();
        let last = bytes.len() - 3;
        bytes[last] ^= 0xff;
        fs::write(&oldest.path, bytes).unwrap();
        let spool = Spool::open(&settings(root.path(), 1 << 20), "db").unwrap();
        assert_eq!(
            spool.status().events,
            3,
            "the damaged last record is not counted"
        );
        assert_eq!(read_all(&spool.oldest(Duration::ZERO).unwrap()).len(), 3);
    }

    #[test]
    fn past_its_size_the_spool_refuses_and_keeps_what_it_has() {
        let root = tempfile::tempdir().unwrap();
        let spool = Spool::open(&settings(root.path(), 2000), "db").unwrap();
        let mut taken = 0;
        let refused = loop {
            match spool.append(&[&event(taken)]) {
                Ok(()) => taken += 1,
                Err(e) => break e,
            }
        };
        assert!(
            matches!(refused, SpoolError::Full { max: 2000, .. }),
            "{refused}"
        );
        assert!(taken > 0);
        assert_eq!(spool.status().events, taken as u64);
        assert!(spool.status().bytes <= 2000);
    }

    #[test]
    fn each_instance_keeps_its_own_spool_and_leaves_another_databases() {
        let root = tempfile::tempdir().unwrap();
        let first = Spool::open(&settings(root.path(), 1 << 20), "db-a").unwrap();
        let second = Spool::open(&settings(root.path(), 1 << 20), "db-a").unwrap();
        append(&first, 0..2);
        assert!(!second.is_spooling(), "a spool of its own");
        drop((first, second));
        // Database b does not take a's events; a restarted a finds them.
        let other = Spool::open(&settings(root.path(), 1 << 20), "db-b").unwrap();
        assert!(!other.is_spooling());
        let again = Spool::open(&settings(root.path(), 1 << 20), "db-a").unwrap();
        assert_eq!(again.status().events, 2);
    }
}
