//! Creates the global Config (the signer becomes the authority) and the rent-exempt treasury vault.
use anchor_lang::prelude::*;

use crate::events::ConfigUpdated;
use crate::state::{seeds, Config, ConfigParams, Vault};

#[derive(Accounts)]
pub struct Initialize {
    #[account(mut)]
    pub authority: Signer,
    #[account(init, payer = authority, seeds = [seeds::CONFIG], bump)]
    pub config: Account<Config>,
    #[account(init, payer = authority, seeds = [seeds::VAULT], bump)]
    pub vault: Account<Vault>,
    pub system_program: Program<System>,
}

pub fn initialize(ctx: &mut Context<Initialize>, params: ConfigParams) -> Result<()> {
    let authority = *ctx.accounts.authority.address();
    let c = &mut ctx.accounts.config;
    c.apply(&params)?;
    c.authority = authority;
    c.next_batch_index = 0u64.into();
    c.paused = 0;
    c.bump = ctx.bumps.config;
    ctx.accounts.vault.bump = ctx.bumps.vault;
    emit!(ConfigUpdated { authority, paused: 0 });
    Ok(())
}
