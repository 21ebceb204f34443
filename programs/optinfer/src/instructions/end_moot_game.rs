//! Anyone: ends a game whose job another game, a record fault or a data timeout already invalidated.
//! Nobody is slashed: both stakes are unlocked (the job's executor stake by its last game, unless a won
//! game took it), the counters drop, and the Dispute account closes with its rent to its challenger.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::GameMooted;
use crate::game::phase_of;
use crate::game::Phase;
use crate::state::*;

#[derive(Accounts)]
pub struct EndMootGame {
    #[account(mut, close = challenger, seeds = [seeds::DISPUTE, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes(), dispute.challenger.as_ref()], bump = dispute.bump)]
    pub dispute: Account<Dispute>,
    /// The game's challenger, who paid the Dispute account's rent and gets it back.
    #[account(mut, address = dispute.challenger @ OptinferError::WrongAccount)]
    pub challenger: UncheckedAccount,
    #[account(mut, address = dispute.batch @ OptinferError::WrongAccount)]
    pub batch: Account<Batch>,
    #[account(mut, seeds = [seeds::JOB, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes()], bump = job.bump)]
    pub job: Account<Job>,
    #[account(mut, seeds = [seeds::OPERATOR, dispute.executor.as_ref()], bump = executor_operator.bump)]
    pub executor_operator: Account<Operator>,
    #[account(mut, seeds = [seeds::OPERATOR, dispute.challenger.as_ref()], bump = challenger_operator.bump)]
    pub challenger_operator: Account<Operator>,
}

pub fn end_moot_game(ctx: &mut Context<EndMootGame>) -> Result<()> {
    let a = &mut ctx.accounts;
    if phase_of(&a.dispute)? == Phase::Resolved {
        return Err(OptinferError::DisputeResolved.into());
    }
    if a.job.invalidated == 0 {
        return Err(OptinferError::GameNotMoot.into());
    }
    // The executor's share of the job stake went to the winning game; only the challenger's
    // stake of this game is still locked.
    let co = &mut a.challenger_operator;
    co.locked = PodU64::from(
        co.locked
            .get()
            .checked_sub(a.dispute.challenger_stake.get())
            .ok_or(OptinferError::Overflow)?,
    );
    co.challenger_locked = PodU64::from(
        co.challenger_locked
            .get()
            .checked_sub(a.dispute.challenger_stake.get())
            .ok_or(OptinferError::Overflow)?,
    );
    co.open_disputes = PodU32::from(co.open_disputes.get().saturating_sub(1));
    let eo = &mut a.executor_operator;
    eo.open_disputes = PodU32::from(eo.open_disputes.get().saturating_sub(1));
    let j = &mut a.job;
    j.open_games = PodU32::from(j.open_games.get().saturating_sub(1));
    // A job invalidated by no won game (a data timeout, a record fault) still holds its executor stake:
    // the last moot game on it releases it, since no verdict against the executor took it.
    if j.open_games.get() == 0 && j.executor_stake.get() > 0 {
        let es = j.executor_stake.get();
        j.executor_stake = PodU64::from(0);
        eo.locked = PodU64::from(eo.locked.get().checked_sub(es).ok_or(OptinferError::Overflow)?);
    }
    let b = &mut a.batch;
    b.open_disputes = PodU32::from(b.open_disputes.get().saturating_sub(1));
    emit!(GameMooted {
        dispute: *a.dispute.address(),
        batch_index: b.index.get(),
        job_index: a.dispute.job_index.get(),
        challenger: a.dispute.challenger,
    });
    Ok(())
}
