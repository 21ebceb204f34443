//! Challenger: opens its own game on one job of a batch inside its window, proving the job record and
//! the executor's Ed25519 signature over it (checked by the Ed25519 program, found by introspection);
//! any number of challengers may each open one game on the same job.
// Anchor's derive binds #[instruction] arguments in generated code paths that do not all use them.
#![allow(unused_variables)]
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::DisputeOpened;
use crate::game::{executor_locked, free_bond, running_slot, start};
use crate::pure::hash::{hashv, Hash32, TAG_LEAF};
use crate::pure::trace;
use crate::state::*;

pub const RECORD_BYTES: usize = 168;
pub const SIGNATURE_BYTES: usize = 64;
/// Domain of the executor's result signature (docs/PROTOCOL.md "Result signature"): 0xff then ASCII,
/// so the signed digest's preimage is neither a protocol hash input (tags below 0x10) nor a Solana message.
pub const RESULT_DOMAIN: &[u8; 16] = b"\xffoptinfer result";
/// Ed25519SigVerify111111111111111111111111111, the native signature-check program.
pub const ED25519_PROGRAM_ID: Address = Address::new_from_array([
    3, 125, 70, 214, 124, 147, 251, 190, 18, 249, 66, 143, 131, 141, 64, 255, 5, 112, 116, 73, 39, 244, 138, 100, 252,
    202, 112, 68, 128, 0, 0, 0,
]);
/// Where this instruction's data holds the executor key and the signature: after the one-byte
/// discriminator and `job_index: u32` come the record, then the signature.
pub const DATA_RECORD_OFFSET: usize = 1 + 4;
pub const DATA_PUBKEY_OFFSET: usize = DATA_RECORD_OFFSET + 128;
pub const DATA_SIGNATURE_OFFSET: usize = DATA_RECORD_OFFSET + RECORD_BYTES;
/// The one Ed25519 instruction open_dispute accepts: one signature, offsets, then the 32-byte digest.
pub const ED25519_DATA_BYTES: usize = 2 + 14 + 32;
const ED25519_DIGEST_OFFSET: usize = 16;

/// What the executor signs: H(RESULT_DOMAIN || record).
pub fn result_digest(record: &[u8; RECORD_BYTES]) -> Hash32 {
    hashv(&[RESULT_DOMAIN, record])
}

/// The job's leaf commits to the record and the executor's signature: H(0x00 || record || signature).
pub fn signed_leaf(record: &[u8; RECORD_BYTES], signature: &[u8; SIGNATURE_BYTES]) -> Hash32 {
    hashv(&[&[TAG_LEAF], record, signature])
}

/// Checks that `record` with `signature` is the leaf committed at `job_index` of batch `b`, and that
/// the batch is still open at game slot `now` (not finalized, `now` before `closes_at`, which is
/// Batch::dispute_end for disputes and record faults). Returns the batch tree's fee sum the opening shows.
pub fn check_committed_record(
    b: &Batch,
    now: u64,
    closes_at: u64,
    job_index: u32,
    record: &[u8; RECORD_BYTES],
    signature: &[u8; SIGNATURE_BYTES],
    siblings: &[BatchSibling],
) -> Result<u64> {
    if b.finalized != 0 {
        return Err(OptinferError::AlreadyFinalized.into());
    }
    if now >= closes_at {
        return Err(OptinferError::WindowClosed.into());
    }
    if job_index >= b.job_count.get() {
        return Err(OptinferError::JobIndexOutOfRange.into());
    }
    let leaf = signed_leaf(record, signature);
    open_batch_tree(
        &b.root,
        &leaf,
        record_fee(record),
        job_index as u64,
        b.job_count.get() as u64,
        siblings,
    )
    .ok_or_else(|| OptinferError::InvalidProof.into())
}

/// The record's fee in lamports (bytes 160..168, u64 LE).
pub fn record_fee(record: &[u8; RECORD_BYTES]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&record[160..168]);
    u64::from_le_bytes(b)
}

/// Checks that the instruction right before this one is the Ed25519 program verifying exactly
/// one signature, by the record's executor key, over this record's result digest. Every offset
/// is pinned: the key and signature are read from this instruction's data, where the record starts at
/// `record_offset` and the signature follows it (compared byte for byte with `record` and
/// `signature`), the digest from the Ed25519 instruction's own data. open_dispute and answer_data.
pub fn check_result_signature(
    ixs: &SysvarInstructions,
    record: &[u8; RECORD_BYTES],
    signature: &[u8; SIGNATURE_BYTES],
    record_offset: usize,
) -> Result<()> {
    let pubkey_offset = record_offset + 128;
    let signature_offset = record_offset + RECORD_BYTES;
    let current = ixs.load_current_index();
    if current == 0 {
        return Err(OptinferError::MissingResultSignature.into());
    }
    let ed = ixs
        .load_instruction_at(current as usize - 1)
        .map_err(|_| OptinferError::MissingResultSignature)?;
    if ed.get_program_id() != &ED25519_PROGRAM_ID {
        return Err(OptinferError::MissingResultSignature.into());
    }
    let d = ed.get_instruction_data();
    if d.len() != ED25519_DATA_BYTES || d[0] != 1 {
        return Err(OptinferError::BadResultSignature.into());
    }
    // signature (offset, ix), public key (offset, ix), message (offset, size, ix): u16::MAX is
    // the Ed25519 instruction itself.
    let want: [u16; 7] = [
        signature_offset as u16,
        current,
        pubkey_offset as u16,
        current,
        ED25519_DIGEST_OFFSET as u16,
        32,
        u16::MAX,
    ];
    for (k, w) in want.iter().enumerate() {
        if u16::from_le_bytes([d[2 + 2 * k], d[3 + 2 * k]]) != *w {
            return Err(OptinferError::BadResultSignature.into());
        }
    }
    if d[ED25519_DIGEST_OFFSET..] != result_digest(record) {
        return Err(OptinferError::BadResultSignature.into());
    }
    // The bytes the Ed25519 program read for key and signature are this record's (also when
    // open_dispute runs by CPI and the current top-level instruction is another program's).
    let me = ixs
        .load_instruction_at(current as usize)
        .map_err(|_| OptinferError::BadResultSignature)?;
    let md = me.get_instruction_data();
    if md.len() < signature_offset + SIGNATURE_BYTES
        || md[pubkey_offset..pubkey_offset + 32] != record[128..160]
        || md[signature_offset..signature_offset + SIGNATURE_BYTES] != signature[..]
    {
        return Err(OptinferError::BadResultSignature.into());
    }
    Ok(())
}

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
    pub instructions_sysvar: Sysvar<SysvarInstructions>,
}

pub fn open_dispute(
    ctx: &mut Context<OpenDispute>,
    job_index: u32,
    record: [u8; RECORD_BYTES],
    signature: [u8; SIGNATURE_BYTES],
    siblings: Vec<BatchSibling>,
) -> Result<()> {
    let a = &mut ctx.accounts;
    let cfg = &a.config;
    let now = running_slot(cfg)?;
    let b = &a.batch;
    // A late answer (answer_data after the window) leaves one clock to dispute what it showed.
    check_committed_record(b, now, b.dispute_end(), job_index, &record, &signature, &siblings)?;
    // No record its executor did not sign can cost it anything.
    check_result_signature(&a.instructions_sysvar, &record, &signature, DATA_RECORD_OFFSET)?;
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
    co.challenger_locked = (co.challenger_locked.get() + c_stake).into();
    co.open_disputes = (co.open_disputes.get() + 1).into();
    let batch_key = *a.batch.address();
    let stake_target = a.batch.executor_stake.get();
    let j = &mut a.job;
    if j.invalidated != 0 {
        return Err(OptinferError::JobInvalidated.into());
    }
    if j.bump == 0 {
        j.batch = batch_key;
        j.payer = challenger;
        j.job_index = job_index.into();
        j.bump = ctx.bumps.job;
    }
    j.open_games = (j.open_games.get() + 1).into();
    // One executor stake per job, shared by all its games: each open tops it up to the batch's
    // stake (min_executor_bond at its commit) from the bond not yet staked on its jobs (a bad
    // job must stay disputable even if its executor is under-bonded, and a game opened while the
    // bond was staked elsewhere does not fix it at 0).
    let eo = &mut a.executor_operator;
    // The executor's stake ignores its unbonding lamports (slashable until withdrawn) and its own
    // challenger stakes (executor slashes come first), so it cannot park its bond out of reach.
    let top_up = core::cmp::min(
        eo.bonded.get().saturating_sub(executor_locked(eo)),
        stake_target.saturating_sub(j.executor_stake.get()),
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
    d.tolerant = a.model.mode;
    d.input_digest.copy_from_slice(&record[64..96]);
    d.output_digest.copy_from_slice(&record[96..128]);
    d.agreed_prefix = trace::seed(&model_id, &d.input_digest, &a.model.profile_hash);
    d.executor_stake = e_stake.into();
    d.challenger_stake = c_stake.into();
    let clock = cfg.clock_slots.get();
    d.clock = [clock.into(), clock.into()];
    d.last_move_slot = now.into();
    // The batch's bounty, checked with its stake when it was committed (a later update_config
    // could pair a lower bounty with this batch's older, smaller stake).
    d.bounty_bps = a.batch.bounty_bps;
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
