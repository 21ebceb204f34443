//! Pays out the unbonding amount once the delay passed (and any hold a later window or clock raise
//! set, Config.withdraw_floor) and no dispute involving the operator is open.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::Withdrawn;
use crate::game::game_now;
use crate::state::{seeds, Config, Operator};

#[derive(Accounts)]
pub struct Withdraw {
    #[account(mut)]
    pub owner: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::OPERATOR, owner.address().as_ref()], bump = operator.bump)]
    pub operator: Account<Operator>,
}

pub fn withdraw(ctx: &mut Context<Withdraw>) -> Result<()> {
    // The ready slot is in game time (request_unbond), which a pause stops.
    let now = game_now(&ctx.accounts.config)?;
    let op = &mut ctx.accounts.operator;
    if op.open_disputes.get() > 0 {
        return Err(OptinferError::WithdrawDuringDispute.into());
    }
    let amount = op.unbonding.get();
    if amount == 0 {
        return Err(OptinferError::NothingUnbonding.into());
    }
    // A window or clock raised after the request holds it too (Config.withdraw_floor).
    let ready = core::cmp::max(op.unbond_ready_slot.get(), ctx.accounts.config.withdraw_floor.get());
    if now < ready {
        msg!("unbond ready at game slot {}, now {}", ready, now);
        return Err(OptinferError::UnbondingNotReady.into());
    }
    op.unbonding = 0u64.into();
    op.bonded = op
        .bonded
        .get()
        .checked_sub(amount)
        .ok_or(OptinferError::Overflow)?
        .into();
    let owner = op.owner;
    let mut from = *ctx.accounts.operator.account();
    let mut to = *ctx.accounts.owner.account();
    from.set_lamports(from.lamports().checked_sub(amount).ok_or(OptinferError::Overflow)?);
    to.set_lamports(to.lamports().checked_add(amount).ok_or(OptinferError::Overflow)?);
    emit!(Withdrawn { owner, amount });
    Ok(())
}
