//! Sequencer-only: commits the next batch root with its job count, and the window it keeps, escrowing
//! its records' fees (`fee_total`) in the batch account for claim_fees and moving in the batch's fault
//! reserve (one fault slash, `min_executor_bond`) from its wallet; refused unless the sequencer's own
//! free bond also covers one fault slash (for faults past the reserve).
// Anchor's derive binds #[instruction] arguments in generated code paths that do not all use them.
#![allow(unused_variables)]
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::BatchCommitted;
use crate::game::{free_bond, running_slot, transfer_in};
use crate::state::{batch_space, late_dispute_slots, seeds, Batch, Config, Operator};

/// The most jobs a batch may hold: open_dispute on its deepest job (10 batch tree siblings of 40 bytes,
/// the record, the signature, the Job account and the Ed25519 instruction) still fits 1232 bytes
/// (docs/PROGRAM.md "Transaction sizes").
pub const MAX_BATCH_JOBS: u32 = 1 << 10;

#[derive(Accounts)]
#[instruction(index: u64, root: [u8; 32], job_count: u32)]
pub struct CommitBatch {
    #[account(mut)]
    pub sequencer: Signer,
    #[account(mut, seeds = [seeds::CONFIG], bump = config.bump,
        constraint = config.sequencer == *sequencer.address() @ OptinferError::NotSequencer)]
    pub config: Account<Config>,
    /// Sized for its claim bitmap (state/batch.rs batch_space); holds the fee escrow on top of its rent.
    #[account(init, payer = sequencer, space = batch_space(job_count), seeds = [seeds::BATCH, &index.to_le_bytes()], bump)]
    pub batch: Account<Batch>,
    /// The sequencer's Operator account (bond creates it): its free bond must cover the fault slash,
    /// the config's min_executor_bond, which the batch snapshots as `executor_stake`.
    #[account(seeds = [seeds::OPERATOR, sequencer.address().as_ref()], bump)]
    pub sequencer_operator: UncheckedAccount,
    pub system_program: Program<System>,
}

/// `fee_total`: the sum of the batch's record fees (the batch tree's fee sum), moved from the sequencer
/// into the batch account. An escrow short of the tree's sum pays no executor of the batch (claim_fees
/// refuses, EscrowShort) until prove_short_escrow tops it up from the fault reserve (when that covers
/// it) and slashes the sequencer.
pub fn commit_batch(
    ctx: &mut Context<CommitBatch>,
    index: u64,
    root: [u8; 32],
    job_count: u32,
    fee_total: u64,
) -> Result<()> {
    let slot = running_slot(&ctx.accounts.config)?;
    let c = &mut ctx.accounts.config;
    if index != c.next_batch_index.get() {
        return Err(OptinferError::BadBatchIndex.into());
    }
    if job_count == 0 {
        return Err(OptinferError::EmptyBatch.into());
    }
    if job_count > MAX_BATCH_JOBS {
        return Err(OptinferError::BatchTooLarge.into());
    }
    // Every record of the batch is the sequencer's liability (prove_record_fault slashes it): no
    // batch is committed with less than one fault slash free in its bond.
    let view = ctx.accounts.sequencer_operator.account();
    let free = if view.owned_by(&crate::ID) && !view.is_data_empty() {
        free_bond(&*Account::<Operator>::load(*view)?)
    } else {
        0
    };
    if free < c.min_executor_bond.get() {
        msg!(
            "sequencer free bond {}, one fault slash (min_executor_bond) {}",
            free,
            c.min_executor_bond.get()
        );
        return Err(OptinferError::SequencerUnbonded.into());
    }
    c.next_batch_index = (index + 1).into();
    // After a raise of the window or clock, unbonds requested under the shorter span wait for this batch.
    c.hold_withdrawals(slot)?;
    let window = c.challenge_window;
    let clock = c.clock_slots;
    let stake = c.min_executor_bond;
    // The last slot a dispute on this batch can open before, under its own window and clock.
    let end = slot
        .checked_add(window.get())
        .and_then(|e| e.checked_add(late_dispute_slots(clock.get())))
        .ok_or(OptinferError::Overflow)?;
    if end > c.latest_dispute_end.get() {
        c.latest_dispute_end = end.into();
    }
    let payer = *ctx.accounts.sequencer.address();
    let b = &mut ctx.accounts.batch;
    b.root = root;
    b.payer = payer;
    b.index = index.into();
    b.job_count = job_count.into();
    b.commit_slot = slot.into();
    b.challenge_window = window;
    b.dispute_clock = clock;
    b.executor_stake = stake;
    b.bounty_bps = c.bounty_bps;
    b.fee_total = fee_total.into();
    b.fault_reserve = stake;
    b.bump = ctx.bumps.batch;
    // The fee escrow and the batch's fault reserve, both from the sequencer's wallet: the reserve is
    // this batch's alone, so no other batch's faults, no executor stake and no unbond can reach it.
    let moved = fee_total.checked_add(stake.get()).ok_or(OptinferError::Overflow)?;
    if moved > 0 {
        transfer_in(ctx.accounts.sequencer.account(), ctx.accounts.batch.account(), moved)?;
    }
    emit!(BatchCommitted {
        index,
        root,
        job_count,
        slot,
        fee_total,
        fault_reserve: stake.get()
    });
    Ok(())
}
