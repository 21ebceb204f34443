//! Anyone, inside a batch's window: demands that job `job_index`'s record and inputs be posted on chain
//! within the answer time (state/data_request.rs), paying the request account's rent and the deposit;
//! the batch cannot finalize until the request is answered or its timeout claimed.
//! The job's Job account is created here if no game created it, the requester paying its rent.
// Anchor's derive binds #[instruction] arguments in generated code paths that do not all use them.
#![allow(unused_variables)]
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::DataRequested;
use crate::game::{running_slot, transfer_in};
use crate::state::*;

#[derive(Accounts)]
#[instruction(job_index: u32)]
pub struct RequestData {
    #[account(mut)]
    pub requester: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::BATCH, &batch.index.get().to_le_bytes()], bump = batch.bump)]
    pub batch: Account<Batch>,
    /// The job's Job account, created here if no game made it (the requester paying its rent, which
    /// close_job returns once the batch is final, or which stays as the verdict if the request times
    /// out): claim_data_timeout then needs no payer, so anyone can claim it. A request on an invalidated
    /// job is refused.
    #[account(init_if_needed, payer = requester, seeds = [seeds::JOB, batch.address().as_ref(), &job_index.to_le_bytes()], bump)]
    pub job: Account<Job>,
    #[account(init, payer = requester, seeds = [seeds::DATA, batch.address().as_ref(), &job_index.to_le_bytes()], bump)]
    pub request: Account<DataRequest>,
    pub system_program: Program<System>,
}

pub fn request_data(ctx: &mut Context<RequestData>, job_index: u32) -> Result<()> {
    let a = &mut ctx.accounts;
    let now = running_slot(&a.config)?;
    let b = &a.batch;
    if b.finalized != 0 {
        return Err(OptinferError::AlreadyFinalized.into());
    }
    if now >= b.window_end() {
        return Err(OptinferError::WindowClosed.into());
    }
    if job_index >= b.job_count.get() {
        return Err(OptinferError::JobIndexOutOfRange.into());
    }
    let batch_key = *a.batch.address();
    let requester = *a.requester.address();
    let j = &mut a.job;
    if j.invalidated != 0 {
        return Err(OptinferError::JobInvalidated.into());
    }
    if j.bump == 0 {
        j.batch = batch_key;
        j.payer = requester;
        j.job_index = job_index.into();
        j.bump = ctx.bumps.job;
    }
    transfer_in(a.requester.account(), a.request.account(), DATA_REQUEST_DEPOSIT)?;
    // The batch's own clock, not the one in force: a later update_config cannot move the deadline
    // past what the batch's executors and sequencer stay bonded for (Config.latest_dispute_end).
    let deadline = now.saturating_add(core::cmp::max(a.batch.dispute_clock.get(), DATA_ANSWER_SLOTS));
    let r = &mut a.request;
    r.batch = batch_key;
    r.requester = requester;
    r.deadline = deadline.into();
    r.job_index = job_index.into();
    r.bump = ctx.bumps.request;
    let b = &mut a.batch;
    b.open_requests = (b.open_requests.get() + 1).into();
    emit!(DataRequested {
        batch_index: b.index.get(),
        job_index,
        requester,
        deadline
    });
    Ok(())
}
