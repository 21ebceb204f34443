//! Anyone: finalizes a batch after its window (the one it was committed with, in game slots) when no
//! dispute or data request on it is open and the program is not paused.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::BatchFinalized;
use crate::game::running_slot;
use crate::state::{seeds, Batch, Config};

#[derive(Accounts)]
pub struct FinalizeBatch {
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::BATCH, &batch.index.get().to_le_bytes()], bump = batch.bump)]
    pub batch: Account<Batch>,
}

pub fn finalize_batch(ctx: &mut Context<FinalizeBatch>) -> Result<()> {
    // Nothing finalizes while paused, and the window runs in game time, which a pause stops.
    let now = running_slot(&ctx.accounts.config)?;
    let b = &mut ctx.accounts.batch;
    if b.finalized != 0 {
        return Err(OptinferError::AlreadyFinalized.into());
    }
    if b.open_disputes.get() > 0 {
        return Err(OptinferError::FinalizeDuringDispute.into());
    }
    if b.open_requests.get() > 0 {
        return Err(OptinferError::DataRequestOpen.into());
    }
    // The window, or one clock after a late answer (Batch::disputable_until).
    if now < b.dispute_end() {
        return Err(OptinferError::WindowOpen.into());
    }
    b.finalized = 1;
    b.finalized_slot = now.into();
    emit!(BatchFinalized {
        index: b.index.get(),
        invalidated: b.invalidated.get()
    });
    Ok(())
}
