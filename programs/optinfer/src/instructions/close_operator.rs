//! The operator: closes its Operator account after a full withdrawal (nothing bonded, locked or
//! unbonding, no open game), its rent to the owner; bond creates it again.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::OperatorClosed;
use crate::state::*;

#[derive(Accounts)]
pub struct CloseOperator {
    #[account(mut)]
    pub owner: Signer,
    #[account(mut, close = owner, seeds = [seeds::OPERATOR, owner.address().as_ref()], bump = operator.bump)]
    pub operator: Account<Operator>,
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
    emit!(OperatorClosed {
        owner: op.owner,
        lamports: op.account().lamports()
    });
    Ok(())
}
