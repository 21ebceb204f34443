//! One disputed job of a batch: its open games, the executor stake they share, and its verdict.
use anchor_lang::prelude::*;

/// Created by the first open_dispute on the job (paid by that challenger). An invalidated job's
/// account is kept for good as its verdict record (close_job refuses it), so the invalidation stays
/// provable after its batch account closes; any other closes once the batch is final, rent to `payer`.
#[account]
pub struct Job {
    pub batch: Address,
    /// The challenger whose open_dispute created the account and paid its rent.
    pub payer: Address,
    /// Executor stake locked for this job while any game on it is open: one stake per job, shared by
    /// all its games, so games opened first cannot lock the executor's bond away from a later one.
    pub executor_stake: PodU64,
    pub job_index: PodU32,
    /// Games on this job neither resolved nor ended as moot.
    pub open_games: PodU32,
    /// 1 once a challenger won a game on this job; its other open games are then moot.
    pub invalidated: u8,
    pub bump: u8,
}
