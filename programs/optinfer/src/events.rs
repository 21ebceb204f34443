//! Events for every state change, so node software can follow the program from its logs.
use anchor_lang::prelude::*;

#[event]
pub struct ConfigUpdated {
    pub authority: Address,
    pub paused: u8,
}
#[event]
pub struct AuthorityProposed {
    pub authority: Address,
    pub proposed: Address,
}
#[event]
pub struct TreasuryWithdrawn {
    pub to: Address,
    pub amount: u64,
}
#[event]
pub struct ModelRegistered {
    pub model_id: [u8; 32],
    pub layer_count: u32,
    pub mode: u8,
    pub arith_bits: u8,
}
#[event]
pub struct ModelOpsAdded {
    pub model_id: [u8; 32],
    pub page: u16,
    pub ops_loaded: u32,
}
#[event]
pub struct Bonded {
    pub owner: Address,
    pub amount: u64,
    pub bonded: u64,
}
#[event]
pub struct UnbondRequested {
    pub owner: Address,
    pub amount: u64,
    pub ready_slot: u64,
}
#[event]
pub struct Withdrawn {
    pub owner: Address,
    pub amount: u64,
}
#[event]
pub struct BatchCommitted {
    pub index: u64,
    pub root: [u8; 32],
    pub job_count: u32,
    pub slot: u64,
    /// Lamports escrowed for the batch's record fees.
    pub fee_total: u64,
    /// Lamports of the batch's fault reserve, moved in from the sequencer's wallet with the escrow.
    pub fault_reserve: u64,
}
#[event]
pub struct BatchFinalized {
    pub index: u64,
    pub invalidated: u32,
}
#[event]
pub struct DisputeOpened {
    pub dispute: Address,
    pub batch_index: u64,
    pub job_index: u32,
    pub executor: Address,
    pub challenger: Address,
}
#[event]
pub struct DisputeMove {
    pub dispute: Address,
    pub side: u8,
    pub phase: u8,
    pub agreed: u32,
    pub disagree: u32,
    pub chunk_level: u32,
    pub chunk_index: u32,
}
#[event]
pub struct OneStepExecuted {
    pub dispute: Address,
    pub layer: u32,
    pub chunk_index: u32,
    pub executor_correct: bool,
}
#[event]
pub struct OneStepProgress {
    pub dispute: Address,
    pub done: u32,
    pub of: u32,
}
#[event]
pub struct TimeoutClaimed {
    pub dispute: Address,
    pub side: u8,
}
#[event]
pub struct DisputeResolved {
    pub dispute: Address,
    pub winner: u8,
    pub bounty: u64,
    pub to_treasury: u64,
}
#[event]
pub struct Slashed {
    pub operator: Address,
    pub amount: u64,
}
#[event]
pub struct JobInvalidated {
    pub batch_index: u64,
    pub job_index: u32,
}
#[event]
pub struct GameMooted {
    pub dispute: Address,
    pub batch_index: u64,
    pub job_index: u32,
    pub challenger: Address,
}
#[event]
pub struct BatchClosed {
    pub index: u64,
    pub payer: Address,
    pub lamports: u64,
    pub invalidated: u32,
}
#[event]
pub struct DisputeClosed {
    pub dispute: Address,
    pub challenger: Address,
    pub job_index: u32,
    pub winner: u8,
    pub lamports: u64,
}
#[event]
pub struct JobClosed {
    pub batch: Address,
    pub job_index: u32,
    pub payer: Address,
    pub lamports: u64,
}
#[event]
pub struct JobRentRefunded {
    pub batch: Address,
    pub job_index: u32,
    pub payer: Address,
    pub lamports: u64,
}
#[event]
pub struct OperatorClosed {
    pub owner: Address,
    pub lamports: u64,
}
#[event]
pub struct RecordFaultProven {
    pub batch_index: u64,
    pub job_index: u32,
    /// 0: the executor has no bond; 1: the model is not registered (instructions/prove_record_fault.rs).
    pub kind: u8,
    pub prover: Address,
    pub sequencer: Address,
    pub bounty: u64,
    pub to_treasury: u64,
}
/// prove_short_escrow: batch `batch_index`'s tree sums its fees to `fee_sum`, more than its escrow
/// `fee_total`; the sequencer was slashed `bounty + to_treasury`.
#[event]
pub struct EscrowShortProven {
    pub batch_index: u64,
    pub fee_sum: u64,
    /// The escrow before the proof.
    pub fee_total: u64,
    /// Lamports moved from the batch's fault reserve into the escrow (`fee_sum - fee_total` when the
    /// reserve covered the whole shortfall, so every claim now pays; otherwise 0).
    pub topped_up: u64,
    pub prover: Address,
    pub sequencer: Address,
    pub bounty: u64,
    pub to_treasury: u64,
}
#[event]
pub struct FeesClaimed {
    pub batch_index: u64,
    pub executor: Address,
    /// Jobs paid by this claim.
    pub jobs: u32,
    /// Their record fees, all paid to the executor from the batch's escrow.
    pub amount: u64,
}
#[event]
pub struct Deposited {
    pub user: Address,
    pub amount: u64,
    pub balance: u64,
}
#[event]
pub struct DepositDrawn {
    pub user: Address,
    pub sequencer: Address,
    pub amount: u64,
    /// The deposit's `drawn` after this draw.
    pub drawn: u64,
    pub balance: u64,
}
#[event]
pub struct DepositWithdrawRequested {
    pub user: Address,
    pub balance: u64,
    pub ready_slot: u64,
}
#[event]
pub struct DepositWithdrawn {
    pub user: Address,
    pub amount: u64,
}
#[event]
pub struct DataRequested {
    pub batch_index: u64,
    pub job_index: u32,
    pub requester: Address,
    /// Game slot from which the request is unanswerable (claim_data_timeout).
    pub deadline: u64,
}
#[event]
pub struct DataAnswered {
    pub batch_index: u64,
    pub job_index: u32,
    /// Owner of the frozen proof buffer ["proof", request, answerer] that holds the posted inputs.
    pub answerer: Address,
    pub input_bytes: u32,
    /// Lamports of the deposit paid to the answerer (answer_pay); the rest is the requester's at close.
    pub paid: u64,
    pub record: [u8; 168],
    pub signature: [u8; 64],
}
#[event]
pub struct DataTimedOut {
    pub batch_index: u64,
    pub job_index: u32,
    pub requester: Address,
    pub sequencer: Address,
    pub bounty: u64,
    pub to_treasury: u64,
}
#[event]
pub struct DataRequestClosed {
    pub batch: Address,
    pub job_index: u32,
    pub requester: Address,
    pub answerer: Address,
}
