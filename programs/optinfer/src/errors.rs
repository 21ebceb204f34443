//! Program error codes (6000 + position). Append only: clients map codes to names by position.
use anchor_lang::prelude::*;

use crate::pure::reader::ReadError;

#[error_code]
pub enum OptinferError {
    #[msg("Signer is not the configured authority")]
    NotAuthority,
    #[msg("Signer is not the configured sequencer")]
    NotSequencer,
    #[msg("The program is paused")]
    Paused,
    #[msg("Invalid configuration value")]
    InvalidConfig,
    #[msg("Amount must be greater than zero")]
    ZeroAmount,
    #[msg("Not enough unlocked bond")]
    InsufficientBond,
    #[msg("Bond withdrawal is not allowed while a dispute involving the operator is open")]
    WithdrawDuringDispute,
    #[msg("Unbonding delay has not elapsed")]
    UnbondingNotReady,
    #[msg("Nothing is unbonding")]
    NothingUnbonding,
    #[msg("Batch index must be the next one")]
    BadBatchIndex,
    #[msg("Batch must contain at least one job")]
    EmptyBatch,
    #[msg("Challenge window is still open")]
    WindowOpen,
    #[msg("Challenge window has closed")]
    WindowClosed,
    #[msg("Batch cannot finalize while a dispute on it is open")]
    FinalizeDuringDispute,
    #[msg("Batch is already finalized")]
    AlreadyFinalized,
    #[msg("Merkle proof does not verify")]
    InvalidProof,
    #[msg("Job index out of range")]
    JobIndexOutOfRange,
    #[msg("Job record does not belong to the given model or executor accounts")]
    RecordMismatch,
    #[msg("An executor cannot challenge its own job")]
    SelfChallenge,
    #[msg("Model op table is not fully loaded")]
    ModelNotReady,
    #[msg("Op not supported by the one-step check")]
    UnsupportedOp,
    #[msg("Op dtype combination is not exact in the canonical profile")]
    InexactOp,
    #[msg("Malformed op table entry")]
    BadOpEntry,
    #[msg("Op page out of order or overflowing the layer count")]
    BadOpPage,
    #[msg("Signer is not a party of this dispute")]
    NotAParty,
    #[msg("It is not this side's turn")]
    NotYourTurn,
    #[msg("The dispute is already resolved")]
    DisputeResolved,
    #[msg("This move is not allowed in the dispute's current phase")]
    WrongPhase,
    #[msg("The side's chess clock has run out")]
    ClockExpired,
    #[msg("The side to move still has time on its clock")]
    ClockNotExpired,
    #[msg("Layer count does not match the model")]
    LayerCountMismatch,
    #[msg("Trace does not end at the executor's claimed output")]
    OutputMismatch,
    #[msg("Challenger's trace ends at the executor's claimed output")]
    NoDisagreement,
    #[msg("Revealed value does not match the committed prefix")]
    PrefixMismatch,
    #[msg("Revealed children do not hash to the committed node")]
    NodeMismatch,
    #[msg("Malformed tensor header")]
    BadHeader,
    #[msg("Proof buffer write out of bounds")]
    BufferOverflow,
    #[msg("Proof buffer does not belong to this dispute or signer")]
    BufferMismatch,
    #[msg("Malformed one-step proof data")]
    BadStepData,
    #[msg("One-step operands have shapes or dtypes the op cannot take")]
    BadOperands,
    #[msg("Opened layer is not one of the agreed layers")]
    LayerNotAgreed,
    #[msg("Wrong op page account for the disputed layer")]
    WrongOpsPage,
    #[msg("Wrong account passed")]
    WrongAccount,
    #[msg("Arithmetic overflow")]
    Overflow,
    #[msg("Unknown check kind")]
    BadCheck,
    #[msg("A sparse opening lacks a chunk the one-step reads")]
    MissingChunk,
    #[msg("The instruction before open_dispute is not an Ed25519 signature check")]
    MissingResultSignature,
    #[msg("The Ed25519 check is not the record executor's signature over this record's result digest")]
    BadResultSignature,
    #[msg("Batch has more jobs than a dispute transaction can prove (MAX_BATCH_JOBS)")]
    BatchTooLarge,
    #[msg("Minimum bonds must be greater than zero")]
    ZeroBond,
    #[msg("Minimum challenger bond is below the rent of the dispute account it opens")]
    ChallengerBondBelowRent,
    #[msg("Bounty above 5000 basis points (half the loser's stake)")]
    BountyTooHigh,
    #[msg("Challenge window and clock slots must be greater than zero")]
    ZeroDuration,
    #[msg("Unbonding slots below challenge_window + 2 x clock_slots + the unbonding margin")]
    UnbondingTooShort,
    #[msg("Signer is not the proposed authority")]
    NotPendingAuthority,
    #[msg("The vault cannot pay that much and stay rent-exempt")]
    VaultInsufficient,
    #[msg("The job is already invalidated: no new game can open on it")]
    JobInvalidated,
    #[msg("Another game already invalidated this job: end this one with end_moot_game")]
    GameMoot,
    #[msg("This game's job is not invalidated, so the game is not moot")]
    GameNotMoot,
    #[msg("Shape record malformed, incomplete or not matching the weight root")]
    BadShapeRecord,
    #[msg("Shape record is sealed: op pages were added")]
    ShapesSealed,
    #[msg("A layer's one-step cannot be decided: see the log for the layer and the reason")]
    UnprovableLayer,
    #[msg("bounty_bps of min_executor_bond must repay a winning challenger's Dispute and Job rent and fees")]
    BountyBelowCosts,
    #[msg("clock_slots is below what the games on registered models need (Config.clock_floor)")]
    ClockBelowRegisteredModels,
    #[msg("The batch is not finalized")]
    BatchNotFinalized,
    #[msg("The batch's close grace (one more challenge window after its own) has not passed")]
    CloseGraceNotOver,
    #[msg("The dispute is not resolved")]
    DisputeNotResolved,
    #[msg("An invalidated job's account is its verdict record and is never closed")]
    JobIsVerdict,
    #[msg("The operator still has bonded, locked or unbonding lamports or an open game")]
    OperatorNotEmpty,
    #[msg("The job holds no rent refund: it is not invalidated, or its payer won it or was already repaid")]
    NoRefund,
    #[msg("The sequencer's free bond is below one record-fault slash (min_executor_bond): bond first")]
    SequencerUnbonded,
    #[msg("Unknown record fault kind: 0 unbonded executor, 1 unregistered model")]
    BadFaultKind,
    #[msg("The record shows no such fault: its executor is bonded, or its model is fully registered")]
    NoRecordFault,
    #[msg("challenge_window or clock_slots above 30 days (MAX_DURATION_SLOTS), or unbonding_slots above 3 of them plus the margin")]
    DurationTooLong,
    #[msg("A slash took this bond to 0 while records committed before it may still be disputed: the account stays until their windows close")]
    OperatorRecentlySlashed,
    #[msg("claim_fees needs at least one claim")]
    NoClaims,
    #[msg(
        "The batch has invalidated jobs: pass each claimed job's Job address, in claim order, as remaining accounts"
    )]
    ClaimJobAccounts,
    #[msg("The record names another executor: only the record's executor claims its fee")]
    NotRecordExecutor,
    #[msg("This job's fee was already claimed")]
    FeeAlreadyClaimed,
    #[msg(
        "The batch tree's fees sum past the batch's escrow (fee_total): the sequencer under-escrowed, which prove_short_escrow proves"
    )]
    EscrowShort,
    #[msg("This batch's short escrow was already proven: the sequencer is slashed once per batch for it")]
    EscrowShortProven,
    #[msg("draw_deposit must come right after an Ed25519 instruction checking the user's voucher signature")]
    MissingVoucherSignature,
    #[msg("The Ed25519 instruction does not check the user's signature over this voucher (user, sequencer, program, cumulative) with the pinned offsets")]
    BadVoucherSignature,
    #[msg("The voucher's cumulative amount is not above what was already drawn: it pays nothing")]
    VoucherAlreadyDrawn,
    #[msg("The deposit holds no lamports")]
    DepositEmpty,
    #[msg("No deposit withdrawal was requested: request_withdraw_deposit first")]
    DepositWithdrawNotRequested,
    #[msg("The deposit withdrawal delay (one dispute clock) has not passed")]
    DepositWithdrawNotReady,
    #[msg("A data request on this batch is open: it must be answered (answer_data) or its timeout claimed (claim_data_timeout) first")]
    DataRequestOpen,
    #[msg("This data request was already answered")]
    DataRequestAnswered,
    #[msg("The data request's deadline has passed: the answer comes too late, claim_data_timeout pays")]
    DataRequestExpired,
    #[msg("The data request's deadline has not passed yet")]
    DataRequestNotExpired,
    #[msg("The proof buffer belongs to an answered data request: it is frozen until close_data_request")]
    BufferFrozen,
    #[msg("The posted input set does not parse: u32 count, then per tensor u16 nameLen, name, u8 dtype, u8 rank, u64 dims, canonical bytes, ending at the buffer's end")]
    BadInputSet,
    #[msg("The posted input set has more than 16 tensors or a name longer than 64 bytes")]
    InputSetTooLarge,
    #[msg("The posted input set's names are not in strictly increasing byte order")]
    InputSetUnsorted,
    #[msg("The posted inputs' tensor-set digest is not the record's input digest")]
    InputDigestMismatch,
    #[msg("The requester cannot answer its own data request")]
    SelfAnswer,
}

impl From<ReadError> for OptinferError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::BadStepData => OptinferError::BadStepData,
            ReadError::BadHeader => OptinferError::BadHeader,
            ReadError::InvalidProof => OptinferError::InvalidProof,
        }
    }
}

impl From<ReadError> for anchor_lang::Error {
    fn from(e: ReadError) -> Self {
        OptinferError::from(e).into()
    }
}
