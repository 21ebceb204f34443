//! Scratch space for one-step data too large for one transaction: a header and a byte tail that
//! its owner appends to (and can grow by up to 10 KiB per instruction) over several transactions.
use anchor_lang::accounts::Slab;
use anchor_lang::prelude::*;

/// Capacity given at creation: 10 KiB of account data is what a CPI can allocate at once.
pub const PROOF_INIT_CAPACITY: u32 = 9216;
/// The runtime lets one instruction grow an account's data by at most 10 KiB.
pub const PROOF_MAX_GROWTH: u32 = 10240;

#[account]
pub struct ProofBuffer {
    pub dispute: Address,
    pub owner: Address,
    pub bump: u8,
}

/// The account type instructions load: `[disc][ProofBuffer][len u32][pad][bytes...]`.
pub type ProofBufferAccount = Slab<ProofBuffer, u8>;
