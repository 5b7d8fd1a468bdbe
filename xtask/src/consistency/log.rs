//! What a run records: every read (record, version returned, start, end), every write (record,
//! version written, when its invalidation completed) and events, in a clock that processes on
//! one machine share.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

/// Nanoseconds since the Unix epoch: the wall clock read once per process, advanced by the
/// monotonic clock. Monotone within a process; comparable across processes on one machine to
/// the error of one wall-clock reading (microseconds), far below the windows checked (10 ms).
pub(crate) fn now_ns() -> u64 {
    static BASE: OnceLock<(Instant, u64)> = OnceLock::new();
    let (at, wall) = BASE.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        (Instant::now(), wall)
    });
    wall + at.elapsed().as_nanos() as u64
}

/// One read: `record` answered `version` (0: the record's initial value), between `start` and
/// `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadRec {
    pub(crate) record: u32,
    pub(crate) version: u64,
    pub(crate) start: u64,
    pub(crate) end: u64,
}

/// One write: the source of `record` moved to `version` (committed at `start`); its
/// invalidation completed at `done` (the call returned), `None` when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteRec {
    pub(crate) record: u32,
    pub(crate) version: u64,
    pub(crate) start: u64,
    pub(crate) done: Option<u64>,
    /// Bit 0: the change was deferred; bit 1: it failed; bit 2: a foreign writer made it (a DEL);
    /// bit 3: a foreign writer's SET.
    pub(crate) flags: u8,
}

pub(crate) const DEFERRED: u8 = 1;
pub(crate) const FAILED: u8 = 2;
pub(crate) const FOREIGN_DEL: u8 = 4;
pub(crate) const FOREIGN_SET: u8 = 8;

const READ_LEN: usize = 28;
const WRITE_LEN: usize = 29;

impl ReadRec {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.record.to_le_bytes());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.start.to_le_bytes());
        out.extend_from_slice(&self.end.to_le_bytes());
    }

    fn decode(b: &[u8]) -> Self {
        Self {
            record: u32_at(b, 0),
            version: u64_at(b, 4),
            start: u64_at(b, 12),
            end: u64_at(b, 20),
        }
    }
}

impl WriteRec {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.record.to_le_bytes());
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.start.to_le_bytes());
        out.extend_from_slice(&self.done.unwrap_or(u64::MAX).to_le_bytes());
        out.push(self.flags);
    }

    fn decode(b: &[u8]) -> Self {
        let done = u64_at(b, 20);
        Self {
            record: u32_at(b, 0),
            version: u64_at(b, 4),
            start: u64_at(b, 12),
            done: (done != u64::MAX).then_some(done),
            flags: b[28],
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// An append-only file of fixed-size records, buffered in memory and flushed in blocks.
pub(crate) struct LogFile {
    file: std::io::BufWriter<std::fs::File>,
    buf: Vec<u8>,
}

impl LogFile {
    pub(crate) fn create(path: &Path) -> Result<Self> {
        let file = std::fs::File::create(path).with_context(|| format!("{}", path.display()))?;
        Ok(Self {
            file: std::io::BufWriter::with_capacity(1 << 20, file),
            buf: Vec::with_capacity(32),
        })
    }

    pub(crate) fn read(&mut self, r: &ReadRec) -> Result<()> {
        self.buf.clear();
        r.encode(&mut self.buf);
        Ok(self.file.write_all(&self.buf)?)
    }

    pub(crate) fn write(&mut self, w: &WriteRec) -> Result<()> {
        self.buf.clear();
        w.encode(&mut self.buf);
        Ok(self.file.write_all(&self.buf)?)
    }

    pub(crate) fn flush(&mut self) -> Result<()> {
        Ok(self.file.flush()?)
    }
}

fn read_all(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path.exists() {
        std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

/// The reads in `path` (none when it does not exist; a torn last record is dropped).
pub(crate) fn load_reads(path: &Path) -> Result<Vec<ReadRec>> {
    let bytes = read_all(path)?;
    Ok(bytes.chunks_exact(READ_LEN).map(ReadRec::decode).collect())
}

/// The writes in `path` (none when it does not exist).
pub(crate) fn load_writes(path: &Path) -> Result<Vec<WriteRec>> {
    let bytes = read_all(path)?;
    Ok(bytes
        .chunks_exact(WRITE_LEN)
        .map(WriteRec::decode)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let (rp, wp) = (dir.path().join("r"), dir.path().join("w"));
        let r = ReadRec {
            record: 7,
            version: 3,
            start: 10,
            end: 20,
        };
        let w1 = WriteRec {
            record: 7,
            version: 4,
            start: 11,
            done: Some(15),
            flags: DEFERRED,
        };
        let w2 = WriteRec {
            done: None,
            flags: FAILED | FOREIGN_DEL,
            ..w1
        };
        let (mut rf, mut wf) = (LogFile::create(&rp).unwrap(), LogFile::create(&wp).unwrap());
        rf.read(&r).unwrap();
        wf.write(&w1).unwrap();
        wf.write(&w2).unwrap();
        rf.flush().unwrap();
        wf.flush().unwrap();
        assert_eq!(load_reads(&rp).unwrap(), vec![r]);
        assert_eq!(load_writes(&wp).unwrap(), vec![w1, w2]);
    }

    #[test]
    fn the_clock_moves_forward() {
        let a = now_ns();
        let b = now_ns();
        assert!(b >= a && a > 1_600_000_000_000_000_000);
    }
}
