//! Anyone: pays an invalidated job's payer the rent refund its Job account holds above its own rent
//! (put there by the resolution when another challenger's game invalidated the job first).
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::JobRentRefunded;
use crate::state::*;

#[derive(Accounts)]
pub struct RefundJobRent {
    #[account(mut, seeds = [seeds::JOB, job.batch.as_ref(), &job.job_index.get().to_le_bytes()], bump = job.bump)]
    pub job: Account<Job>,
    /// The challenger whose open_dispute paid the Job account's rent.
    #[account(mut, address = job.payer @ OptinferError::WrongAccount)]
    pub payer: UncheckedAccount,
}

pub fn refund_job_rent(ctx: &mut Context<RefundJobRent>) -> Result<()> {
    let j = &ctx.accounts.job;
    let mut jv = *j.account();
    let refund = jv.lamports().saturating_sub(job_rent()?);
    if j.invalidated == 0 || refund == 0 {
        return Err(OptinferError::NoRefund.into());
    }
    jv.set_lamports(jv.lamports() - refund);
    let mut pv = *ctx.accounts.payer.account();
    pv.set_lamports(pv.lamports().checked_add(refund).ok_or(OptinferError::Overflow)?);
    emit!(JobRentRefunded {
        batch: j.batch,
        job_index: j.job_index.get(),
        payer: j.payer,
        lamports: refund
    });
    Ok(())
}
