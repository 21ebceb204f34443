//! Scratch space for one-step data too large for one transaction, written in pieces by its owner.
use anchor_lang::prelude::*;

pub const PROOF_CAPACITY: usize = 9216;

#[account]
pub struct ProofBuffer {
    pub dispute: Address,
    pub owner: Address,
    pub len: PodU32,
    pub bump: u8,
    pub _pad: [u8; 3],
    pub data: [u8; PROOF_CAPACITY],
}
