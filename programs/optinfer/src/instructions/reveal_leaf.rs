//! Tolerant models: the executor opens its disputed chunk (the leaf the chunk descent ended on) on
//! chain before the one-step, so the one-step never needs bytes only the executor holds.
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::game::{begin_move, emit_move, enter, running_slot, Move, Phase};
use crate::pure::{merkle, tensor};
use crate::state::*;

#[derive(Accounts)]
pub struct RevealLeaf {
    pub signer: Signer,
    #[account(mut, seeds = [seeds::DISPUTE, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes(), dispute.challenger.as_ref()], bump = dispute.bump)]
    pub dispute: Account<Dispute>,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
}

/// `bytes` hash to the executor's disputed leaf; an empty opening stands for the ZERO padding leaf.
pub fn reveal_leaf(ctx: &mut Context<RevealLeaf>, bytes: Vec<u8>) -> Result<()> {
    // Moves wait while paused; the clocks run in game time, which a pause stops.
    let now = running_slot(&ctx.accounts.config)?;
    let signer = *ctx.accounts.signer.address();
    let key = *ctx.accounts.dispute.address();
    let d = &mut ctx.accounts.dispute;
    let side = begin_move(d, &signer, Move::RevealLeaf, now)?;
    let opens = merkle::leaf_hash(&bytes) == d.node[0] || (bytes.is_empty() && d.node[0] == merkle::ZERO);
    if bytes.len() > tensor::CHUNK_BYTES || !opens {
        return Err(OptinferError::NodeMismatch.into());
    }
    d.step_out = [0u8; 256];
    d.step_out[..bytes.len()].copy_from_slice(&bytes);
    d.leaf_len = (bytes.len() as u16).into();
    enter(d, Phase::OneStep);
    emit_move(key, side, d);
    Ok(())
}
