//! Bounds-checked cursor over one-step proof data and check-instruction input.
use alloc::vec::Vec;

use super::merkle;
use super::ops::Operand;
use super::tensor::{self, Header, CHUNK_BYTES};

/// Why a read failed; the program maps each to its error code (errors.rs).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReadError {
    /// The data ends early or a count is out of range.
    BadStepData,
    /// A tensor header does not parse or does not match its byte length.
    BadHeader,
    /// An opened tensor or chunk does not hash to what it must.
    InvalidProof,
}

pub struct Reader<'a> {
    pub b: &'a [u8],
    pub at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Reader<'a> {
        Reader { b, at: 0 }
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ReadError> {
        let end = self.at.checked_add(n).ok_or(ReadError::BadStepData)?;
        if end > self.b.len() {
            return Err(ReadError::BadStepData);
        }
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    pub fn u8(&mut self) -> Result<u8, ReadError> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, ReadError> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    pub fn u32(&mut self) -> Result<u32, ReadError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    pub fn h32(&mut self) -> Result<&'a [u8; 32], ReadError> {
        Ok(self.take(32)?.try_into().unwrap())
    }
    /// header (dtype, rank, u64 dims) || u32 byte length || bytes
    pub fn tensor(&mut self) -> Result<Operand<'a>, ReadError> {
        let (header, used) = Header::parse(&self.b[self.at..]).ok_or(ReadError::BadHeader)?;
        self.at += used;
        let n = self.u32()? as usize;
        let bytes = self.take(n)?;
        if header.byte_len() != Some(n as u64) {
            return Err(ReadError::BadHeader);
        }
        Ok(Operand::full(header, bytes))
    }

    /// An opened tensor that must have digest `want`: mode 0 is the whole tensor (`tensor`),
    /// mode 1 only some chunks: header || chunkRoot || u16 n || n x (u32 index || u8 depth ||
    /// siblings || chunk bytes), each chunk proven against chunkRoot. Sparse openings let a
    /// one-step read a few chunks of a tensor far larger than a proof buffer.
    pub fn opened(&mut self, want: &[u8; 32]) -> Result<Operand<'a>, ReadError> {
        if self.u8()? == 0 {
            let t = self.tensor()?;
            if &tensor::tensor_digest(&t.header, t.bytes) != want {
                return Err(ReadError::InvalidProof);
            }
            return Ok(t);
        }
        let (header, used) = Header::parse(&self.b[self.at..]).ok_or(ReadError::BadHeader)?;
        self.at += used;
        let root = *self.h32()?;
        if &tensor::digest_from_root(&header, &root) != want {
            return Err(ReadError::InvalidProof);
        }
        let total = header.byte_len().ok_or(ReadError::BadHeader)?;
        let count = header.chunk_count().ok_or(ReadError::BadHeader)?;
        let n = self.u16()? as usize;
        let mut pieces = Vec::with_capacity(n);
        let mut sib = alloc::vec![[0u8; 32]; 40];
        for _ in 0..n {
            let index = self.u32()?;
            let depth = self.u8()? as usize;
            if index as u64 >= count || depth > sib.len() {
                return Err(ReadError::BadStepData);
            }
            for s in sib.iter_mut().take(depth) {
                *s = *self.h32()?;
            }
            let start = index as u64 * CHUNK_BYTES as u64;
            let len = core::cmp::min(CHUNK_BYTES as u64, total - start) as usize;
            let bytes = self.take(len)?;
            if !merkle::verify(&root, &merkle::leaf_hash(bytes), index as u64, count, &sib[..depth]) {
                return Err(ReadError::InvalidProof);
            }
            pieces.push((index, bytes));
        }
        // One instruction, one bump-allocated heap that is never freed: leaking ties the pieces
        // to the buffer's lifetime without copying chunk bytes.
        Ok(Operand::sparse(header, pieces.leak()))
    }
}
