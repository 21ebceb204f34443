//! Anyone: closes a finalized batch's account once its grace has passed (state/batch.rs
//! CLOSE_GRACE_WINDOWS), its rent, what is left of its fee escrow (fees of invalidated or unclaimed
//! jobs) and of its fault reserve to whoever paid them at commit; invalidated jobs keep their Job account. Executors must claim
//! their fees (claim_fees) before then: a closed batch pays nothing.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::BatchClosed;
use crate::game::game_now;
use crate::state::*;

#[derive(Accounts)]
pub struct CloseBatch {
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, close = payer, seeds = [seeds::BATCH, &batch.index.get().to_le_bytes()], bump = batch.bump)]
    pub batch: Account<Batch>,
    /// Who paid the batch's rent at commit; it gets the rent back.
    #[account(mut, address = batch.payer @ OptinferError::WrongAccount)]
    pub payer: UncheckedAccount,
}

pub fn close_batch(ctx: &mut Context<CloseBatch>) -> Result<()> {
    // Game time, which a pause stops: a paused program does not age its batches.
    let now = game_now(&ctx.accounts.config)?;
    let b = &ctx.accounts.batch;
    if b.finalized == 0 {
        return Err(OptinferError::BatchNotFinalized.into());
    }
    let window = b.challenge_window.get();
    let grace = window.saturating_mul(CLOSE_GRACE_WINDOWS);
    // The grace runs from finalization: a batch finalized late (a game held to the end of its clock)
    // still leaves its executors a whole window to claim.
    let closes_at =
        core::cmp::max(b.commit_slot.get().saturating_add(window), b.finalized_slot.get()).saturating_add(grace);
    if now < closes_at {
        msg!("batch {} closes at game slot {}, now {}", b.index.get(), closes_at, now);
        return Err(OptinferError::CloseGraceNotOver.into());
    }
    emit!(BatchClosed {
        index: b.index.get(),
        payer: b.payer,
        lamports: b.account().lamports(),
        invalidated: b.invalidated.get()
    });
    Ok(())
}
