//! A spill file: records past the memory bound, appended to disk and read
//! back in order. Left-over records from a previous run are read back
//! first.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::record::Record;

/// One PBX's spill file.
#[derive(Debug)]
pub(crate) struct Spill {
    path: PathBuf,
    writer: BufWriter<File>,
    reader: BufReader<File>,
    /// Records written and not yet read.
    records: u64,
    /// Bytes written (file length once flushed).
    written: u64,
    /// Bytes read.
    read: u64,
    /// Writer holds bytes the reader cannot see yet.
    dirty: bool,
    max_bytes: u64,
    scratch: Vec<u8>,
}

impl Spill {
    /// Open (or create) `path`. Whole records left by an earlier run are
    /// kept (and read first); a torn last record is cut off.
    pub(crate) fn open(path: &Path, max_bytes: u64) -> io::Result<Spill> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let (records, good) = scan(&file)?;
        file.set_len(good)?;
        let mut w = file;
        w.seek(SeekFrom::Start(good))?;
        // A second open, not a clone: clones share one file offset.
        let r = File::open(path)?;
        Ok(Spill {
            path: path.to_owned(),
            writer: BufWriter::with_capacity(256 * 1024, w),
            reader: BufReader::with_capacity(256 * 1024, r),
            records,
            written: good,
            read: 0,
            dirty: false,
            max_bytes,
            scratch: Vec::new(),
        })
    }

    /// Records waiting.
    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    /// Bytes waiting.
    pub(crate) fn bytes(&self) -> u64 {
        self.written - self.read
    }

    /// Whether `rec` fits under the bound.
    pub(crate) fn has_room(&self, rec: &Record) -> bool {
        self.bytes() + rec.size() as u64 <= self.max_bytes
    }

    /// Append a record.
    pub(crate) fn write(&mut self, rec: &Record) -> io::Result<()> {
        self.scratch.clear();
        rec.encode(&mut self.scratch);
        self.writer.write_all(&self.scratch)?;
        self.written += self.scratch.len() as u64;
        self.records += 1;
        self.dirty = true;
        Ok(())
    }

    /// The oldest record, if any.
    pub(crate) fn read(&mut self) -> io::Result<Option<Record>> {
        if self.records == 0 {
            return Ok(None);
        }
        if self.dirty {
            self.writer.flush()?;
            self.dirty = false;
        }
        let mut len = [0u8; 4];
        self.reader.read_exact(&mut len)?;
        let n = u32::from_le_bytes(len) as usize;
        self.scratch.resize(n, 0);
        self.reader.read_exact(&mut self.scratch)?;
        let rec = Record::decode(&self.scratch).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("corrupt record in {}", self.path.display()),
            )
        })?;
        self.read += 4 + n as u64;
        self.records -= 1;
        if self.records == 0 {
            self.reset()?;
        }
        Ok(Some(rec))
    }

    /// Forget everything (after the last record was read, or after an
    /// error).
    pub(crate) fn reset(&mut self) -> io::Result<()> {
        self.writer.flush()?;
        self.dirty = false;
        self.writer.get_ref().set_len(0)?;
        self.writer.seek(SeekFrom::Start(0))?;
        self.reader.seek(SeekFrom::Start(0))?;
        self.records = 0;
        self.written = 0;
        self.read = 0;
        Ok(())
    }

    /// Push buffered writes to the OS.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.dirty = false;
        self.writer.flush()
    }
}

/// Count whole records from the start; returns the count and the length
/// they cover.
fn scan(file: &File) -> io::Result<(u64, u64)> {
    let total = file.metadata()?.len();
    let mut r = BufReader::new(file);
    let (mut at, mut n) = (0u64, 0u64);
    let mut buf = Vec::new();
    while at + 4 <= total {
        let mut len = [0u8; 4];
        r.read_exact(&mut len)?;
        let len = u64::from(u32::from_le_bytes(len));
        if at + 4 + len > total {
            break;
        }
        buf.resize(len as usize, 0);
        r.read_exact(&mut buf)?;
        if Record::decode(&buf).is_none() {
            break;
        }
        at += 4 + len;
        n += 1;
    }
    Ok((n, at))
}
