//! Authority-only: change parameters, hand over authority, pause or unpause.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::ConfigUpdated;
use crate::state::{seeds, Config, ConfigParams};

#[derive(Accounts)]
pub struct UpdateConfig {
    pub authority: Signer,
    #[account(mut, seeds = [seeds::CONFIG], bump = config.bump,
        constraint = config.authority == *authority.address() @ OptinferError::NotAuthority)]
    pub config: Account<Config>,
}

pub fn update_config(
    ctx: &mut Context<UpdateConfig>,
    params: ConfigParams,
    new_authority: Address,
    paused: u8,
) -> Result<()> {
    let c = &mut ctx.accounts.config;
    c.apply(&params)?;
    c.authority = new_authority;
    c.paused = (paused != 0) as u8;
    emit!(ConfigUpdated {
        authority: new_authority,
        paused: c.paused
    });
    Ok(())
}
