//! Authority-only: pays `amount` of the vault's lamports above its rent-exempt minimum to the
//! configured treasury address.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::TreasuryWithdrawn;
use crate::state::{seeds, Config, Vault};

#[derive(Accounts)]
pub struct WithdrawTreasury {
    pub authority: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump,
        constraint = config.authority == *authority.address() @ OptinferError::NotAuthority)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::VAULT], bump = vault.bump)]
    pub vault: Account<Vault>,
    #[account(mut, address = config.treasury @ OptinferError::WrongAccount)]
    pub treasury: UncheckedAccount,
}

pub fn withdraw_treasury(ctx: &mut Context<WithdrawTreasury>, amount: u64) -> Result<()> {
    if amount == 0 {
        return Err(OptinferError::ZeroAmount.into());
    }
    let mut from = *ctx.accounts.vault.account();
    let mut to = *ctx.accounts.treasury.account();
    let rent = anchor_lang::cpi::rent_exempt_lamports(from.data_len())?;
    let available = from.lamports().saturating_sub(rent);
    if amount > available {
        msg!("the vault holds {} above its rent-exempt minimum", available);
        return Err(OptinferError::VaultInsufficient.into());
    }
    from.set_lamports(from.lamports() - amount);
    to.set_lamports(to.lamports().checked_add(amount).ok_or(OptinferError::Overflow)?);
    emit!(TreasuryWithdrawn {
        to: *to.address(),
        amount
    });
    Ok(())
}
