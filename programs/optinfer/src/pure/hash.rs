//! SHA-256 over several slices: the sol_sha256 syscall on SBF, the sha2 crate natively.

pub type Hash32 = [u8; 32];

pub const TAG_LEAF: u8 = 0x00;
pub const TAG_NODE: u8 = 0x01;
pub const TAG_TENSOR: u8 = 0x02;
pub const TAG_TRACE_SEED: u8 = 0x03;
pub const TAG_TRACE_STEP: u8 = 0x04;
pub const TAG_TENSOR_SET: u8 = 0x05;
/// Batch tree nodes (merkle::fee_node_hash); 0x06..0x08 are off-chain tags (job id, profile, sample).
pub const TAG_FEE_NODE: u8 = 0x09;

/// Hashes the concatenation of `parts` without copying them into one buffer, so the syscall
/// path costs one call whatever the number of parts.
#[inline]
pub fn hashv(parts: &[&[u8]]) -> Hash32 {
    #[cfg(target_os = "solana")]
    {
        let mut out = [0u8; 32];
        // SAFETY: a slice of &[u8] has the (ptr, len) layout the syscall reads; out is 32 bytes.
        unsafe {
            anchor_lang::pinocchio::syscalls::sol_sha256(
                parts.as_ptr() as *const u8,
                parts.len() as u64,
                out.as_mut_ptr(),
            );
        }
        out
    }
    #[cfg(not(target_os = "solana"))]
    {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }
}
