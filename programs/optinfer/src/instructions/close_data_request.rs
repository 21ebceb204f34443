//! Anyone, once the batch is final: closes an answered data request, its rent to the requester, and the
//! answer's frozen proof buffer, its rent to the answerer.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::DataRequestClosed;
use crate::state::*;

#[derive(Accounts)]
pub struct CloseDataRequest {
    #[account(mut, close = requester, seeds = [seeds::DATA, request.batch.as_ref(), &request.job_index.get().to_le_bytes()], bump = request.bump)]
    pub request: Account<DataRequest>,
    /// The request's batch address: a finalized Batch, or no account once close_batch closed it.
    #[account(address = request.batch @ OptinferError::WrongAccount)]
    pub batch: UncheckedAccount,
    #[account(mut, address = request.requester @ OptinferError::WrongAccount)]
    pub requester: UncheckedAccount,
    #[account(mut, close = answerer, seeds = [seeds::PROOF, request.address().as_ref(), request.answerer.as_ref()], bump = buffer.bump)]
    pub buffer: ProofBufferAccount,
    #[account(mut, address = request.answerer @ OptinferError::WrongAccount)]
    pub answerer: UncheckedAccount,
}

pub fn close_data_request(ctx: &mut Context<CloseDataRequest>) -> Result<()> {
    let a = &ctx.accounts;
    // An unanswered request holds its batch open, so a final batch has none; the check stays for clarity.
    if a.request.answered == 0 {
        return Err(OptinferError::DataRequestOpen.into());
    }
    require_final(a.batch.account())?;
    emit!(DataRequestClosed {
        batch: a.request.batch,
        job_index: a.request.job_index.get(),
        requester: a.request.requester,
        answerer: a.request.answerer
    });
    Ok(())
}
