//! Anyone: closes a resolved game's Dispute account once its batch is final, its rent to its challenger.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::DisputeClosed;
use crate::game::{phase_of, Phase};
use crate::state::*;

#[derive(Accounts)]
pub struct CloseDispute {
    #[account(mut, close = challenger, seeds = [seeds::DISPUTE, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes(), dispute.challenger.as_ref()], bump = dispute.bump)]
    pub dispute: Account<Dispute>,
    /// The game's challenger, who paid the Dispute account's rent and gets it back.
    #[account(mut, address = dispute.challenger @ OptinferError::WrongAccount)]
    pub challenger: UncheckedAccount,
    /// The game's batch: finalized, or already closed (state/batch.rs require_final).
    #[account(address = dispute.batch @ OptinferError::WrongAccount)]
    pub batch: UncheckedAccount,
}

pub fn close_dispute(ctx: &mut Context<CloseDispute>) -> Result<()> {
    let d = &ctx.accounts.dispute;
    if phase_of(d)? != Phase::Resolved {
        return Err(OptinferError::DisputeNotResolved.into());
    }
    // Until the batch is final the same challenger could open this game's address again.
    require_final(ctx.accounts.batch.account())?;
    emit!(DisputeClosed {
        dispute: *d.address(),
        challenger: d.challenger,
        job_index: d.job_index.get(),
        winner: d.winner,
        lamports: d.account().lamports()
    });
    Ok(())
}
