//! Each side opens its digest of the first disputed layer into tensor header and chunk root.
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::game::{begin_move, emit_move, enter, enter_step, pass_turn, running_slot, Move, Phase};
use crate::pure::{merkle, tensor, trace};
use crate::state::*;

#[derive(Accounts)]
pub struct RevealLayer {
    pub signer: Signer,
    #[account(mut, seeds = [seeds::DISPUTE, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes(), dispute.challenger.as_ref()], bump = dispute.bump)]
    pub dispute: Account<Dispute>,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
}

pub fn reveal_layer(ctx: &mut Context<RevealLayer>, header: Vec<u8>, chunk_root: [u8; 32]) -> Result<()> {
    // Moves wait while paused; the clocks run in game time, which a pause stops.
    let now = running_slot(&ctx.accounts.config)?;
    let signer = *ctx.accounts.signer.address();
    let key = *ctx.accounts.dispute.address();
    let d = &mut ctx.accounts.dispute;
    let side = begin_move(d, &signer, Move::RevealLayer, now)?;
    let (h, used) = tensor::Header::parse(&header).ok_or(OptinferError::BadHeader)?;
    if used != header.len() || h.chunk_count().is_none() {
        return Err(OptinferError::BadHeader.into());
    }
    let digest = tensor::digest_from_root(&h, &chunk_root);
    if trace::step(&d.agreed_prefix, d.disagree.get(), &digest) != d.hi_prefix[side as usize] {
        return Err(OptinferError::PrefixMismatch.into());
    }
    d.header[side as usize] = h.pack();
    d.chunk_root[side as usize] = chunk_root;
    if side == SIDE_EXECUTOR {
        pass_turn(d);
    } else {
        d.node = d.chunk_root;
        d.chunk_index = 0u32.into();
        if d.header[0] != d.header[1] {
            // Different dtype or dims: the one-step decides on the header alone.
            d.chunk_index = CHUNK_HEADER.into();
            d.chunk_level = 0u32.into();
            enter_step(d);
        } else {
            let depth = merkle::depth_for(h.chunk_count().unwrap());
            d.chunk_level = depth.into();
            if depth == 0 {
                enter_step(d);
            } else {
                enter(d, Phase::ChunkBisect);
            }
        }
    }
    emit_move(key, side, d);
    Ok(())
}
