//! Global parameters of the rollup, set by the authority.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;

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

/// Parameters of initialize and update_config.
#[derive(Clone, Copy, AnchorSerialize, AnchorDeserialize, IdlType)]
pub struct ConfigParams {
    pub sequencer: Address,
    pub treasury: Address,
    pub challenge_window: u64,
    pub clock_slots: u64,
    pub min_executor_bond: u64,
    pub min_challenger_bond: u64,
    pub unbonding_slots: u64,
    pub bounty_bps: u16,
}

impl Config {
    /// Sets the parameters initialize and update_config take, refusing values the game cannot run with.
    pub fn apply(&mut self, p: &ConfigParams) -> Result<()> {
        if p.bounty_bps > 10_000 || p.challenge_window == 0 || p.clock_slots == 0 {
            return Err(OptinferError::InvalidConfig.into());
        }
        self.sequencer = p.sequencer;
        self.treasury = p.treasury;
        self.challenge_window = p.challenge_window.into();
        self.clock_slots = p.clock_slots.into();
        self.min_executor_bond = p.min_executor_bond.into();
        self.min_challenger_bond = p.min_challenger_bond.into();
        self.unbonding_slots = p.unbonding_slots.into();
        self.bounty_bps = p.bounty_bps.into();
        Ok(())
    }
}
