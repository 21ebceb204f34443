//! Challenger: opens its own game on one job of a batch inside its window, proving the job record;
//! any number of challengers may each open one game on the same job.
// Anchor's derive binds #[instruction] arguments in generated code paths that do not all use them.
#![allow(unused_variables)]
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::DisputeOpened;
use crate::game::{free_bond, now_slot, start};
use crate::pure::{merkle, trace};
use crate::state::*;

pub const RECORD_BYTES: usize = 168;

#[derive(Accounts)]
#[instruction(job_index: u32)]
pub struct OpenDispute {
    #[account(mut)]
    pub challenger: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::BATCH, &batch.index.get().to_le_bytes()], bump = batch.bump)]
    pub batch: Account<Batch>,
    #[account(seeds = [seeds::MODEL, model.model_id.as_ref()], bump = model.bump)]
    pub model: Account<Model>,
    #[account(mut, seeds = [seeds::OPERATOR, executor_operator.owner.as_ref()], bump = executor_operator.bump)]
    pub executor_operator: Account<Operator>,
    #[account(mut, seeds = [seeds::OPERATOR, challenger.address().as_ref()], bump = challenger_operator.bump)]
    pub challenger_operator: Account<Operator>,
    #[account(init_if_needed, payer = challenger, seeds = [seeds::JOB, batch.address().as_ref(), &job_index.to_le_bytes()], bump)]
    pub job: Account<Job>,
    #[account(init, payer = challenger, seeds = [seeds::DISPUTE, batch.address().as_ref(), &job_index.to_le_bytes(), challenger.address().as_ref()], bump)]
    pub dispute: Account<Dispute>,
    pub system_program: Program<System>,
}

pub fn open_dispute(
    ctx: &mut Context<OpenDispute>,
    job_index: u32,
    record: [u8; RECORD_BYTES],
    siblings: Vec<[u8; 32]>,
) -> Result<()> {
    let a = &mut ctx.accounts;
    let cfg = &a.config;
    if cfg.paused != 0 {
        return Err(OptinferError::Paused.into());
    }
    let now = now_slot()?;
    let b = &a.batch;
    if b.finalized != 0 {
        return Err(OptinferError::AlreadyFinalized.into());
    }
    if now >= b.commit_slot.get().saturating_add(cfg.challenge_window.get()) {
        return Err(OptinferError::WindowClosed.into());
    }
    if job_index >= b.job_count.get() {
        return Err(OptinferError::JobIndexOutOfRange.into());
    }
    let leaf = merkle::leaf_hash(&record);
    if !merkle::verify(&b.root, &leaf, job_index as u64, b.job_count.get() as u64, &siblings) {
        return Err(OptinferError::InvalidProof.into());
    }
    let mut model_id = [0u8; 32];
    model_id.copy_from_slice(&record[32..64]);
    let executor = Address::new_from_array(record[128..160].try_into().unwrap());
    if model_id != a.model.model_id || a.executor_operator.owner != executor {
        return Err(OptinferError::RecordMismatch.into());
    }
    let challenger = *a.challenger.address();
    if challenger == executor {
        return Err(OptinferError::SelfChallenge.into());
    }
    if a.model.ops_loaded.get() != a.model.layer_count.get() {
        return Err(OptinferError::ModelNotReady.into());
    }

    let co = &mut a.challenger_operator;
    let c_stake = cfg.min_challenger_bond.get();
    if free_bond(co) < c_stake {
        return Err(OptinferError::InsufficientBond.into());
    }
    co.locked = (co.locked.get() + c_stake).into();
    co.open_disputes = (co.open_disputes.get() + 1).into();
    let batch_key = *a.batch.address();
    let j = &mut a.job;
    if j.invalidated != 0 {
        return Err(OptinferError::JobInvalidated.into());
    }
    if j.bump == 0 {
        j.batch = batch_key;
        j.job_index = job_index.into();
        j.bump = ctx.bumps.job;
    }
    j.open_games = (j.open_games.get() + 1).into();
    // One executor stake per job, shared by all its games: each open tops it up to the minimum
    // bond from what is still unlocked (a bad job must stay disputable even if its executor is
    // under-bonded, and a game opened while the bond was locked elsewhere does not fix it at 0).
    let eo = &mut a.executor_operator;
    // Unbonding lamports stay slashable until withdrawn, so the executor's stake ignores them.
    let top_up = core::cmp::min(
        eo.bonded.get().saturating_sub(eo.locked.get()),
        cfg.min_executor_bond.get().saturating_sub(j.executor_stake.get()),
    );
    eo.locked = (eo.locked.get() + top_up).into();
    eo.open_disputes = (eo.open_disputes.get() + 1).into();
    j.executor_stake = (j.executor_stake.get() + top_up).into();
    let e_stake = j.executor_stake.get();
    let b = &mut a.batch;
    b.open_disputes = (b.open_disputes.get() + 1).into();
    let batch_index = b.index.get();
    let model_key = *a.model.address();

    let d = &mut a.dispute;
    d.batch = batch_key;
    d.model = model_key;
    d.executor = executor;
    d.challenger = challenger;
    d.model_id = model_id;
    d.input_digest.copy_from_slice(&record[64..96]);
    d.output_digest.copy_from_slice(&record[96..128]);
    d.agreed_prefix = trace::seed(&model_id, &d.input_digest, &a.model.profile_hash);
    d.executor_stake = e_stake.into();
    d.challenger_stake = c_stake.into();
    let clock = cfg.clock_slots.get();
    d.clock = [clock.into(), clock.into()];
    d.last_move_slot = now.into();
    d.job_index = job_index.into();
    d.layer_count = a.model.layer_count.get().into();
    start(d);
    d.winner = u8::MAX;
    d.bump = ctx.bumps.dispute;
    let dispute_key = *ctx.accounts.dispute.address();
    emit!(DisputeOpened {
        dispute: dispute_key,
        batch_index,
        job_index,
        executor,
        challenger
    });
    Ok(())
}
