//! The user: starts the withdrawal delay of its deposit (Config.clock_slots of game time), during
//! which the sequencer can still redeem the vouchers it holds.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::DepositWithdrawRequested;
use crate::game::game_now;
use crate::state::{seeds, Config, Deposit};

#[derive(Accounts)]
pub struct RequestWithdrawDeposit {
    pub user: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::DEPOSIT, user.address().as_ref()], bump = deposit.bump)]
    pub deposit: Account<Deposit>,
}

/// The delay is one dispute clock: the span the protocol already gives any party to answer on chain
/// (a move, a one-step), here the sequencer's one draw_deposit transaction. A repeated request
/// restarts it.
pub fn request_withdraw_deposit(ctx: &mut Context<RequestWithdrawDeposit>) -> Result<()> {
    let delay = ctx.accounts.config.clock_slots.get();
    let now = game_now(&ctx.accounts.config)?;
    let ready_slot = now.checked_add(delay).ok_or(OptinferError::Overflow)?;
    let d = &mut ctx.accounts.deposit;
    if d.balance.get() == 0 {
        return Err(OptinferError::DepositEmpty.into());
    }
    d.withdraw_ready_slot = ready_slot.into();
    emit!(DepositWithdrawRequested {
        user: d.user,
        balance: d.balance.get(),
        ready_slot
    });
    Ok(())
}
