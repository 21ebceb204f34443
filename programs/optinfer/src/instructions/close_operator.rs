//! The operator: closes its Operator account after a full withdrawal (nothing bonded, locked or
//! unbonding, no open game), its rent to the owner; bond creates it again.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::OperatorClosed;
use crate::game::game_now;
use crate::state::*;

#[derive(Accounts)]
pub struct CloseOperator {
    #[account(mut)]
    pub owner: Signer,
    #[account(mut, close = owner, seeds = [seeds::OPERATOR, owner.address().as_ref()], bump = operator.bump)]
    pub operator: Account<Operator>,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
}

pub fn close_operator(ctx: &mut Context<CloseOperator>) -> Result<()> {
    let op = &ctx.accounts.operator;
    if op.bonded.get() != 0
        || op.locked.get() != 0
        || op.challenger_locked.get() != 0
        || op.unbonding.get() != 0
        || op.open_disputes.get() != 0
    {
        msg!(
            "bonded {}, locked {}, unbonding {}, open games {}",
            op.bonded.get(),
            op.locked.get(),
            op.unbonding.get(),
            op.open_disputes.get()
        );
        return Err(OptinferError::OperatorNotEmpty.into());
    }
    // A bond a slash emptied keeps its account while records committed before the slash may still be
    // disputed: without the account they would read as records of a key that never bonded (kind-0
    // faults against the sequencer that committed them while it was bonded), and a late answer's
    // dispute must still find the executor's account. Those batches stop being disputable by the
    // slash plus the longest window and its late disputes, or by the latest last dispute end of any
    // committed batch (Config.latest_dispute_end, fixed by each batch's own window and clock).
    let emptied = op.emptied_slot.get();
    if emptied != 0 {
        let now = game_now(&ctx.accounts.config)?;
        let by_slash = emptied
            .saturating_add(MAX_DURATION_SLOTS + late_dispute_slots(MAX_DURATION_SLOTS) + UNBONDING_MARGIN_SLOTS);
        let by_windows = ctx
            .accounts
            .config
            .latest_dispute_end
            .get()
            .saturating_add(UNBONDING_MARGIN_SLOTS);
        // And never inside the margin after the slash: the sequencer may still commit records the
        // executor signed before it (they are no faults then), which a missing account would turn
        // into kind-0 faults against it (review 23: slash then close).
        let by_margin = emptied.saturating_add(UNBONDING_MARGIN_SLOTS);
        let ready = core::cmp::max(by_margin, core::cmp::min(by_slash, by_windows));
        if now < ready {
            msg!(
                "slashed to 0 at game slot {}: closable from {}, now {}",
                emptied,
                ready,
                now
            );
            return Err(OptinferError::OperatorRecentlySlashed.into());
        }
    }
    emit!(OperatorClosed {
        owner: op.owner,
        lamports: op.account().lamports()
    });
    Ok(())
}
