//! Anyone: closes a Job account its games did not invalidate once its batch is final, its rent to the
//! challenger that paid it; an invalidated job's account stays as its verdict record (refund_job_rent
//! pays its payer the rent refund it holds when another challenger invalidated the job).
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::JobClosed;
use crate::state::*;

#[derive(Accounts)]
pub struct CloseJob {
    #[account(mut, close = payer, seeds = [seeds::JOB, job.batch.as_ref(), &job.job_index.get().to_le_bytes()], bump = job.bump)]
    pub job: Account<Job>,
    /// The challenger whose open_dispute paid the Job account's rent; it gets it back.
    #[account(mut, address = job.payer @ OptinferError::WrongAccount)]
    pub payer: UncheckedAccount,
    /// The job's batch: finalized, or already closed (state/batch.rs require_final).
    #[account(address = job.batch @ OptinferError::WrongAccount)]
    pub batch: UncheckedAccount,
}

pub fn close_job(ctx: &mut Context<CloseJob>) -> Result<()> {
    let j = &ctx.accounts.job;
    if j.invalidated != 0 {
        return Err(OptinferError::JobIsVerdict.into());
    }
    // A final batch has no open game; checked anyway, the games share this account's stake.
    if j.open_games.get() != 0 {
        return Err(OptinferError::FinalizeDuringDispute.into());
    }
    // Until the batch is final a game could still open on the job and need this account.
    require_final(ctx.accounts.batch.account())?;
    emit!(JobClosed {
        batch: j.batch,
        job_index: j.job_index.get(),
        payer: j.payer,
        lamports: j.account().lamports()
    });
    Ok(())
}
