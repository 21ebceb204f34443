//! Creates the signer's proof buffer for a dispute (one per dispute and submitter).
use anchor_lang::prelude::*;

use crate::state::*;

#[derive(Accounts)]
pub struct InitProofBuffer {
    #[account(mut)]
    pub owner: Signer,
    #[account(seeds = [seeds::DISPUTE, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes()], bump = dispute.bump)]
    pub dispute: Account<Dispute>,
    #[account(init, payer = owner, seeds = [seeds::PROOF, dispute.address().as_ref(), owner.address().as_ref()], bump)]
    pub buffer: Account<ProofBuffer>,
    pub system_program: Program<System>,
}

pub fn init_proof_buffer(ctx: &mut Context<InitProofBuffer>) -> Result<()> {
    let (dispute, owner) = (*ctx.accounts.dispute.address(), *ctx.accounts.owner.address());
    let b = &mut ctx.accounts.buffer;
    b.dispute = dispute;
    b.owner = owner;
    b.len = 0u32.into();
    b.bump = ctx.bumps.buffer;
    Ok(())
}
