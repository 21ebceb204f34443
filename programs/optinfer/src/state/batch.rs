//! A committed batch: Merkle root over its 168-byte job records.
use anchor_lang::prelude::*;

#[account]
pub struct Batch {
    pub root: [u8; 32],
    pub index: PodU64,
    /// Game slot (game::game_slot: paused slots excluded) of the commit.
    pub commit_slot: PodU64,
    /// The config's challenge window when the batch was committed; later updates do not change it.
    pub challenge_window: PodU64,
    /// The config's min_executor_bond when the batch was committed: what each disputed job's shared
    /// executor stake is topped up to (the stake the sequencer sized the executor's exposure with),
    /// so raising the minimum mid-window cannot let one job's stake eat the bond backing another's.
    pub executor_stake: PodU64,
    pub job_count: PodU32,
    /// Open games on this batch's jobs (several games may be open on one job).
    pub open_disputes: PodU32,
    /// Jobs proven wrong, each counted once: its Job account has `invalidated` = 1.
    pub invalidated: PodU32,
    pub finalized: u8,
    pub bump: u8,
}
