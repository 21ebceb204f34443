//! Writes one piece of one-step data into the signer's proof buffer: over bytes already written,
//! or appended at the end (optionally growing the account first, the signer paying the rent).
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::state::*;

#[derive(Accounts)]
pub struct WriteProofBuffer {
    #[account(mut)]
    pub owner: Signer,
    #[account(mut, seeds = [seeds::PROOF, buffer.dispute.as_ref(), owner.address().as_ref()], bump = buffer.bump)]
    pub buffer: ProofBufferAccount,
    pub system_program: Program<System>,
}

/// `grow` extra bytes of capacity (at most 10 KiB) are added before writing.
pub fn write_proof_buffer(ctx: &mut Context<WriteProofBuffer>, offset: u32, grow: u32, data: Vec<u8>) -> Result<()> {
    let b = &mut ctx.accounts.buffer;
    // An answered data request's buffer (answer_data) belongs to the request from then on.
    if b.owner != *ctx.accounts.owner.address() {
        return Err(OptinferError::BufferFrozen.into());
    }
    if grow > 0 {
        if grow > PROOF_MAX_GROWTH {
            return Err(OptinferError::BufferOverflow.into());
        }
        let cap = (b.capacity() as u32)
            .checked_add(grow)
            .ok_or(OptinferError::BufferOverflow)?;
        b.resize_to_capacity(cap)?;
        b.top_up(ctx.accounts.owner.account())?;
    }
    let start = offset as usize;
    let end = start.checked_add(data.len()).ok_or(OptinferError::BufferOverflow)?;
    let len = b.len();
    if start > len || end > b.capacity() {
        return Err(OptinferError::BufferOverflow.into());
    }
    let keep = core::cmp::min(end, len);
    b.as_mut_slice()[start..keep].copy_from_slice(&data[..keep - start]);
    for &x in &data[keep - start..] {
        b.try_push(x)?;
    }
    Ok(())
}
