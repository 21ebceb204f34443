//! Authority-only: change parameters (within their bounds), pause or unpause. The authority itself
//! changes hands only through propose_authority and accept_authority.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::ConfigUpdated;
use crate::game::{now_slot, set_paused};
use crate::state::{seeds, Config, ConfigParams};

#[derive(Accounts)]
pub struct UpdateConfig {
    pub authority: Signer,
    #[account(mut, seeds = [seeds::CONFIG], bump = config.bump,
        constraint = config.authority == *authority.address() @ OptinferError::NotAuthority)]
    pub config: Account<Config>,
}

pub fn update_config(ctx: &mut Context<UpdateConfig>, params: ConfigParams, paused: u8) -> Result<()> {
    let now = now_slot()?;
    let c = &mut ctx.accounts.config;
    c.apply(&params)?;
    set_paused(c, paused != 0, now);
    emit!(ConfigUpdated {
        authority: c.authority,
        paused: c.paused
    });
    Ok(())
}
