//! The treasury vault: a program-owned PDA, rent-exempt from `initialize`, that receives the treasury
//! share of every slash (so no resolution depends on a plain address) and pays the authority out.
use anchor_lang::prelude::*;

#[account]
pub struct Vault {
    pub bump: u8,
}
