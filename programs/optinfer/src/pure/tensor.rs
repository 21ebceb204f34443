//! Tensor headers, chunking (CHUNK_BYTES = 256) and the tensor / tensor-set digests of PROTOCOL.md.
use super::hash::{hashv, Hash32, TAG_TENSOR, TAG_TENSOR_SET};
use super::merkle::{leaf_hash, root_streaming};

pub const CHUNK_BYTES: usize = 256;
pub const MAX_RANK: usize = 6;
/// Bytes of a header in the dispute account: dtype, rank, MAX_RANK x u32 dims.
pub const PACKED_HEADER_BYTES: usize = 2 + 4 * MAX_RANK;

pub const DT_FLOAT: u8 = 1;
pub const DT_UINT8: u8 = 2;
pub const DT_INT8: u8 = 3;
pub const DT_UINT16: u8 = 4;
pub const DT_INT16: u8 = 5;
pub const DT_INT32: u8 = 6;
pub const DT_INT64: u8 = 7;
pub const DT_BOOL: u8 = 9;
pub const DT_FLOAT16: u8 = 10;
pub const DT_DOUBLE: u8 = 11;
pub const DT_UINT32: u8 = 12;
pub const DT_UINT64: u8 = 13;

/// Element width in bytes, or None for dtypes the protocol does not carry.
pub fn dtype_size(dtype: u8) -> Option<usize> {
    match dtype {
        DT_UINT8 | DT_INT8 | DT_BOOL => Some(1),
        DT_UINT16 | DT_INT16 | DT_FLOAT16 => Some(2),
        DT_FLOAT | DT_INT32 | DT_UINT32 => Some(4),
        DT_INT64 | DT_DOUBLE | DT_UINT64 => Some(8),
        _ => None,
    }
}

/// dtype and dims of a tensor; dims are u64 in the digest but u32 here, which bounds what
/// the referee can open and keeps every product inside u64.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Header {
    pub dtype: u8,
    pub rank: u8,
    pub dims: [u32; MAX_RANK],
}

impl Header {
    pub fn new(dtype: u8, dims: &[u32]) -> Option<Header> {
        if dims.len() > MAX_RANK {
            return None;
        }
        let mut h = Header {
            dtype,
            rank: dims.len() as u8,
            dims: [0; MAX_RANK],
        };
        h.dims[..dims.len()].copy_from_slice(dims);
        Some(h)
    }
    pub fn dims(&self) -> &[u32] {
        &self.dims[..self.rank as usize]
    }
    /// Element count, or u64::MAX past u32::MAX elements. Bounding each partial product by
    /// 2^32 keeps every multiply inside u64 without an overflow check, which LLVM would lower to
    /// a 128-bit multiply helper the upstream BPF backend cannot emit.
    pub fn numel(&self) -> u64 {
        let mut acc = 1u64;
        for &d in self.dims() {
            acc *= d as u64;
            if acc > u32::MAX as u64 {
                return u64::MAX;
            }
        }
        acc
    }
    pub fn byte_len(&self) -> Option<u64> {
        let es = dtype_size(self.dtype)? as u64;
        let n = self.numel();
        if n == u64::MAX {
            None
        } else {
            Some(n * es)
        }
    }
    pub fn chunk_count(&self) -> Option<u64> {
        let b = self.byte_len()?;
        Some(if b == 0 { 1 } else { b.div_ceil(CHUNK_BYTES as u64) })
    }
    /// Serialized form used in proof buffers and digests: dtype, rank, u64 dims.
    pub fn parse(buf: &[u8]) -> Option<(Header, usize)> {
        if buf.len() < 2 {
            return None;
        }
        let rank = buf[1] as usize;
        if rank > MAX_RANK || buf.len() < 2 + 8 * rank {
            return None;
        }
        let mut h = Header {
            dtype: buf[0],
            rank: rank as u8,
            dims: [0; MAX_RANK],
        };
        for i in 0..rank {
            let mut d = [0u8; 8];
            d.copy_from_slice(&buf[2 + 8 * i..10 + 8 * i]);
            let v = u64::from_le_bytes(d);
            if v > u32::MAX as u64 {
                return None;
            }
            h.dims[i] = v as u32;
        }
        Some((h, 2 + 8 * rank))
    }
    /// Fixed-width form the dispute account stores, so the two sides' headers compare bytewise.
    pub fn pack(&self) -> [u8; PACKED_HEADER_BYTES] {
        let mut out = [0u8; PACKED_HEADER_BYTES];
        out[0] = self.dtype;
        out[1] = self.rank;
        for (i, d) in self.dims.iter().enumerate() {
            out[2 + 4 * i..6 + 4 * i].copy_from_slice(&d.to_le_bytes());
        }
        out
    }
    pub fn unpack(b: &[u8; PACKED_HEADER_BYTES]) -> Header {
        let mut h = Header {
            dtype: b[0],
            rank: b[1],
            dims: [0; MAX_RANK],
        };
        for i in 0..MAX_RANK {
            h.dims[i] = u32::from_le_bytes([b[2 + 4 * i], b[3 + 4 * i], b[4 + 4 * i], b[5 + 4 * i]]);
        }
        h
    }
}

/// Root over the chunk leaves of `bytes` (one empty chunk for an empty tensor).
pub fn chunk_root(bytes: &[u8]) -> Hash32 {
    let n = if bytes.is_empty() {
        1
    } else {
        bytes.len().div_ceil(CHUNK_BYTES)
    };
    root_streaming(n as u64, |i| {
        let s = i as usize * CHUNK_BYTES;
        let e = core::cmp::min(s + CHUNK_BYTES, bytes.len());
        leaf_hash(&bytes[s..e])
    })
}

pub fn digest_from_root(h: &Header, root: &Hash32) -> Hash32 {
    let mut hdr = [0u8; 2 + 8 * MAX_RANK];
    hdr[0] = h.dtype;
    hdr[1] = h.rank;
    for (i, d) in h.dims().iter().enumerate() {
        hdr[2 + 8 * i..10 + 8 * i].copy_from_slice(&(*d as u64).to_le_bytes());
    }
    hashv(&[&[TAG_TENSOR], &hdr[..2 + 8 * h.rank as usize], root])
}

pub fn tensor_digest(h: &Header, bytes: &[u8]) -> Hash32 {
    digest_from_root(h, &chunk_root(bytes))
}

/// Tensor-set digest from entries already sorted by name: (name, digest) pairs.
pub fn tensor_set_digest<'a>(entries: impl Iterator<Item = (&'a [u8], &'a Hash32)> + Clone) -> Hash32 {
    // Streamed through a small fixed buffer of parts to keep the syscall path allocation-free.
    let count = entries.clone().count() as u32;
    #[cfg(target_os = "solana")]
    {
        let mut parts: [&[u8]; 2 + 3 * 16] = [&[]; 2 + 3 * 16];
        let mut lens = [[0u8; 2]; 16];
        let cb = count.to_le_bytes();
        parts[0] = &[TAG_TENSOR_SET];
        parts[1] = &cb;
        let mut n = 2;
        for (i, (name, _)) in entries.clone().enumerate().take(16) {
            lens[i] = (name.len() as u16).to_le_bytes();
        }
        for (i, (name, dig)) in entries.enumerate().take(16) {
            parts[n] = &lens[i];
            parts[n + 1] = name;
            parts[n + 2] = dig;
            n += 3;
        }
        hashv(&parts[..n])
    }
    #[cfg(not(target_os = "solana"))]
    {
        use sha2::{Digest, Sha256};
        let mut s = Sha256::new();
        s.update([TAG_TENSOR_SET]);
        s.update(count.to_le_bytes());
        for (name, dig) in entries {
            s.update((name.len() as u16).to_le_bytes());
            s.update(name);
            s.update(dig);
        }
        s.finalize().into()
    }
}
