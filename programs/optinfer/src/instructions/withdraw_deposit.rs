//! The user: after the delay, takes back what the sequencer did not draw. The account stays (with its
//! rent and `drawn`), so no voucher already redeemed can be redeemed again.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::DepositWithdrawn;
use crate::game::game_now;
use crate::state::{seeds, Config, Deposit};

#[derive(Accounts)]
pub struct WithdrawDeposit {
    #[account(mut)]
    pub user: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::DEPOSIT, user.address().as_ref()], bump = deposit.bump)]
    pub deposit: Account<Deposit>,
}

pub fn withdraw_deposit(ctx: &mut Context<WithdrawDeposit>) -> Result<()> {
    // Game time, as request_withdraw_deposit set it: a pause stops the delay.
    let now = game_now(&ctx.accounts.config)?;
    let d = &mut ctx.accounts.deposit;
    let ready = d.withdraw_ready_slot.get();
    if ready == 0 {
        return Err(OptinferError::DepositWithdrawNotRequested.into());
    }
    if now < ready {
        msg!("deposit withdrawal ready at game slot {}, now {}", ready, now);
        return Err(OptinferError::DepositWithdrawNotReady.into());
    }
    let amount = d.balance.get();
    d.balance = 0u64.into();
    d.withdraw_ready_slot = 0u64.into();
    let user = d.user;
    let mut from = *ctx.accounts.deposit.account();
    let mut to = *ctx.accounts.user.account();
    from.set_lamports(from.lamports().checked_sub(amount).ok_or(OptinferError::Overflow)?);
    to.set_lamports(to.lamports().checked_add(amount).ok_or(OptinferError::Overflow)?);
    emit!(DepositWithdrawn { user, amount });
    Ok(())
}
