//! One spooled event on disk: `[length: u32 LE][CRC-32 of the JSON: u32
//! LE][the NewDelivery as JSON]`. A record cut short by a crash, or whose
//! checksum does not match, ends what is read of its segment: every
//! acknowledged record was written whole and synced before its 202.

use crate::db::deliveries::NewDelivery;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Length and checksum before each record.
const HEADER: u64 = 8;

/// No record is larger (a body is bounded far below): a length beyond it
/// is a damaged header, not a record.
const MAX_RECORD: u32 = 1 << 30;

/// Appends `delivery` as one record to `out`.
pub fn encode(delivery: &NewDelivery, out: &mut Vec<u8>) {
    let json = serde_json::to_vec(delivery).expect("a NewDelivery always serializes");
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&json).to_le_bytes());
    out.extend_from_slice(&json);
}

/// Reads a segment's records in order, never past `end`.
pub struct Reader {
    file: BufReader<File>,
    offset: u64,
    end: u64,
}

/// What the next bytes of a segment hold.
pub enum Next {
    /// A record and the offset just past it.
    Record(Box<NewDelivery>, u64),
    /// Nothing more up to the segment's end.
    End,
    /// A torn or damaged record at this offset: nothing after it is read.
    Damaged(u64, String),
}

impl Reader {
    pub fn open(path: &Path, offset: u64, end: u64) -> io::Result<Self> {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(Self {
            file: BufReader::with_capacity(256 * 1024, file),
            offset,
            end,
        })
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Lets the reader go on to `end`, which the segment has grown to.
    pub fn extend_to(&mut self, end: u64) {
        self.end = self.end.max(end);
    }

    pub fn read_next(&mut self) -> io::Result<Next> {
        let start = self.offset;
        let json = match self.payload()? {
            Ok(Some(json)) => json,
            Ok(None) => return Ok(Next::End),
            Err(why) => return Ok(Next::Damaged(start, why)),
        };
        match serde_json::from_slice::<NewDelivery>(&json) {
            Ok(delivery) => Ok(Next::Record(Box::new(delivery), self.offset)),
            Err(e) => Ok(Next::Damaged(
                start,
                format!("the record does not decode: {e}"),
            )),
        }
    }

    /// Counts the whole records from here on: how many, and where the
    /// last one ends (start-up reads what a crash left this way).
    pub fn count(mut self) -> io::Result<(u64, u64)> {
        let mut events = 0;
        loop {
            match self.payload()? {
                Ok(Some(_)) => events += 1,
                Ok(None) => return Ok((events, self.offset)),
                Err(why) => {
                    tracing::warn!(offset = self.offset, %why, "spool segment ends early");
                    return Ok((events, self.offset));
                }
            }
        }
    }

    /// The next record's checked JSON; `Ok(None)` at the end; the inner
    /// `Err` says why the bytes there are not a whole record.
    fn payload(&mut self) -> io::Result<Result<Option<Vec<u8>>, String>> {
        if self.offset >= self.end {
            return Ok(Ok(None));
        }
        if self.end - self.offset < HEADER {
            return Ok(Err("a record header is cut short".into()));
        }
        let mut header = [0u8; HEADER as usize];
        self.file.read_exact(&mut header)?;
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        if len > MAX_RECORD || self.end - self.offset - HEADER < u64::from(len) {
            return Ok(Err(format!("a record of {len} bytes is cut short")));
        }
        let mut json = vec![0u8; len as usize];
        self.file.read_exact(&mut json)?;
        if crc32fast::hash(&json) != crc {
            return Ok(Err("a record's checksum does not match".into()));
        }
        self.offset += HEADER + u64::from(len);
        Ok(Ok(Some(json)))
    }
}
