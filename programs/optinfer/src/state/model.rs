//! A registered model: ids, weight commitment and the size of its op table (stored in OpsPage accounts).
use anchor_lang::prelude::*;

// 32 entries x 24 bytes keep add_model_ops under 1232 bytes with five accounts.
pub const OPS_PER_PAGE: usize = 32;
pub const OP_ENTRY_BYTES: usize = crate::pure::ops::OP_ENTRY_BYTES;
pub const MAX_OUTPUT_NAME: usize = 32;
/// `Model.mode`: every layer recomputed bit for bit under the canonical profile.
pub const MODE_EXACT: u8 = 0;
/// `Model.mode`: float layers judged within a bound (pure/tolerant.rs, pure/transcend.rs), any executor configuration.
pub const MODE_TOLERANT: u8 = 1;

#[account]
pub struct Model {
    pub model_id: [u8; 32],
    pub profile_hash: [u8; 32],
    /// Merkle root over the weight tensor digests, in the order the op table references them.
    pub weight_root: [u8; 32],
    /// Name of the single graph output (the last traced layer), for the output tensor-set digest.
    pub output_name: [u8; MAX_OUTPUT_NAME],
    pub output_name_len: u8,
    pub bump: u8,
    /// MODE_EXACT or MODE_TOLERANT, fixed at registration.
    pub mode: u8,
    /// Tolerant mode's declared arithmetic: 0 fp32 products and sums; m in 1..=16 inputs rounded to
    /// m stored mantissa bits first (TF32 10, BF16 7). Always 0 in exact mode.
    pub arith_bits: u8,
    pub weight_count: PodU32,
    pub layer_count: PodU32,
    /// Op entries loaded so far; disputes need all of them.
    pub ops_loaded: PodU32,
}

#[account]
pub struct OpsPage {
    pub model: Address,
    pub page: PodU16,
    pub count: u8,
    pub bump: u8,
    pub entries: [[u8; OP_ENTRY_BYTES]; OPS_PER_PAGE],
}
