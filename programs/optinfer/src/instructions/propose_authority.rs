//! Authority-only: names the key that may take over the authority (all zeros cancels a proposal).
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::AuthorityProposed;
use crate::state::{seeds, Config};

#[derive(Accounts)]
pub struct ProposeAuthority {
    pub authority: Signer,
    #[account(mut, seeds = [seeds::CONFIG], bump = config.bump,
        constraint = config.authority == *authority.address() @ OptinferError::NotAuthority)]
    pub config: Account<Config>,
}

pub fn propose_authority(ctx: &mut Context<ProposeAuthority>, new_authority: Address) -> Result<()> {
    let c = &mut ctx.accounts.config;
    c.pending_authority = new_authority;
    emit!(AuthorityProposed {
        authority: c.authority,
        proposed: new_authority
    });
    Ok(())
}
