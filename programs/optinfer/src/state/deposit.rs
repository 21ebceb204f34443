//! A user's prepaid balance for jobs: the sequencer draws from it with the user's signed vouchers.
use anchor_lang::prelude::*;

/// One per user, created by its first `deposit` and never closed: `drawn` is the ledger that makes
/// every voucher already redeemed worth nothing, so a closed and re-created account would let the
/// sequencer redeem the user's old vouchers a second time. `withdraw_deposit` empties it instead.
#[account]
pub struct Deposit {
    pub user: Address,
    /// Lamports held for the sequencer to draw (above the account's rent).
    pub balance: PodU64,
    /// Lamports the sequencer has drawn over the account's life: a voucher for `cumulative` pays
    /// `cumulative - drawn` (at most `balance`), so an older voucher pays nothing.
    pub drawn: PodU64,
    /// Game slot from which `withdraw_deposit` pays out; 0 when no withdrawal is pending.
    pub withdraw_ready_slot: PodU64,
    pub bump: u8,
}
