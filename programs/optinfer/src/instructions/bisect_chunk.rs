//! One half-round of the descent through the disputed tensor's chunk tree, down to one chunk.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::game::{begin_move, emit_move, enter_step, pass_turn, running_slot, Move};
use crate::pure::merkle;
use crate::state::*;

#[derive(Accounts)]
pub struct BisectChunk {
    pub signer: Signer,
    #[account(mut, seeds = [seeds::DISPUTE, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes(), dispute.challenger.as_ref()], bump = dispute.bump)]
    pub dispute: Account<Dispute>,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
}

pub fn bisect_chunk(ctx: &mut Context<BisectChunk>, left: [u8; 32], right: [u8; 32]) -> Result<()> {
    // Moves wait while paused; the clocks run in game time, which a pause stops.
    let now = running_slot(&ctx.accounts.config)?;
    let signer = *ctx.accounts.signer.address();
    let key = *ctx.accounts.dispute.address();
    let d = &mut ctx.accounts.dispute;
    let side = begin_move(d, &signer, Move::BisectChunk, now)?;
    if merkle::node_hash(&left, &right) != d.node[side as usize] {
        return Err(OptinferError::NodeMismatch.into());
    }
    if side == SIDE_EXECUTOR {
        d.pending = [left, right];
        pass_turn(d);
    } else {
        let idx = d.chunk_index.get() * 2;
        // Descend into the first child where the sides differ; the parents differ, so one does.
        if d.pending[0] != left {
            d.node = [d.pending[0], left];
            d.chunk_index = idx.into();
        } else {
            d.node = [d.pending[1], right];
            d.chunk_index = (idx + 1).into();
        }
        let level = d.chunk_level.get() - 1;
        d.chunk_level = level.into();
        if level == 0 {
            enter_step(d);
        } else {
            pass_turn(d);
        }
    }
    emit_move(key, side, d);
    Ok(())
}
