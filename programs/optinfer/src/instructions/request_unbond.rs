//! Starts the unbonding delay for part of the signer's unlocked bond: it ends no earlier than the
//! delay from now, nor than the last committed batch's window (plus the margin) from closing.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::UnbondRequested;
use crate::game::{free_bond, game_now};
use crate::state::{late_dispute_slots, seeds, Config, Operator, UNBONDING_MARGIN_SLOTS};

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
    // Every batch committed so far stays disputable until its own window closes, whatever the
    // window and the delay are now: a shortened delay cannot outrun an older, longer window. A data
    // request made at the window's last slot must be answered within max(clock, DATA_ANSWER_SLOTS)
    // more, and that answer leaves one clock to dispute it (late_dispute_slots): the bond stays
    // until then, plus the margin for the dispute to land.
    let c = &ctx.accounts.config;
    let window_end = c
        .latest_window_end
        .get()
        .checked_add(late_dispute_slots(c.clock_slots.get()))
        .and_then(|e| e.checked_add(UNBONDING_MARGIN_SLOTS))
        .ok_or(OptinferError::Overflow)?;
    // Game time: a pause stops the delay as it stops the windows it must outlast.
    let now = game_now(&ctx.accounts.config)?;
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
