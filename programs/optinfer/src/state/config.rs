//! Global parameters of the rollup, set by the authority.
use anchor_lang::prelude::*;

#[account]
pub struct Config {
    pub authority: Address,
    pub sequencer: Address,
    pub treasury: Address,
    /// Slots after commit during which a batch can be disputed.
    pub challenge_window: PodU64,
    /// Chess-clock budget of each side of a dispute, in slots.
    pub clock_slots: PodU64,
    pub min_executor_bond: PodU64,
    pub min_challenger_bond: PodU64,
    /// Slots between an unbond request and the withdrawal.
    pub unbonding_slots: PodU64,
    /// Index the next committed batch must carry.
    pub next_batch_index: PodU64,
    /// Share of the loser's stake paid to the winner, in basis points; the rest goes to the treasury.
    pub bounty_bps: PodU16,
    pub paused: u8,
    pub bump: u8,
}
