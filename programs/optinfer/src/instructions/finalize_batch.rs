//! Anyone: finalizes a batch after its window when no dispute on it is open.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::BatchFinalized;
use crate::game::now_slot;
use crate::state::{seeds, Batch, Config};

#[derive(Accounts)]
pub struct FinalizeBatch {
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::BATCH, &batch.index.get().to_le_bytes()], bump = batch.bump)]
    pub batch: Account<Batch>,
}

pub fn finalize_batch(ctx: &mut Context<FinalizeBatch>) -> Result<()> {
    let window = ctx.accounts.config.challenge_window.get();
    let now = now_slot()?;
    let b = &mut ctx.accounts.batch;
    if b.finalized != 0 {
        return Err(OptinferError::AlreadyFinalized.into());
    }
    if b.open_disputes.get() > 0 {
        return Err(OptinferError::FinalizeDuringDispute.into());
    }
    if now < b.commit_slot.get().saturating_add(window) {
        return Err(OptinferError::WindowOpen.into());
    }
    b.finalized = 1;
    emit!(BatchFinalized {
        index: b.index.get(),
        invalidated: b.invalidated.get()
    });
    Ok(())
}
