//! Starts the unbonding delay for part of the signer's unlocked bond: it ends no earlier than the
//! delay from now, nor than the last committed batch's window (plus the margin) from closing.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::UnbondRequested;
use crate::game::{free_bond, game_now};
use crate::state::{dispute_span, seeds, Config, Operator, UNBONDING_MARGIN_SLOTS};

#[derive(Accounts)]
pub struct RequestUnbond {
    pub owner: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::OPERATOR, owner.address().as_ref()], bump = operator.bump)]
    pub operator: Account<Operator>,
}

pub fn request_unbond(ctx: &mut Context<RequestUnbond>, amount: u64) -> Result<()> {
    if amount == 0 {
        return Err(OptinferError::ZeroAmount.into());
    }
    let delay = ctx.accounts.config.unbonding_slots.get();
    // Every batch committed so far stays disputable until its own last dispute end (its window, then
    // a late answer's deadline and clock, under the batch's own window and clock), whatever the window,
    // the clock and the delay are now: changing them cannot outrun an older batch. A batch committed
    // just after the request (the executor's last jobs) is disputable for the dispute span in force,
    // which the delay may be shorter than when the clock is under DATA_ANSWER_SLOTS. The bond stays
    // until both, plus the margin for the dispute to land.
    let c = &ctx.accounts.config;
    // Game time: a pause stops the delay as it stops the windows it must outlast.
    let now = game_now(c)?;
    let window_end = c
        .latest_dispute_end
        .get()
        .checked_add(UNBONDING_MARGIN_SLOTS)
        .ok_or(OptinferError::Overflow)?;
    let span_end = now
        .checked_add(dispute_span(c.challenge_window.get(), c.clock_slots.get())?)
        .ok_or(OptinferError::Overflow)?;
    let window_end = core::cmp::max(window_end, span_end);
    let op = &mut ctx.accounts.operator;
    let free = free_bond(op);
    if amount > free {
        return Err(OptinferError::InsufficientBond.into());
    }
    op.unbonding = (op.unbonding.get() + amount).into();
    let ready_slot = core::cmp::max(now.checked_add(delay).ok_or(OptinferError::Overflow)?, window_end);
    op.unbond_ready_slot = ready_slot.into();
    emit!(UnbondRequested {
        owner: op.owner,
        amount,
        ready_slot
    });
    Ok(())
}
