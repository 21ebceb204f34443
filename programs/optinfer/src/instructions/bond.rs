//! Adds lamports to the signer's operator bond (creating the operator account on first use).
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::Bonded;
use crate::state::{seeds, Config, Operator};

#[derive(Accounts)]
pub struct Bond {
    #[account(mut)]
    pub owner: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(init_if_needed, payer = owner, seeds = [seeds::OPERATOR, owner.address().as_ref()], bump)]
    pub operator: Account<Operator>,
    pub system_program: Program<System>,
}

pub fn bond(ctx: &mut Context<Bond>, amount: u64) -> Result<()> {
    if ctx.accounts.config.paused != 0 {
        return Err(OptinferError::Paused.into());
    }
    if amount == 0 {
        return Err(OptinferError::ZeroAmount.into());
    }
    crate::game::transfer_in(ctx.accounts.owner.account(), ctx.accounts.operator.account(), amount)?;
    let owner = *ctx.accounts.owner.address();
    let op = &mut ctx.accounts.operator;
    op.owner = owner;
    op.bump = ctx.bumps.operator;
    let bonded = op.bonded.get().checked_add(amount).ok_or(OptinferError::Overflow)?;
    op.bonded = bonded.into();
    emit!(Bonded { owner, amount, bonded });
    Ok(())
}
