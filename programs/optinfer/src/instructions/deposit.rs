//! The user: adds lamports to its job deposit (creating it on first use); a top-up cancels a pending withdrawal.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::Deposited;
use crate::state::{seeds, Config, Deposit};

#[derive(Accounts)]
pub struct MakeDeposit {
    #[account(mut)]
    pub user: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(init_if_needed, payer = user, seeds = [seeds::DEPOSIT, user.address().as_ref()], bump)]
    pub deposit: Account<Deposit>,
    pub system_program: Program<System>,
}

pub fn deposit(ctx: &mut Context<MakeDeposit>, amount: u64) -> Result<()> {
    if ctx.accounts.config.paused != 0 {
        return Err(OptinferError::Paused.into());
    }
    if amount == 0 {
        return Err(OptinferError::ZeroAmount.into());
    }
    crate::game::transfer_in(ctx.accounts.user.account(), ctx.accounts.deposit.account(), amount)?;
    let user = *ctx.accounts.user.address();
    let d = &mut ctx.accounts.deposit;
    d.user = user;
    d.bump = ctx.bumps.deposit;
    let balance = d.balance.get().checked_add(amount).ok_or(OptinferError::Overflow)?;
    d.balance = balance.into();
    // Topping up means staying: the sequencer may take this user's jobs again.
    d.withdraw_ready_slot = 0u64.into();
    emit!(Deposited { user, amount, balance });
    Ok(())
}
