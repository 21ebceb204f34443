//! Anyone: ends a dispute whose side to move ran out of clock; the other side wins (refused with
//! GameMoot once another game invalidated the job).
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::TimeoutClaimed;
use crate::game::{finish, require_move, running_slot, Move};
use crate::state::*;

#[derive(Accounts)]
pub struct ClaimTimeout {
    #[account(mut, seeds = [seeds::DISPUTE, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes(), dispute.challenger.as_ref()], bump = dispute.bump)]
    pub dispute: Account<Dispute>,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, address = dispute.batch @ OptinferError::WrongAccount)]
    pub batch: Account<Batch>,
    #[account(mut, seeds = [seeds::OPERATOR, dispute.executor.as_ref()], bump = executor_operator.bump)]
    pub executor_operator: Account<Operator>,
    #[account(mut, seeds = [seeds::OPERATOR, dispute.challenger.as_ref()], bump = challenger_operator.bump)]
    pub challenger_operator: Account<Operator>,
    #[account(mut, seeds = [seeds::VAULT], bump = vault.bump)]
    pub vault: Account<Vault>,
    #[account(mut, seeds = [seeds::JOB, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes()], bump = job.bump)]
    pub job: Account<Job>,
}

pub fn claim_timeout(ctx: &mut Context<ClaimTimeout>) -> Result<()> {
    // Nothing resolves while paused; clocks run in game time, which a pause stops.
    let now = running_slot(&ctx.accounts.config)?;
    let a = &mut ctx.accounts;
    let d = &a.dispute;
    require_move(d, Move::ClaimTimeout)?;
    if a.job.invalidated != 0 {
        return Err(OptinferError::GameMoot.into());
    }
    let side = d.turn;
    if now.saturating_sub(d.last_move_slot.get()) <= d.clock[side as usize].get() {
        return Err(OptinferError::ClockNotExpired.into());
    }
    let key = *d.address();
    emit!(TimeoutClaimed { dispute: key, side });
    a.dispute.by_timeout = 1;
    finish(
        &mut a.dispute,
        &mut a.batch,
        &mut a.executor_operator,
        &mut a.challenger_operator,
        &a.vault,
        &mut a.job,
        1 - side,
        now,
    )
}
