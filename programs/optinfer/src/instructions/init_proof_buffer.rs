//! Creates the signer's proof buffer for a dispute (one per dispute and submitter).
use anchor_lang::prelude::*;

use crate::state::*;

#[derive(Accounts)]
pub struct InitProofBuffer {
    #[account(mut)]
    pub owner: Signer,
    #[account(seeds = [seeds::DISPUTE, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes(), dispute.challenger.as_ref()], bump = dispute.bump)]
    pub dispute: Account<Dispute>,
    #[account(
        init,
        payer = owner,
        space = ProofBufferAccount::space_for(PROOF_INIT_CAPACITY),
        seeds = [seeds::PROOF, dispute.address().as_ref(), owner.address().as_ref()],
        bump
    )]
    pub buffer: ProofBufferAccount,
    pub system_program: Program<System>,
}

pub fn init_proof_buffer(ctx: &mut Context<InitProofBuffer>) -> Result<()> {
    let (dispute, owner) = (*ctx.accounts.dispute.address(), *ctx.accounts.owner.address());
    let b = &mut ctx.accounts.buffer;
    b.dispute = dispute;
    b.owner = owner;
    b.bump = ctx.bumps.buffer;
    Ok(())
}
