//! A demand, inside a batch's window, that one job's record and inputs be posted on chain (data availability).
use anchor_lang::prelude::*;

/// Lamports request_data takes from the requester on top of the account's rent. answer_data pays the
/// answerer `answer_pay` of it (its transactions' fees, with headroom) and the rest goes back to the
/// requester with the rent at close_data_request; all of it comes back, with the bounty, when the
/// request times out. It covers the pay of the largest input (39 transactions, 390,000 lamports).
pub const DATA_REQUEST_DEPOSIT: u64 = 500_000;
/// Lamports answer_data pays per transaction of an answer: two 5,000-lamport signature fees' worth, so
/// a priority fee or a retried write is covered.
pub const DATA_ANSWER_TX_LAMPORTS: u64 = 10_000;

/// What answering a request posting `input_bytes` pays the answerer: init_data_buffer, the writes of
/// its bytes at DATA_WRITE_BYTES each and answer_data, at DATA_ANSWER_TX_LAMPORTS each (never more
/// than the deposit). Paying the whole deposit whatever the size let a sequencer serve nothing off
/// chain and net about 480,000 lamports on every demand it answered (review 24 "withhold and answer").
pub fn answer_pay(input_bytes: u64) -> u64 {
    (2 + input_bytes.div_ceil(DATA_WRITE_BYTES))
        .saturating_mul(DATA_ANSWER_TX_LAMPORTS)
        .min(DATA_REQUEST_DEPOSIT)
}
/// Largest posted input set (docs/PROTOCOL.md "Data availability"): what the sequencer accepts at
/// submission, so an answer always fits the answer time.
pub const MAX_DATA_BYTES: u64 = 32 * 1024;
/// Bytes one write_proof_buffer carries in the client (settlement/instructions.ts PROOF_WRITE_BYTES).
pub const DATA_WRITE_BYTES: u64 = 900;
/// Game slots an answerer is counted per sequential transaction, as registration counts a challenger's
/// (state/shapes.ts SLOTS_PER_TX).
pub const DATA_SLOTS_PER_TX: u64 = 4;
/// Least answer time: init_data_buffer, the writes of MAX_DATA_BYTES, answer_data, at DATA_SLOTS_PER_TX
/// each (156 slots). A request gets max(clock_slots, this).
pub const DATA_ANSWER_SLOTS: u64 = (2 + MAX_DATA_BYTES.div_ceil(DATA_WRITE_BYTES)) * DATA_SLOTS_PER_TX;

/// ["data", batch pda, u32 job index LE]: one per job, created by request_data (the requester paying its
/// rent and the deposit). Open (`answered` 0) it holds up finalize_batch; claim_data_timeout closes an
/// unanswered one after `deadline`; an answered one keeps the record and signature, its inputs in the
/// answerer's frozen proof buffer ["proof", request pda, answerer], until close_data_request after the
/// batch is final.
#[account]
pub struct DataRequest {
    pub batch: Address,
    /// Paid the rent and the deposit; gets the rent back at close, and the deposit and bounty on timeout.
    pub requester: Address,
    /// Who answered, owner of the proof buffer holding the inputs (all zeros until answered).
    pub answerer: Address,
    /// Game slot from which the request is unanswerable and claim_data_timeout pays.
    pub deadline: PodU64,
    pub job_index: PodU32,
    pub answered: u8,
    pub bump: u8,
    /// The committed record and its executor signature, once answered.
    pub record: [u8; 168],
    pub signature: [u8; 64],
    /// The batch tree opening answer_data checked: `depth` siblings, each its hash then its fee sum (u64
    /// LE), 40 bytes, leaf row upwards, so a challenger can open a dispute on the record.
    pub depth: u8,
    pub siblings: [u8; ANSWER_SIBLING_BYTES],
}

/// Room for the deepest opening: MAX_BATCH_JOBS = 2^10 jobs, 10 siblings of 40 bytes.
pub const ANSWER_SIBLING_BYTES: usize = 10 * 40;
