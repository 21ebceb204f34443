//! A committed batch: Merkle root over its 168-byte job records.
use anchor_lang::prelude::*;

#[account]
pub struct Batch {
    pub root: [u8; 32],
    pub index: PodU64,
    pub commit_slot: PodU64,
    pub job_count: PodU32,
    /// Open games on this batch's jobs (several games may be open on one job).
    pub open_disputes: PodU32,
    /// Jobs proven wrong, each counted once: its Job account has `invalidated` = 1.
    pub invalidated: PodU32,
    pub finalized: u8,
    pub bump: u8,
}
