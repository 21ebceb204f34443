//! Test builds only (cargo feature `check`): runs the program's pure functions on given data and
//! returns the result as return data, so the same vectors can be checked natively and in the SBF VM.
// The derive's IDL code for an account-less struct takes &mut Vec (clippy::ptr_arg).
#![allow(clippy::ptr_arg)]
use anchor_lang::prelude::*;

// In every build: anchor's #[program] re-exports a handler's accounts struct without the handler's
// #[cfg], so only the handler and what it runs are behind the feature.
#[derive(Accounts)]
pub struct Check {}

#[cfg(feature = "check")]
pub use run::*;

#[cfg(feature = "check")]
mod run {
    use alloc::vec::Vec;
    use anchor_lang::prelude::*;

    use super::Check;

    use crate::errors::OptinferError;
    use crate::instructions::open_dispute::{record_fee, signed_leaf};
    use crate::pure::ops::{self, OpEntry, Operand, MAX_OP_INPUTS, OP_ENTRY_BYTES};
    use crate::pure::reader::Reader;
    use crate::pure::tensor::{self, Header, CHUNK_BYTES};
    use crate::pure::tolerant::{check_reduce, Arith, DotAcc};
    use crate::pure::transcend::{check_unary, Unary};
    use crate::pure::{merkle, trace};
    use crate::state::{open_batch_tree, BatchSibling, ProofBufferAccount};

    pub const CHECK_MERKLE_ROOT: u8 = 0;
    pub const CHECK_TENSOR_DIGEST: u8 = 1;
    pub const CHECK_TRACE: u8 = 2;
    pub const CHECK_VERIFY_PROOF: u8 = 3;
    pub const CHECK_OP_CHUNK: u8 = 4;
    pub const CHECK_BATCH_OPEN: u8 = 5;
    pub const CHECK_DOT: u8 = 6;
    pub const CHECK_UNARY: u8 = 7;
    pub const CHECK_REDUCE: u8 = 8;

    /// Result bytes of one check; at most 1024 (the return-data limit).
    pub fn run_check(kind: u8, data: &[u8], out: &mut [u8]) -> Result<usize> {
        let mut r = Reader::new(data);
        match kind {
            CHECK_MERKLE_ROOT => {
                // u32 n, then n x (u32 len, bytes)
                let n = r.u32()? as usize;
                let mut spans = alloc::vec![(0usize, 0usize); 64];
                if n == 0 || n > spans.len() {
                    return Err(OptinferError::BadStepData.into());
                }
                for s in spans.iter_mut().take(n) {
                    let l = r.u32()? as usize;
                    let start = r.at;
                    r.take(l)?;
                    *s = (start, l);
                }
                let root = merkle::root_streaming(n as u64, |i| {
                    let (s, l) = spans[i as usize];
                    merkle::leaf_hash(&data[s..s + l])
                });
                out[..32].copy_from_slice(&root);
                Ok(32)
            }
            CHECK_TENSOR_DIGEST => {
                let t = r.tensor()?;
                out[..32].copy_from_slice(&tensor::chunk_root(t.bytes));
                out[32..64].copy_from_slice(&tensor::tensor_digest(&t.header, t.bytes));
                Ok(64)
            }
            CHECK_TRACE => {
                // modelId, inputDigest, profileHash, u32 n, n layer digests -> root || p_{n-1}
                let (mid, inp, prof) = (*r.h32()?, *r.h32()?, *r.h32()?);
                let n = r.u32()?;
                if n == 0 || n > 64 {
                    return Err(OptinferError::BadStepData.into());
                }
                let mut prefixes = alloc::vec![[0u8; 32]; 64];
                let mut p = trace::seed(&mid, &inp, &prof);
                for (i, slot) in prefixes.iter_mut().enumerate().take(n as usize) {
                    p = trace::step(&p, i as u32, r.h32()?);
                    *slot = p;
                }
                let root = merkle::root_streaming(n as u64, |i| merkle::leaf_hash(&prefixes[i as usize]));
                out[..32].copy_from_slice(&root);
                out[32..64].copy_from_slice(&p);
                Ok(64)
            }
            CHECK_VERIFY_PROOF => {
                // root, u32 len, leaf data, u64 index as u32 pair, u32 count, u8 n, siblings
                let root = *r.h32()?;
                let l = r.u32()? as usize;
                let leaf = merkle::leaf_hash(r.take(l)?);
                let index = r.u32()? as u64;
                let count = r.u32()? as u64;
                let n = r.u8()? as usize;
                let mut sib = alloc::vec![[0u8; 32]; 32];
                if n > sib.len() {
                    return Err(OptinferError::BadStepData.into());
                }
                for s in sib.iter_mut().take(n) {
                    *s = *r.h32()?;
                }
                out[0] = merkle::verify(&root, &leaf, index, count, &sib[..n]) as u8;
                Ok(1)
            }
            CHECK_OP_CHUNK => {
                // op entry (24), u32 chunk, u8 n, n tensors -> header (26) || chunk bytes
                let e = OpEntry::parse(r.take(OP_ENTRY_BYTES)?);
                let chunk = r.u32()? as u64;
                let n = r.u8()? as usize;
                if n != e.n_inputs as usize || n > MAX_OP_INPUTS {
                    return Err(OptinferError::BadStepData.into());
                }
                let empty = Operand::full(Header::default(), &[]);
                let mut ins = [empty; MAX_OP_INPUTS];
                for slot in ins.iter_mut().take(n) {
                    *slot = r.tensor()?;
                }
                let mut buf = [0u8; CHUNK_BYTES];
                let (h, len) =
                    ops::compute_chunk(&e, &ins[..n], chunk, &mut buf).map_err(|_| OptinferError::BadOperands)?;
                out[..26].copy_from_slice(&h.pack());
                out[26..26 + len].copy_from_slice(&buf[..len]);
                Ok(26 + len)
            }
            CHECK_BATCH_OPEN => {
                // root, record (168), signature (64), u32 index, u32 count, u8 n, n x (hash, u64 fees)
                // -> u8 opened || u64 fee sum
                let root = *r.h32()?;
                let record: &[u8; 168] = r.take(168)?.try_into().map_err(|_| OptinferError::BadStepData)?;
                let signature: &[u8; 64] = r.take(64)?.try_into().map_err(|_| OptinferError::BadStepData)?;
                let index = r.u32()? as u64;
                let count = r.u32()? as u64;
                let n = r.u8()? as usize;
                let mut sib = alloc::vec![BatchSibling { hash: [0u8; 32], fees: 0 }; 32];
                if n > sib.len() {
                    return Err(OptinferError::BadStepData.into());
                }
                for s in sib.iter_mut().take(n) {
                    s.hash = *r.h32()?;
                    let mut f = [0u8; 8];
                    f.copy_from_slice(r.take(8)?);
                    s.fees = u64::from_le_bytes(f);
                }
                let leaf = signed_leaf(record, signature);
                let sum = open_batch_tree(&root, &leaf, record_fee(record), index, count, &sib[..n]);
                out[0] = sum.is_some() as u8;
                out[1..9].copy_from_slice(&sum.unwrap_or(0).to_le_bytes());
                Ok(9)
            }
            CHECK_DOT => {
                // u8 mantissa bits (0 = Fp32), u8 has bias, u32 bias, u32 claimed, u32 K, K x a, K x b
                // (f32 LE) -> u8 verdict (0 Within, 1 NonFinite, 2 Outside, 3 MustBeNonFinite,
                // 4 NotNonFinite) || u8 honest
                let m = r.u8()?;
                let has_bias = r.u8()? != 0;
                let (bias, claimed, k) = (r.u32()?, r.u32()?, r.u32()? as usize);
                let a = r.take(4 * k)?;
                let b = r.take(4 * k)?;
                let word = |c: &[u8]| u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                let mut acc = DotAcc::new();
                for (x, y) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
                    acc.add(word(x), word(y));
                }
                if has_bias {
                    acc.add_bias(bias);
                }
                let arith = if m == 0 {
                    Arith::Fp32
                } else {
                    Arith::InputPrecision { mantissa_bits: m }
                };
                let v = acc.verdict(claimed, arith).map_err(|_| OptinferError::BadStepData)?;
                out[0] = v.code();
                out[1] = v.honest() as u8;
                Ok(2)
            }
            CHECK_UNARY => {
                // u8 op (pure/transcend.rs Unary), u8 n <= 128, n x (u32 x, u32 claimed), float32 bits
                // -> u8 failures || 16-byte bitmap of the claims that pass
                let op = Unary::from_code(r.u8()?).ok_or(OptinferError::BadStepData)?;
                let n = r.u8()? as usize;
                if n > 128 {
                    return Err(OptinferError::BadStepData.into());
                }
                out[..17].fill(0);
                for i in 0..n {
                    let (x, claimed) = (r.u32()?, r.u32()?);
                    if check_unary(op, x, claimed) {
                        out[1 + i / 8] |= 1 << (i % 8);
                    } else {
                        out[0] += 1;
                    }
                }
                Ok(17)
            }
            CHECK_REDUCE => {
                // u8 mantissa bits (0 = Fp32), u8 mean, u32 claimed, u32 n, n x f32 LE -> as CHECK_DOT
                let m = r.u8()?;
                let mean = r.u8()? != 0;
                let (claimed, n) = (r.u32()?, r.u32()? as usize);
                let bytes = r.take(4 * n)?;
                let mut x = alloc::vec![0u32; n];
                for (v, c) in x.iter_mut().zip(bytes.chunks_exact(4)) {
                    *v = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
                let arith = if m == 0 {
                    Arith::Fp32
                } else {
                    Arith::InputPrecision { mantissa_bits: m }
                };
                let v = check_reduce(&x, mean, claimed, arith).map_err(|_| OptinferError::BadStepData)?;
                out[0] = v.code();
                out[1] = v.honest() as u8;
                Ok(2)
            }
            _ => Err(OptinferError::BadCheck.into()),
        }
    }

    /// With empty `data`, the input is read from a ProofBuffer passed as the first remaining account,
    /// so vectors larger than one transaction can be checked in the VM too.
    pub fn check(ctx: &mut Context<Check>, kind: u8, data: Vec<u8>) -> Result<()> {
        let mut out = alloc::vec![0u8; 512];
        let remaining = if data.is_empty() {
            ctx.remaining_accounts()?
        } else {
            Vec::new()
        };
        let loaded;
        // One call site for run_check: every handler is inlined into the entrypoint, so a second
        // call would duplicate the whole check code in the binary.
        let input: &[u8] = if data.is_empty() {
            let view = remaining.first().ok_or(OptinferError::WrongAccount)?;
            // Owner and discriminator are checked by the load.
            loaded = <ProofBufferAccount as anchor_lang::AnchorAccount>::load(*view)?;
            loaded.as_slice()
        } else {
            &data
        };
        let n = run_check(kind, input, &mut out)?;
        #[cfg(target_os = "solana")]
        // SAFETY: out[..n] is initialised and n <= 512 < MAX_RETURN_DATA.
        unsafe {
            anchor_lang::pinocchio::syscalls::sol_set_return_data(out.as_ptr(), n as u64)
        };
        #[cfg(not(target_os = "solana"))]
        let _ = n;
        Ok(())
    }
}
