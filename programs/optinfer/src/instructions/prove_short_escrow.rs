//! Anyone, while the batch's account exists (before close_batch; in or after its window): proves with one
//! batch tree opening that the batch's fee sum is more than the escrow its sequencer put in
//! (`fee_total`), so claim_fees pays none of its executors. The sequencer is slashed one fault slash
//! (the batch's fault reserve, then its bond), once per batch, a bounty to the prover; then, when its
//! bond (above its own executor stakes and one fault slash, which stays) covers the whole shortfall, that moves into the escrow (every
//! claim then pays). While the batch stays short, a later proof retries the top-up alone (the bond may
//! be free again), and fails with EscrowShortProven when it still cannot pay. No job is invalidated (the results stand, and games on them play on). An executor refused with
//! EscrowShort at claim time proves it then.
// Anchor's derive binds #[instruction] arguments in generated code paths that do not all use them.
#![allow(unused_variables)]
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::{EscrowShortProven, Slashed};
use crate::game::{batch_fault_slash, bps_of, executor_locked, running_slot, take_bond};
use crate::instructions::open_dispute::{record_fee, signed_leaf, RECORD_BYTES, SIGNATURE_BYTES};
use crate::state::*;

#[derive(Accounts)]
pub struct ProveShortEscrow {
    #[account(mut)]
    pub prover: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::BATCH, &batch.index.get().to_le_bytes()], bump = batch.bump)]
    pub batch: Account<Batch>,
    /// The Operator address of the sequencer that committed the batch (its rent payer); it may hold no
    /// account (then nothing is slashed, and the batch is still marked).
    #[account(mut, seeds = [seeds::OPERATOR, batch.payer.as_ref()], bump)]
    pub sequencer_operator: UncheckedAccount,
    #[account(mut, seeds = [seeds::VAULT], bump = vault.bump)]
    pub vault: Account<Vault>,
}

pub fn prove_short_escrow(
    ctx: &mut Context<ProveShortEscrow>,
    job_index: u32,
    record: [u8; RECORD_BYTES],
    signature: [u8; SIGNATURE_BYTES],
    siblings: Vec<BatchSibling>,
) -> Result<()> {
    let a = &mut ctx.accounts;
    let now = running_slot(&a.config)?;
    let b = &a.batch;
    if job_index >= b.job_count.get() {
        return Err(OptinferError::JobIndexOutOfRange.into());
    }
    // Any record of the batch shows the tree's fee sum (the same for every opening of the root). The
    // root and the escrow never change, so the fault stays provable after the window.
    let leaf = signed_leaf(&record, &signature);
    let fee_sum = open_batch_tree(
        &b.root,
        &leaf,
        record_fee(&record),
        job_index as u64,
        b.job_count.get() as u64,
        &siblings,
    )
    .ok_or(OptinferError::InvalidProof)?;
    if fee_sum <= b.fee_total.get() {
        return Err(OptinferError::NoRecordFault.into());
    }
    let first = b.escrow_short == 0;
    let sequencer = b.payer;
    let fee_total = b.fee_total.get();
    // One fault slash first, once per batch: the batch's fault reserve, then the bond. The reserve backs
    // slashes only, so no top-up (which a sybil's inflated record would claim) can empty it before a
    // fault it backs.
    let (bv, sv) = (*a.batch.account(), *a.sequencer_operator.account());
    let slash = if first {
        batch_fault_slash(&mut a.batch, &bv, &sv, now)?
    } else {
        0
    };
    // Then the shortfall moves into the escrow from the sequencer's bond above its own executor stakes and
    // one fault slash, so every claim pays. All or nothing: a partial top-up would pay no one.
    let shortfall = fee_sum - fee_total;
    let topped_up = if sv.owned_by(&crate::ID) && !sv.is_data_empty() {
        // SAFETY: no other reference to the sequencer's Operator data is live (batch_fault_slash's was dropped).
        let mut so = unsafe { Account::<Operator>::load_mut(sv)? };
        // One fault slash stays bonded: the top-up pays out at claim time, so without this floor a sybil's
        // inflated record would carry the whole bond out of reach of the faults of the sequencer's other
        // batches still in their windows (bond escape), as no unbond could.
        let floor = executor_locked(&so).saturating_add(a.config.min_executor_bond.get());
        if shortfall <= so.bonded.get().saturating_sub(floor) {
            take_bond(&mut so, shortfall, now)
        } else {
            0
        }
    } else {
        0
    };
    // A later proof only retries the top-up: the bond may have been locked as the sequencer's own
    // executor stakes (a sybil's games on its records) and be free again. Nothing to do is an error.
    if !first && topped_up == 0 {
        return Err(OptinferError::EscrowShortProven.into());
    }
    if topped_up > 0 {
        let (mut sv, mut bv) = (sv, bv);
        sv.set_lamports(sv.lamports().checked_sub(topped_up).ok_or(OptinferError::Overflow)?);
        bv.set_lamports(bv.lamports().checked_add(topped_up).ok_or(OptinferError::Overflow)?);
        a.batch.fee_total = (fee_total + topped_up).into();
    }
    let bounty = bps_of(slash, a.batch.bounty_bps.get());
    let rest = slash - bounty;
    let mut pv = *a.prover.account();
    pv.set_lamports(pv.lamports().checked_add(bounty).ok_or(OptinferError::Overflow)?);
    let mut vv = *a.vault.account();
    vv.set_lamports(vv.lamports().checked_add(rest).ok_or(OptinferError::Overflow)?);
    let b = &mut a.batch;
    b.escrow_short = 1;
    let batch_index = b.index.get();
    if first {
        emit!(Slashed {
            operator: sequencer,
            amount: slash
        });
    }
    emit!(EscrowShortProven {
        batch_index,
        fee_sum,
        fee_total,
        topped_up,
        prover: *a.prover.address(),
        sequencer,
        bounty,
        to_treasury: rest
    });
    Ok(())
}
