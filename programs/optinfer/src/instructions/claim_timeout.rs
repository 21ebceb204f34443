//! Anyone: ends a dispute whose side to move ran out of clock; the other side wins.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::TimeoutClaimed;
use crate::game::{now_slot, resolve, Parties};
use crate::state::*;

#[derive(Accounts)]
pub struct Resolve {
    #[account(mut, seeds = [seeds::DISPUTE, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes()], bump = dispute.bump)]
    pub dispute: Account<Dispute>,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, address = dispute.batch @ OptinferError::WrongAccount)]
    pub batch: Account<Batch>,
    #[account(mut, seeds = [seeds::OPERATOR, dispute.executor.as_ref()], bump = executor_operator.bump)]
    pub executor_operator: Account<Operator>,
    #[account(mut, seeds = [seeds::OPERATOR, dispute.challenger.as_ref()], bump = challenger_operator.bump)]
    pub challenger_operator: Account<Operator>,
    #[account(mut, address = config.treasury @ OptinferError::WrongAccount)]
    pub treasury: UncheckedAccount,
}

/// Settles a dispute from the accounts every resolving instruction carries.
pub fn finish(
    dispute: &mut Account<Dispute>,
    config: &Account<Config>,
    batch: &mut Account<Batch>,
    executor_operator: &mut Account<Operator>,
    challenger_operator: &mut Account<Operator>,
    treasury: &UncheckedAccount,
    winner: u8,
) -> Result<()> {
    let key = *dispute.address();
    let parties = Parties {
        executor_view: *executor_operator.account(),
        challenger_view: *challenger_operator.account(),
        treasury_view: *treasury.account(),
        batch: &mut *batch,
        executor_op: &mut *executor_operator,
        challenger_op: &mut *challenger_operator,
    };
    resolve(&mut *dispute, &key, winner, config.bounty_bps.get(), parties)
}

pub fn claim_timeout(ctx: &mut Context<Resolve>) -> Result<()> {
    let now = now_slot()?;
    let a = &mut ctx.accounts;
    let d = &a.dispute;
    if d.phase == PHASE_RESOLVED {
        return Err(OptinferError::DisputeResolved.into());
    }
    let side = d.turn;
    if now.saturating_sub(d.last_move_slot.get()) <= d.clock[side as usize].get() {
        return Err(OptinferError::ClockNotExpired.into());
    }
    let key = *d.address();
    emit!(TimeoutClaimed { dispute: key, side });
    finish(
        &mut a.dispute,
        &a.config,
        &mut a.batch,
        &mut a.executor_operator,
        &mut a.challenger_operator,
        &a.treasury,
        1 - side,
    )
}
