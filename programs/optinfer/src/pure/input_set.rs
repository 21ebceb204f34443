//! The posted form of a job's inputs (a named tensor set) and its tensor-set digest, checked on chain by answer_data.
use super::hash::Hash32;
use super::tensor::{tensor_digest, tensor_set_digest, Header};

/// Most tensors a posted input set may hold (tensor_set_digest hashes at most 16 entries in the VM).
pub const MAX_INPUT_TENSORS: usize = 16;
/// Longest tensor name, in bytes (state/shapes.ts MAX_INPUT_NAME).
pub const MAX_INPUT_NAME: usize = 64;

/// Why a posted input set is refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InputSetError {
    /// The bytes do not parse as `u32 count || count x (u16 nameLen || name || u8 dtype || u8 rank ||
    /// u64 dims[rank] || canonical bytes)` ending exactly at the end, or a dtype is not carried.
    Encoding,
    /// More than MAX_INPUT_TENSORS tensors, or a name longer than MAX_INPUT_NAME.
    TooLarge,
    /// Names are not strictly increasing (UTF-8 bytes), the order the tensor-set digest hashes them in.
    Unsorted,
}

fn read<'a>(buf: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], InputSetError> {
    let end = at.checked_add(n).ok_or(InputSetError::Encoding)?;
    let s = buf.get(*at..end).ok_or(InputSetError::Encoding)?;
    *at = end;
    Ok(s)
}

/// The tensor-set digest (docs/PROTOCOL.md "Named tensor sets") of the input set posted as `buf`.
pub fn input_set_digest(buf: &[u8]) -> Result<Hash32, InputSetError> {
    let mut at = 0usize;
    let c = read(buf, &mut at, 4)?;
    let count = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize;
    if count > MAX_INPUT_TENSORS {
        return Err(InputSetError::TooLarge);
    }
    let mut names: [&[u8]; MAX_INPUT_TENSORS] = [&[]; MAX_INPUT_TENSORS];
    let mut digests = [[0u8; 32]; MAX_INPUT_TENSORS];
    for i in 0..count {
        let l = read(buf, &mut at, 2)?;
        let len = u16::from_le_bytes([l[0], l[1]]) as usize;
        if len > MAX_INPUT_NAME {
            return Err(InputSetError::TooLarge);
        }
        let name = read(buf, &mut at, len)?;
        if i > 0 && names[i - 1] >= name {
            return Err(InputSetError::Unsorted);
        }
        let (h, used) = Header::parse(&buf[at..]).ok_or(InputSetError::Encoding)?;
        at += used;
        let n = h.byte_len().ok_or(InputSetError::Encoding)?;
        if n > buf.len() as u64 {
            return Err(InputSetError::Encoding);
        }
        let bytes = read(buf, &mut at, n as usize)?;
        names[i] = name;
        digests[i] = tensor_digest(&h, bytes);
    }
    if at != buf.len() {
        return Err(InputSetError::Encoding);
    }
    Ok(tensor_set_digest(
        names[..count].iter().copied().zip(digests[..count].iter()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::tensor::DT_INT8;

    /// name, dtype, dims, canonical bytes
    type Posted<'a> = (&'a [u8], u8, &'a [u64], &'a [u8]);

    fn enc(tensors: &[Posted]) -> alloc::vec::Vec<u8> {
        let mut v = alloc::vec::Vec::new();
        v.extend_from_slice(&(tensors.len() as u32).to_le_bytes());
        for (name, dtype, dims, bytes) in tensors {
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(name);
            v.push(*dtype);
            v.push(dims.len() as u8);
            for d in *dims {
                v.extend_from_slice(&d.to_le_bytes());
            }
            v.extend_from_slice(bytes);
        }
        v
    }

    #[test]
    fn digest_matches_the_tensor_set_digest() {
        let a = [1u8, 2, 3, 4];
        let buf = enc(&[(b"a", DT_INT8, &[2, 2], &a), (b"b", DT_INT8, &[1], &[9])]);
        let ha = Header::new(DT_INT8, &[2, 2]).unwrap();
        let hb = Header::new(DT_INT8, &[1]).unwrap();
        let da = tensor_digest(&ha, &a);
        let db = tensor_digest(&hb, &[9]);
        let names: [&[u8]; 2] = [b"a", b"b"];
        let want = tensor_set_digest(names.iter().copied().zip([da, db].iter()));
        assert_eq!(input_set_digest(&buf), Ok(want));
    }

    #[test]
    fn refuses_bad_encodings() {
        let buf = enc(&[(b"b", DT_INT8, &[1], &[9]), (b"a", DT_INT8, &[1], &[9])]);
        assert_eq!(input_set_digest(&buf), Err(InputSetError::Unsorted));
        let mut buf = enc(&[(b"a", DT_INT8, &[2], &[1, 2])]);
        buf.push(0);
        assert_eq!(input_set_digest(&buf), Err(InputSetError::Encoding));
        buf.truncate(buf.len() - 2);
        assert_eq!(input_set_digest(&buf), Err(InputSetError::Encoding));
        assert_eq!(input_set_digest(&[]), Err(InputSetError::Encoding));
        assert_eq!(input_set_digest(&99u32.to_le_bytes()), Err(InputSetError::TooLarge));
        let buf = enc(&[(b"a", 99, &[1], &[1])]);
        assert_eq!(input_set_digest(&buf), Err(InputSetError::Encoding));
    }
}
