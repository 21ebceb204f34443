//! Each side commits its trace root, proving its last layer ends at (executor) or away from
//! (challenger) the output digest in the job record.
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::DisputeMove;
use crate::game::{begin_move, enter, running_slot, Move, Phase};
use crate::pure::{merkle, tensor, trace};
use crate::state::*;

#[derive(Accounts)]
pub struct CommitTrace {
    pub signer: Signer,
    #[account(mut, seeds = [seeds::DISPUTE, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes(), dispute.challenger.as_ref()], bump = dispute.bump)]
    pub dispute: Account<Dispute>,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(address = dispute.model @ OptinferError::WrongAccount)]
    pub model: Account<Model>,
}

pub fn commit_trace(
    ctx: &mut Context<CommitTrace>,
    root: [u8; 32],
    layer_count: u32,
    prev_prefix: [u8; 32],
    last_digest: [u8; 32],
    siblings: Vec<[u8; 32]>,
) -> Result<()> {
    // Moves wait while paused; the clocks run in game time, which a pause stops.
    let now = running_slot(&ctx.accounts.config)?;
    let signer = *ctx.accounts.signer.address();
    let key = *ctx.accounts.dispute.address();
    let m = &ctx.accounts.model;
    let name = &m.output_name[..m.output_name_len as usize];
    let out = tensor::tensor_set_digest(core::iter::once((name, &last_digest)));
    let d = &mut ctx.accounts.dispute;
    let side = begin_move(d, &signer, Move::CommitTrace, now)?;
    if layer_count != d.layer_count.get() {
        return Err(OptinferError::LayerCountMismatch.into());
    }
    if side == SIDE_EXECUTOR && out != d.output_digest {
        return Err(OptinferError::OutputMismatch.into());
    }
    if side == SIDE_CHALLENGER && out == d.output_digest {
        return Err(OptinferError::NoDisagreement.into());
    }
    let last = layer_count - 1;
    let p_last = trace::step(&prev_prefix, last, &last_digest);
    if !merkle::verify(
        &root,
        &merkle::leaf_hash(&p_last),
        last as u64,
        layer_count as u64,
        &siblings,
    ) {
        return Err(OptinferError::InvalidProof.into());
    }
    d.trace_root[side as usize] = root;
    d.hi_prefix[side as usize] = p_last;
    if side == SIDE_EXECUTOR {
        enter(d, Phase::ChalTrace);
    } else {
        d.agreed = 0u32.into();
        d.disagree = last.into();
        enter(
            d,
            if last == 0 {
                Phase::LayerReveal
            } else {
                Phase::LayerBisect
            },
        );
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
