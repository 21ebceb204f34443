//! Closes the signer's proof buffer and returns its rent to the signer.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::state::*;

#[derive(Accounts)]
pub struct CloseProofBuffer {
    #[account(mut)]
    pub owner: Signer,
    #[account(mut, close = owner, seeds = [seeds::PROOF, buffer.dispute.as_ref(), owner.address().as_ref()], bump = buffer.bump)]
    pub buffer: ProofBufferAccount,
}

pub fn close_proof_buffer(ctx: &mut Context<CloseProofBuffer>) -> Result<()> {
    // An answered data request's buffer stays until close_data_request (after the batch is final).
    if ctx.accounts.buffer.owner != *ctx.accounts.owner.address() {
        return Err(OptinferError::BufferFrozen.into());
    }
    Ok(())
}
