//! An executor's or challenger's bond; the lamports sit in this PDA.
use anchor_lang::prelude::*;

#[account]
pub struct Operator {
    pub owner: Address,
    /// Bonded lamports (excluding rent), including the locked and unbonding parts.
    pub bonded: PodU64,
    /// Part of `bonded` staked in open disputes, as executor and as challenger. The executor part
    /// (`locked - challenger_locked`) never exceeds `bonded`; the two together may, since executor
    /// stakes are taken ignoring the operator's own challenger stakes (game.rs `executor_locked`).
    pub locked: PodU64,
    /// Part of `locked` staked as challenger in the operator's own open games.
    pub challenger_locked: PodU64,
    /// Part of `bonded` requested for withdrawal.
    pub unbonding: PodU64,
    pub unbond_ready_slot: PodU64,
    /// Lamports won as bounties in dispute games over the account's life (its earnings as a winner).
    pub bounties_earned: PodU64,
    /// Fees claimed for valid jobs over the account's life (its earnings as an executor).
    pub fees_earned: PodU64,
    /// Lamports lost to slashes over the account's life: stakes of lost games and record faults.
    pub slashed: PodU64,
    /// Game slot at which a slash last took `bonded` to 0. A record committed before it was bonded
    /// then, so its executor's empty bond is no fault of the sequencer's. (A withdrawal to 0 needs
    /// no mark: it pays only after every window holding the operator's records closed.)
    pub emptied_slot: PodU64,
    pub open_disputes: PodU32,
    pub bump: u8,
}
