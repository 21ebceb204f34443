//! One half-round of the layer bisection: a side reveals its prefix p_mid with its Merkle proof.
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::DisputeMove;
use crate::game::{begin_move, enter, pass_turn, running_slot, Move, Phase};
use crate::pure::merkle;
use crate::state::*;

#[derive(Accounts)]
pub struct BisectLayer {
    pub signer: Signer,
    #[account(mut, seeds = [seeds::DISPUTE, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes(), dispute.challenger.as_ref()], bump = dispute.bump)]
    pub dispute: Account<Dispute>,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
}

pub fn bisect_layer(ctx: &mut Context<BisectLayer>, prefix: [u8; 32], siblings: Vec<[u8; 32]>) -> Result<()> {
    // Moves wait while paused; the clocks run in game time, which a pause stops.
    let now = running_slot(&ctx.accounts.config)?;
    let signer = *ctx.accounts.signer.address();
    let key = *ctx.accounts.dispute.address();
    let d = &mut ctx.accounts.dispute;
    let side = begin_move(d, &signer, Move::BisectLayer, now)?;
    let (lo, hi) = (d.agreed.get(), d.disagree.get());
    let mid = lo + (hi - lo) / 2;
    let n = d.layer_count.get() as u64;
    if !merkle::verify(
        &d.trace_root[side as usize],
        &merkle::leaf_hash(&prefix),
        mid as u64,
        n,
        &siblings,
    ) {
        return Err(OptinferError::InvalidProof.into());
    }
    if side == SIDE_EXECUTOR {
        d.pending[0] = prefix;
        pass_turn(d);
    } else {
        if d.pending[0] == prefix {
            d.agreed = (mid + 1).into();
            d.agreed_prefix = prefix;
        } else {
            d.disagree = mid.into();
            d.hi_prefix = [d.pending[0], prefix];
        }
        if d.agreed.get() == d.disagree.get() {
            enter(d, Phase::LayerReveal);
        } else {
            pass_turn(d);
        }
    }
    emit!(DisputeMove {
        dispute: key,
        side,
        phase: d.phase,
        agreed: d.agreed.get(),
        disagree: d.disagree.get(),
        chunk_level: 0,
        chunk_index: 0
    });
    Ok(())
}
