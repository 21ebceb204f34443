//! Each side opens its digest of the first disputed layer into tensor header and chunk root.
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::DisputeMove;
use crate::game::{begin_move, now_slot};
use crate::pure::{merkle, tensor, trace};
use crate::state::*;

#[derive(Accounts)]
pub struct RevealLayer {
    pub signer: Signer,
    #[account(mut, seeds = [seeds::DISPUTE, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes()], bump = dispute.bump)]
    pub dispute: Account<Dispute>,
}

pub fn pack_header(h: &tensor::Header) -> [u8; 26] {
    let mut out = [0u8; 26];
    out[0] = h.dtype;
    out[1] = h.rank;
    for (i, d) in h.dims.iter().enumerate() {
        out[2 + 4 * i..6 + 4 * i].copy_from_slice(&d.to_le_bytes());
    }
    out
}

pub fn unpack_header(b: &[u8; 26]) -> tensor::Header {
    let mut h = tensor::Header {
        dtype: b[0],
        rank: b[1],
        dims: [0; tensor::MAX_RANK],
    };
    for i in 0..tensor::MAX_RANK {
        h.dims[i] = u32::from_le_bytes([b[2 + 4 * i], b[3 + 4 * i], b[4 + 4 * i], b[5 + 4 * i]]);
    }
    h
}

pub fn reveal_layer(ctx: &mut Context<RevealLayer>, header: Vec<u8>, chunk_root: [u8; 32]) -> Result<()> {
    let now = now_slot()?;
    let signer = *ctx.accounts.signer.address();
    let key = *ctx.accounts.dispute.address();
    let d = &mut ctx.accounts.dispute;
    let side = begin_move(d, &signer, PHASE_LAYER_REVEAL, now)?;
    let (h, used) = tensor::Header::parse(&header).ok_or(OptinferError::BadHeader)?;
    if used != header.len() || h.chunk_count().is_none() {
        return Err(OptinferError::BadHeader.into());
    }
    let digest = tensor::digest_from_root(&h, &chunk_root);
    if trace::step(&d.agreed_prefix, d.disagree.get(), &digest) != d.hi_prefix[side as usize] {
        return Err(OptinferError::PrefixMismatch.into());
    }
    d.header[side as usize] = pack_header(&h);
    d.chunk_root[side as usize] = chunk_root;
    if side == SIDE_EXECUTOR {
        d.turn = SIDE_CHALLENGER;
    } else {
        d.node = d.chunk_root;
        d.chunk_index = 0u32.into();
        if d.header[0] != d.header[1] {
            // Different dtype or dims: the one-step decides on the header alone.
            d.chunk_index = CHUNK_HEADER.into();
            d.chunk_level = 0u32.into();
            d.phase = PHASE_ONE_STEP;
            d.turn = SIDE_CHALLENGER;
        } else {
            let depth = merkle::depth_for(h.chunk_count().unwrap());
            d.chunk_level = depth.into();
            if depth == 0 {
                d.phase = PHASE_ONE_STEP;
                d.turn = SIDE_CHALLENGER;
            } else {
                d.phase = PHASE_CHUNK_BISECT;
                d.turn = SIDE_EXECUTOR;
            }
        }
    }
    emit!(DisputeMove {
        dispute: key,
        side,
        phase: d.phase,
        agreed: d.agreed.get(),
        disagree: d.disagree.get(),
        chunk_level: d.chunk_level.get(),
        chunk_index: d.chunk_index.get()
    });
    Ok(())
}
