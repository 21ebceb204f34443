//! Creates the signer's proof buffer for answering a data request (["proof", request, signer]), which
//! write_proof_buffer then fills with the job's posted input set.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::state::*;

#[derive(Accounts)]
pub struct InitDataBuffer {
    #[account(mut)]
    pub owner: Signer,
    #[account(seeds = [seeds::DATA, request.batch.as_ref(), &request.job_index.get().to_le_bytes()], bump = request.bump)]
    pub request: Account<DataRequest>,
    #[account(
        init,
        payer = owner,
        space = ProofBufferAccount::space_for(PROOF_INIT_CAPACITY),
        seeds = [seeds::PROOF, request.address().as_ref(), owner.address().as_ref()],
        bump
    )]
    pub buffer: ProofBufferAccount,
    pub system_program: Program<System>,
}

pub fn init_data_buffer(ctx: &mut Context<InitDataBuffer>) -> Result<()> {
    if ctx.accounts.request.answered != 0 {
        return Err(OptinferError::DataRequestAnswered.into());
    }
    let (request, owner) = (*ctx.accounts.request.address(), *ctx.accounts.owner.address());
    let b = &mut ctx.accounts.buffer;
    b.dispute = request;
    b.owner = owner;
    b.bump = ctx.bumps.buffer;
    Ok(())
}
