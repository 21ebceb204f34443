//! Anyone (the sequencer first of all), before a data request's deadline: posts the job's committed record
//! and executor signature (verified by the Ed25519 instruction right before) with its batch tree opening, checked against the batch root (all three kept
//! in the request), and its inputs
//! from the signer's proof buffer, checked against the record's input digest. The buffer is then frozen
//! (readable by anyone until close_data_request), the batch's open request released, and the signer
//! paid its answer's fees out of the deposit (answer_pay).
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::DataAnswered;
use crate::game::running_slot;
use crate::instructions::open_dispute::{
    check_result_signature, record_fee, signed_leaf, RECORD_BYTES, SIGNATURE_BYTES,
};
use crate::pure::input_set::{input_set_digest, InputSetError};
use crate::state::*;

#[derive(Accounts)]
pub struct AnswerData {
    #[account(mut)]
    pub answerer: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, address = request.batch @ OptinferError::WrongAccount)]
    pub batch: Account<Batch>,
    #[account(mut, seeds = [seeds::DATA, request.batch.as_ref(), &request.job_index.get().to_le_bytes()], bump = request.bump)]
    pub request: Account<DataRequest>,
    /// The signer's buffer holding the posted input set (init_data_buffer, write_proof_buffer).
    #[account(mut, seeds = [seeds::PROOF, request.address().as_ref(), answerer.address().as_ref()], bump = buffer.bump)]
    pub buffer: ProofBufferAccount,
    /// For the executor's signature over the record, verified by the Ed25519 instruction right before.
    pub instructions_sysvar: Sysvar<SysvarInstructions>,
}

/// Where answer_data's instruction data holds the record: right after the one-byte discriminator (the
/// signature follows it), for the Ed25519 instruction's pinned offsets.
pub const ANSWER_RECORD_OFFSET: usize = 1;

pub fn answer_data(
    ctx: &mut Context<AnswerData>,
    record: [u8; RECORD_BYTES],
    signature: [u8; SIGNATURE_BYTES],
    siblings: Vec<BatchSibling>,
) -> Result<()> {
    let a = &mut ctx.accounts;
    // Game time, which a pause stops (the deadline is in game time too).
    let now = running_slot(&a.config)?;
    let r = &a.request;
    if r.answered != 0 {
        return Err(OptinferError::DataRequestAnswered.into());
    }
    if now >= r.deadline.get() {
        msg!("the answer was due before game slot {}, now {}", r.deadline.get(), now);
        return Err(OptinferError::DataRequestExpired.into());
    }
    let job_index = r.job_index.get();
    let requester = r.requester;
    let b = &a.batch;
    // The record is the one committed at job_index, and its executor signed it: an unsigned record can
    // never be answered, so requesting its data ends in claim_data_timeout (the job invalidated and the
    // sequencer slashed), the proof of that record fault.
    open_batch_tree(
        &b.root,
        &signed_leaf(&record, &signature),
        record_fee(&record),
        job_index as u64,
        b.job_count.get() as u64,
        &siblings,
    )
    .ok_or(OptinferError::InvalidProof)?;
    check_result_signature(&a.instructions_sysvar, &record, &signature, ANSWER_RECORD_OFFSET)?;
    let answerer = *a.answerer.address();
    // The requester paid the deposit to have the data posted, not to get it back: close_data_request
    // also pays requester and answerer separately.
    if answerer == requester {
        return Err(OptinferError::SelfAnswer.into());
    }
    if a.buffer.owner != answerer {
        return Err(OptinferError::BufferFrozen.into());
    }
    let digest = input_set_digest(a.buffer.as_slice()).map_err(|e| match e {
        InputSetError::Encoding => OptinferError::BadInputSet,
        InputSetError::TooLarge => OptinferError::InputSetTooLarge,
        InputSetError::Unsorted => OptinferError::InputSetUnsorted,
    })?;
    if digest[..] != record[64..96] {
        return Err(OptinferError::InputDigestMismatch.into());
    }
    let input_bytes = a.buffer.len() as u32;
    let request_key = *a.request.address();
    // Frozen: its owner is now the request, which cannot sign, so neither write_proof_buffer nor
    // close_proof_buffer accepts it; close_data_request closes it once the batch is final.
    a.buffer.owner = request_key;

    let r = &mut a.request;
    r.answered = 1;
    r.answerer = answerer;
    r.record = record;
    r.signature = signature;
    // The opening succeeded, so it has log2(P) <= 10 siblings (MAX_BATCH_JOBS).
    r.depth = siblings.len() as u8;
    for (k, s) in siblings.iter().enumerate() {
        r.siblings[40 * k..40 * k + 32].copy_from_slice(&s.hash);
        r.siblings[40 * k + 32..40 * k + 40].copy_from_slice(&s.fees.to_le_bytes());
    }
    // The answer's fees, by its size; the rest of the deposit stays with the request, the requester's at
    // close.
    let paid = answer_pay(input_bytes as u64);
    let mut rv = *a.request.account();
    rv.set_lamports(rv.lamports().checked_sub(paid).ok_or(OptinferError::Overflow)?);
    let mut av = *a.answerer.account();
    av.set_lamports(av.lamports().checked_add(paid).ok_or(OptinferError::Overflow)?);
    let b = &mut a.batch;
    b.open_requests = (b.open_requests.get() - 1).into();
    // Whatever the answer shows stays disputable for one clock (the batch's own), also past the
    // window (late answer).
    let until = now.checked_add(b.dispute_clock.get()).ok_or(OptinferError::Overflow)?;
    if until > b.disputable_until.get() {
        b.disputable_until = until.into();
    }
    emit!(DataAnswered {
        batch_index: b.index.get(),
        job_index,
        answerer,
        input_bytes,
        paid,
        record,
        signature
    });
    Ok(())
}
