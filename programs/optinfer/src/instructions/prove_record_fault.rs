//! Anyone, inside a batch's window: proves that a committed job record cannot be disputed because of
//! the sequencer (its executor has no bond, or its model is not registered); the job is invalidated
//! and the sequencer that committed the batch is slashed one fault slash, a bounty to the prover.
// Anchor's derive binds #[instruction] arguments in generated code paths that do not all use them.
#![allow(unused_variables)]
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::{JobInvalidated, RecordFaultProven, Slashed};
use crate::game::{batch_fault_slash, bps_of, running_slot};
use crate::instructions::open_dispute::{check_committed_record, RECORD_BYTES, SIGNATURE_BYTES};
use crate::state::*;

/// The record's executor has no Operator account, or one with nothing bonded.
pub const FAULT_UNBONDED_EXECUTOR: u8 = 0;
/// The record's model has no Model account, or its op table is not fully loaded.
pub const FAULT_UNREGISTERED_MODEL: u8 = 1;

#[derive(Accounts)]
#[instruction(job_index: u32, kind: u8, record: [u8; 168])]
pub struct ProveRecordFault {
    #[account(mut)]
    pub prover: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::BATCH, &batch.index.get().to_le_bytes()], bump = batch.bump)]
    pub batch: Account<Batch>,
    /// The Operator address of the sequencer that committed the batch (its rent payer). It may hold no
    /// account: a sequencer slashed to zero by an earlier fault can close it, and its other faulty
    /// records must still be invalidated (with nothing left to slash).
    #[account(mut, seeds = [seeds::OPERATOR, batch.payer.as_ref()], bump)]
    pub sequencer_operator: UncheckedAccount,
    /// The record's executor's Operator address, which may hold no account.
    #[account(seeds = [seeds::OPERATOR, &record[128..160]], bump)]
    pub executor_operator: UncheckedAccount,
    /// The record's model's Model address, which may hold no account.
    #[account(seeds = [seeds::MODEL, &record[32..64]], bump)]
    pub model: UncheckedAccount,
    #[account(init_if_needed, payer = prover, seeds = [seeds::JOB, batch.address().as_ref(), &job_index.to_le_bytes()], bump)]
    pub job: Account<Job>,
    #[account(mut, seeds = [seeds::VAULT], bump = vault.bump)]
    pub vault: Account<Vault>,
    pub system_program: Program<System>,
}

/// Whether the program holds an account of its own at `view`.
fn exists(view: &AccountView) -> bool {
    view.owned_by(&crate::ID) && !view.is_data_empty()
}

/// Whether the record shows fault `kind`, judged on the accounts at its executor's and model's addresses.
fn shows_fault(kind: u8, commit_slot: u64, executor_operator: &AccountView, model: &AccountView) -> Result<bool> {
    match kind {
        // Unbonded when committed: no Operator, or one whose bond a slash had emptied at least the
        // margin before the commit (a bond emptied later, or just before, by slashes the executor
        // courted, is not the sequencer's doing; games can still open on its records).
        FAULT_UNBONDED_EXECUTOR => {
            if !exists(executor_operator) {
                return Ok(true);
            }
            let op = Account::<Operator>::load(*executor_operator)?;
            // The honest sequencer is given the margin to see a slash (as it is to see an unbond).
            Ok(op.bonded.get() == 0 && op.emptied_slot.get().saturating_add(UNBONDING_MARGIN_SLOTS) <= commit_slot)
        }
        FAULT_UNREGISTERED_MODEL => {
            if !exists(model) {
                return Ok(true);
            }
            let m = Account::<Model>::load(*model)?;
            Ok(m.ops_loaded.get() < m.layer_count.get())
        }
        _ => Err(OptinferError::BadFaultKind.into()),
    }
}

pub fn prove_record_fault(
    ctx: &mut Context<ProveRecordFault>,
    job_index: u32,
    kind: u8,
    record: [u8; RECORD_BYTES],
    signature: [u8; SIGNATURE_BYTES],
    siblings: Vec<BatchSibling>,
) -> Result<()> {
    let a = &mut ctx.accounts;
    let now = running_slot(&a.config)?;
    let b = &a.batch;
    // The same checks open_dispute makes: the record is the one committed at job_index, in the window.
    // As open_dispute: a late answer leaves one clock to prove what it showed.
    check_committed_record(b, now, b.dispute_end(), job_index, &record, &signature, &siblings)?;
    if !shows_fault(
        kind,
        b.commit_slot.get(),
        a.executor_operator.account(),
        a.model.account(),
    )? {
        return Err(OptinferError::NoRecordFault.into());
    }

    let prover = *a.prover.address();
    let batch_key = *a.batch.address();
    let j = &mut a.job;
    if j.invalidated != 0 {
        return Err(OptinferError::JobInvalidated.into());
    }
    if j.bump == 0 {
        j.batch = batch_key;
        j.payer = prover;
        j.job_index = job_index.into();
        j.bump = ctx.bumps.job;
    }
    // Games on the job (only possible on a zero-bond executor's) are moot from here (end_moot_game);
    // their executor stake is 0, since an executor stake never exceeds the executor's bond.
    j.invalidated = 1;
    let payer = j.payer;

    // One fault slash (game::batch_fault_slash): the batch's reserve first, then the bond.
    let sequencer = a.batch.payer;
    // The Operator loads above (shows_fault) were dropped.
    let (bv, sv) = (*a.batch.account(), *a.sequencer_operator.account());
    let slash = batch_fault_slash(&mut a.batch, &bv, &sv, now)?;
    let bounty = bps_of(slash, a.batch.bounty_bps.get());
    let mut rest = slash - bounty;
    let mut pv = *a.prover.account();
    pv.set_lamports(pv.lamports().checked_add(bounty).ok_or(OptinferError::Overflow)?);
    // A Job account another challenger paid (its game on a zero-bond executor's job is now moot)
    // holds its rent refund for refund_job_rent, from the vault's share, as resolve does.
    if payer != prover {
        let refund = core::cmp::min(job_rent()?, rest);
        rest -= refund;
        let mut jv = *a.job.account();
        jv.set_lamports(jv.lamports().checked_add(refund).ok_or(OptinferError::Overflow)?);
    }
    let mut vv = *a.vault.account();
    vv.set_lamports(vv.lamports().checked_add(rest).ok_or(OptinferError::Overflow)?);

    let b = &mut a.batch;
    b.invalidated = (b.invalidated.get() + 1).into();
    let batch_index = b.index.get();
    emit!(Slashed {
        operator: sequencer,
        amount: slash
    });
    emit!(JobInvalidated { batch_index, job_index });
    emit!(RecordFaultProven {
        batch_index,
        job_index,
        kind,
        prover,
        sequencer,
        bounty,
        to_treasury: rest
    });
    Ok(())
}
