//! Creates the global Config; the signer becomes the authority.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::ConfigUpdated;
use crate::state::{seeds, Config};

#[derive(Accounts)]
pub struct Initialize {
    #[account(mut)]
    pub authority: Signer,
    #[account(init, payer = authority, seeds = [seeds::CONFIG], bump)]
    pub config: Account<Config>,
    pub system_program: Program<System>,
}

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

pub fn apply_params(c: &mut Config, p: &ConfigParams) -> Result<()> {
    if p.bounty_bps > 10_000 || p.challenge_window == 0 || p.clock_slots == 0 {
        return Err(OptinferError::InvalidConfig.into());
    }
    c.sequencer = p.sequencer;
    c.treasury = p.treasury;
    c.challenge_window = p.challenge_window.into();
    c.clock_slots = p.clock_slots.into();
    c.min_executor_bond = p.min_executor_bond.into();
    c.min_challenger_bond = p.min_challenger_bond.into();
    c.unbonding_slots = p.unbonding_slots.into();
    c.bounty_bps = p.bounty_bps.into();
    Ok(())
}

pub fn initialize(ctx: &mut Context<Initialize>, params: ConfigParams) -> Result<()> {
    let authority = *ctx.accounts.authority.address();
    let c = &mut ctx.accounts.config;
    apply_params(c, &params)?;
    c.authority = authority;
    c.next_batch_index = 0u64.into();
    c.paused = 0;
    c.bump = ctx.bumps.config;
    emit!(ConfigUpdated { authority, paused: 0 });
    Ok(())
}
