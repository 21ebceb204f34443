//! An executor's or challenger's bond; the lamports sit in this PDA.
use anchor_lang::prelude::*;

#[account]
pub struct Operator {
    pub owner: Address,
    /// Bonded lamports (excluding rent), including the locked and unbonding parts.
    pub bonded: PodU64,
    /// Part of `bonded` staked in open disputes.
    pub locked: PodU64,
    /// Part of `bonded` requested for withdrawal.
    pub unbonding: PodU64,
    pub unbond_ready_slot: PodU64,
    pub open_disputes: PodU32,
    pub bump: u8,
}
