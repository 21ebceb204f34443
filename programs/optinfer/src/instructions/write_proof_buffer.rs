//! Writes one piece of one-step data into the signer's proof buffer at an offset.
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::state::*;

#[derive(Accounts)]
pub struct WriteProofBuffer {
    pub owner: Signer,
    #[account(mut, seeds = [seeds::PROOF, buffer.dispute.as_ref(), owner.address().as_ref()], bump = buffer.bump)]
    pub buffer: Account<ProofBuffer>,
}

pub fn write_proof_buffer(ctx: &mut Context<WriteProofBuffer>, offset: u32, data: Vec<u8>) -> Result<()> {
    let b = &mut ctx.accounts.buffer;
    let start = offset as usize;
    let end = start.checked_add(data.len()).ok_or(OptinferError::BufferOverflow)?;
    if end > PROOF_CAPACITY {
        return Err(OptinferError::BufferOverflow.into());
    }
    b.data[start..end].copy_from_slice(&data);
    if end as u32 > b.len.get() {
        b.len = (end as u32).into();
    }
    Ok(())
}
