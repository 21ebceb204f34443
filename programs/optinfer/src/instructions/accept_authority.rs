//! The proposed key, signing: takes over the authority, so a mistyped proposal never loses it.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::ConfigUpdated;
use crate::state::{seeds, Config};

#[derive(Accounts)]
pub struct AcceptAuthority {
    pub new_authority: Signer,
    #[account(mut, seeds = [seeds::CONFIG], bump = config.bump,
        constraint = config.pending_authority == *new_authority.address() @ OptinferError::NotPendingAuthority)]
    pub config: Account<Config>,
}

pub fn accept_authority(ctx: &mut Context<AcceptAuthority>) -> Result<()> {
    let authority = *ctx.accounts.new_authority.address();
    let c = &mut ctx.accounts.config;
    c.authority = authority;
    c.pending_authority = Address::default();
    emit!(ConfigUpdated {
        authority,
        paused: c.paused
    });
    Ok(())
}
