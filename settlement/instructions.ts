// Instruction builders for every instruction of the program: data encoded by the IDL's Borsh coder,
// account lists (order, signer and writable flags, fixed addresses) taken from the IDL.
import BN from 'bn.js';
import { ComputeBudgetProgram, PublicKey, TransactionInstruction, type AccountMeta } from '@solana/web3.js';
import { OptinferError } from '../state/errors.ts';
import { resultDigestOf } from '../state/job.ts';
import { VOUCHER_SIGNATURE_BYTES, voucherDigest } from '../state/voucher.ts';
import { MODE, type ModelMode } from '../state/optable.ts';
import { CODER, IDL, PROGRAM_ID, type IdlAccountMeta } from './idl.ts';
import { Pdas, pdas as defaultPdas } from './pdas.ts';
import { camel } from './codec.ts';

export type InstructionName =
  | 'initialize'
  | 'update_config'
  | 'register_model'
  | 'add_model_ops'
  | 'bond'
  | 'request_unbond'
  | 'withdraw'
  | 'commit_batch'
  | 'finalize_batch'
  | 'open_dispute'
  | 'commit_trace'
  | 'bisect_layer'
  | 'reveal_layer'
  | 'bisect_chunk'
  | 'init_proof_buffer'
  | 'write_proof_buffer'
  | 'one_step'
  | 'claim_timeout'
  | 'close_proof_buffer'
  | 'propose_authority'
  | 'accept_authority'
  | 'withdraw_treasury'
  | 'end_moot_game'
  | 'init_model_shapes'
  | 'write_model_shapes'
  | 'close_batch'
  | 'close_dispute'
  | 'close_job'
  | 'close_operator'
  | 'refund_job_rent'
  | 'prove_record_fault'
  | 'claim_fees'
  | 'prove_short_escrow'
  | 'deposit'
  | 'draw_deposit'
  | 'request_withdraw_deposit'
  | 'withdraw_deposit'
  | 'request_data'
  | 'init_data_buffer'
  | 'answer_data'
  | 'claim_data_timeout'
  | 'close_data_request'
  | 'reveal_leaf';

/** Most instruction data @coral-xyz/anchor's coder encodes (its scratch buffer). */
export const MAX_INSTRUCTION_DATA = 1000;
/** Bytes of a job record (state/job.ts JOB_RECORD_BYTES) and of the executor's signature over it. */
export const RECORD_BYTES = 168;
export const SIGNATURE_BYTES = 64;
/** The native Ed25519 signature-check program open_dispute introspects. */
export const ED25519_PROGRAM_ID = new PublicKey('Ed25519SigVerify111111111111111111111111111');
/** Where open_dispute's data holds the executor key and the signature (1-byte discriminator, u32 job index, record, signature). */
export const OPEN_DISPUTE_PUBKEY_OFFSET = 1 + 4 + 128;
export const OPEN_DISPUTE_SIGNATURE_OFFSET = 1 + 4 + RECORD_BYTES;
/** Where answer_data's data holds the executor key and the signature (answer_data.rs ANSWER_RECORD_OFFSET = 1). */
export const ANSWER_DATA_PUBKEY_OFFSET = 1 + 128;
export const ANSWER_DATA_SIGNATURE_OFFSET = 1 + RECORD_BYTES;
/** Where draw_deposit's data holds the voucher signature (1-byte discriminator, u64 cumulative). */
export const DRAW_DEPOSIT_SIGNATURE_OFFSET = 1 + 8;
/** The most jobs commit_batch accepts (programs/optinfer/src/instructions/commit_batch.rs MAX_BATCH_JOBS). */
export const MAX_BATCH_JOBS = 1 << 10;
/** Most bytes one write_proof_buffer instruction carries so its transaction stays under 1232 bytes. */
export const PROOF_WRITE_BYTES = 900;
/**
 * Most jobs of a `jobCount`-job batch one claim_fees transaction carries (one signer, 1232 bytes, and the
 * coder's MAX_INSTRUCTION_DATA): each claim is its job index, record, signature and batch tree siblings
 * (40 bytes each), plus its Job address when the batch has invalidated jobs (`withJobs`) (fees.test.ts).
 */
export function claimsPerTransaction(jobCount: number, withJobs: boolean): number {
  let depth = 0;
  while (1 << depth < jobCount) depth++;
  const claim = 4 + RECORD_BYTES + SIGNATURE_BYTES + 4 + 40 * depth;
  // signature, header, 4 account keys (3 accounts and the program), blockhash, one instruction's fixed bytes.
  const fixed = 1 + 64 + 3 + 1 + 4 * 32 + 32 + 1 + 1 + 1 + 3 + 2 + 1 + 4;
  let k = 0;
  while (
    fixed + (k + 1) * (claim + (withJobs ? 33 : 0)) <= 1232 &&
    5 + (k + 1) * claim <= MAX_INSTRUCTION_DATA
  )
    k++;
  return k;
}
/** Capacity of a new proof buffer and the most one write may grow it by (state/proof_buffer.rs). */
export const PROOF_INIT_CAPACITY = 9216;
export const PROOF_MAX_GROWTH = 10240;

/** The runtime's compute-unit budget per instruction when a transaction does not ask for more. */
export const DEFAULT_CU_PER_INSTRUCTION = 200_000;
export const MAX_CU_PER_TX = 1_400_000;

/**
 * Compute-unit limits for the instructions whose measured cost can pass the 200,000 default
 * (settlement/cu.test.ts, docs/PROGRAM.md): the one-step (QuantizeLinear measured 216,879 CU) asks
 * for the transaction maximum. Every other instruction measured below 60,000 CU and is sent without
 * a compute-budget instruction.
 */
export const CU_LIMIT: Readonly<Partial<Record<InstructionName, number>>> = {
  one_step: MAX_CU_PER_TX,
};

/** The compute-budget instruction a transaction of these instructions needs, or null. */
export function computeLimitFor(names: readonly InstructionName[]): TransactionInstruction | null {
  if (!names.some((n) => CU_LIMIT[n] !== undefined)) return null;
  const units = Math.min(
    MAX_CU_PER_TX,
    names.reduce((s, n) => s + (CU_LIMIT[n] ?? DEFAULT_CU_PER_INSTRUCTION), 0),
  );
  return ComputeBudgetProgram.setComputeUnitLimit({ units });
}

export type Bytes32 = Uint8Array;
export type U64 = bigint | number;

/**
 * Config parameters; the program refuses them out of bounds (state/config.rs): bonds > 0, the
 * challenger bond at least a Dispute account's rent, bountyBps <= MAX_BOUNTY_BPS, bountyBps of
 * minExecutorBond at least a Dispute and a Job account's rent + FEE_MARGIN_LAMPORTS, window and
 * clock > 0, unbondingSlots >= challengeWindow + 2 x clockSlots + UNBONDING_MARGIN_SLOTS.
 */
export interface ConfigParams {
  sequencer: PublicKey;
  /** Where withdraw_treasury pays the vault's lamports. */
  treasury: PublicKey;
  /** Game slots after commit during which a batch can be disputed. */
  challengeWindow: U64;
  /** Chess-clock budget per side, in game slots. */
  clockSlots: U64;
  minExecutorBond: U64;
  minChallengerBond: U64;
  unbondingSlots: U64;
  /** Winner's share of the loser's stake, basis points. */
  bountyBps: number;
}

/** Highest bounty the program accepts (state/config.rs MAX_BOUNTY_BPS). */
export const MAX_BOUNTY_BPS = 5000;
/**
 * Fees a winning challenger's bounty must repay on top of the Dispute and Job rent (state/config.rs
 * FEE_MARGIN_LAMPORTS): the program refuses bountyBps of minExecutorBond below rent + this (BountyBelowCosts).
 */
export const FEE_MARGIN_LAMPORTS = 5_000_000n;
/** Slots unbonding must exceed the window plus both clocks by (state/config.rs UNBONDING_MARGIN_SLOTS). */
export const UNBONDING_MARGIN_SLOTS = 150n;
/** The shortest unbonding delay the program accepts with this window and clock. */
export const minUnbondingSlots = (challengeWindow: U64, clockSlots: U64): bigint =>
  BigInt(challengeWindow) + 2n * BigInt(clockSlots) + UNBONDING_MARGIN_SLOTS;

const bn = (v: U64) => new BN(BigInt(v).toString());
function b32(v: Uint8Array, what: string): number[] {
  if (v.length !== 32)
    throw new OptinferError('INVALID_INPUT', `${what}: expected 32 bytes, got ${v.length}`);
  return [...v];
}
const sibs = (s: readonly Uint8Array[]) => s.map((x, i) => b32(x, `sibling ${i}`));
/** Batch tree siblings (state/fee-tree.ts): each sibling's hash with the fee sum under it. */
const batchSibs = (s: readonly Uint8Array[], fees: readonly bigint[]) => {
  if (fees.length !== s.length) {
    throw new OptinferError(
      'INVALID_INPUT',
      `batch tree proof: expected one fee sum per sibling (${s.length}), got ${fees.length}`,
    );
  }
  return s.map((x, i) => ({ hash: b32(x, `sibling ${i}`), fees: bn(fees[i]) }));
};
const configParams = (p: ConfigParams) => ({
  sequencer: p.sequencer,
  treasury: p.treasury,
  challenge_window: bn(p.challengeWindow),
  clock_slots: bn(p.clockSlots),
  min_executor_bond: bn(p.minExecutorBond),
  min_challenger_bond: bn(p.minChallengerBond),
  unbonding_slots: bn(p.unbondingSlots),
  bounty_bps: p.bountyBps,
});

/** Instruction data as the program decodes it: one discriminator byte, then Borsh arguments. */
export function encodeData(name: InstructionName, args: Record<string, unknown>): Buffer {
  try {
    return CODER.instruction.encode(name, args);
  } catch (cause) {
    // anchor's coder encodes into a 1000-byte scratch buffer: bigger data cannot fit a transaction.
    if (cause instanceof RangeError) {
      throw new OptinferError(
        'TRANSACTION_TOO_LARGE',
        `${name}: instruction data over ${MAX_INSTRUCTION_DATA} bytes`,
        undefined,
        { cause },
      );
    }
    throw cause;
  }
}

/**
 * The account metas of `name` in IDL order; `accounts` is keyed by the IDL account name (snake or
 * camel case); accounts with a fixed address in the IDL (system program) may be omitted.
 */
export function accountMetas(name: InstructionName, accounts: Record<string, PublicKey>): AccountMeta[] {
  const ix = IDL.instructions.find((i) => i.name === name);
  if (!ix) throw new OptinferError('INTERNAL', `IDL has no instruction ${name}`);
  return (ix.accounts as unknown as IdlAccountMeta[]).map((a) => {
    const pubkey =
      accounts[a.name] ?? accounts[camel(a.name)] ?? (a.address ? new PublicKey(a.address) : null);
    if (!pubkey) throw new OptinferError('INVALID_INPUT', `${name}: account ${a.name} missing`);
    return { pubkey, isSigner: !!a.signer, isWritable: !!a.writable };
  });
}

/**
 * Record faults prove_record_fault takes (programs/optinfer/src/instructions/prove_record_fault.rs): a
 * committed record whose executor has no bond, or whose model is not registered, cannot be disputed,
 * so the sequencer that committed it answers for it.
 */
export const RECORD_FAULT = { unbondedExecutor: 0, unregisteredModel: 1 } as const;
export type RecordFault = keyof typeof RECORD_FAULT;
/** A committed record proved faulty: where it is in its batch, what fault, and what opens the root. */
export interface RecordFaultProof {
  batchIndex: U64;
  jobIndex: number;
  kind: RecordFault;
  record: Uint8Array;
  signature: Uint8Array;
  siblings: readonly Uint8Array[];
  /** The fee sum under each sibling (state/fee-tree.ts FeeProof.siblingFees). */
  siblingFees: readonly bigint[];
}

/**
 * Data availability (programs/optinfer/src/state/data_request.rs): lamports request_data takes on top of
 * the request account's rent, paid to whoever answers; the largest posted input set the sequencer
 * accepts (state/input-set.ts); the least answer time a request gets, in game slots.
 */
export const DATA_REQUEST_DEPOSIT = 500_000n;
/** Lamports answer_data pays per transaction of an answer (state/data_request.rs DATA_ANSWER_TX_LAMPORTS). */
export const DATA_ANSWER_TX_LAMPORTS = 10_000n;
/**
 * What an answer posting `inputBytes` pays the answerer out of the deposit (state/data_request.rs answer_pay):
 * init, the writes at PROOF_WRITE_BYTES, answer_data, DATA_ANSWER_TX_LAMPORTS each. The rest goes back to the
 * requester at close.
 */
export const answerPay = (inputBytes: number): bigint => {
  const pay = BigInt(2 + Math.ceil(inputBytes / PROOF_WRITE_BYTES)) * DATA_ANSWER_TX_LAMPORTS;
  return pay < DATA_REQUEST_DEPOSIT ? pay : DATA_REQUEST_DEPOSIT;
};
export const MAX_DATA_BYTES = 32 * 1024;
export const DATA_ANSWER_SLOTS = (2 + Math.ceil(MAX_DATA_BYTES / PROOF_WRITE_BYTES)) * 4;
/**
 * How long past a batch's window a dispute on it may still open under dispute clock `clockSlots`
 * (state/config.rs late_dispute_slots): a request at the window's last slot is answered within
 * max(clock, DATA_ANSWER_SLOTS), and the answer leaves one clock to dispute. Unbonds wait for it.
 */
export const lateDisputeSlots = (clockSlots: U64): bigint => {
  const clock = BigInt(clockSlots);
  const answer = BigInt(DATA_ANSWER_SLOTS);
  return (clock > answer ? clock : answer) + clock;
};
/**
 * The dispute span (state/config.rs dispute_span): window + lateDisputeSlots(clock) + UNBONDING_MARGIN_SLOTS, the
 * least delay request_unbond gives (more than minUnbondingSlots when the clock is under DATA_ANSWER_SLOTS), and the
 * span whose raise holds withdrawals.
 */
export const disputeSpan = (challengeWindow: U64, clockSlots: U64): bigint =>
  BigInt(challengeWindow) + lateDisputeSlots(clockSlots) + UNBONDING_MARGIN_SLOTS;

/** A data request's answer: the committed record at the request's job, its signature and the batch tree opening. */
export interface DataAnswer {
  record: Uint8Array;
  signature: Uint8Array;
  siblings: readonly Uint8Array[];
  /** The fee sum under each sibling (state/fee-tree.ts FeeProof.siblingFees). */
  siblingFees: readonly bigint[];
}

/** Builds instructions for one program id (PDAs derived for it). */
export class InstructionBuilder {
  readonly pdas: Pdas;
  constructor(readonly programId: PublicKey = PROGRAM_ID) {
    this.pdas = programId.equals(PROGRAM_ID) ? defaultPdas : new Pdas(programId);
  }

  ix(
    name: InstructionName,
    args: Record<string, unknown>,
    accounts: Record<string, PublicKey>,
    remaining: AccountMeta[] = [],
  ): TransactionInstruction {
    return new TransactionInstruction({
      programId: this.programId,
      keys: [...accountMetas(name, accounts), ...remaining],
      data: encodeData(name, args),
    });
  }

  initialize(p: { authority: PublicKey; params: ConfigParams }) {
    return this.ix(
      'initialize',
      { params: configParams(p.params) },
      { authority: p.authority, config: this.pdas.config(), vault: this.pdas.vault() },
    );
  }
  updateConfig(p: { authority: PublicKey; params: ConfigParams; paused: boolean }) {
    return this.ix(
      'update_config',
      { params: configParams(p.params), paused: p.paused ? 1 : 0 },
      { authority: p.authority, config: this.pdas.config() },
    );
  }
  /** First step of a handover: names the key that may take the authority (its signature is the second). */
  proposeAuthority(p: { authority: PublicKey; newAuthority: PublicKey }) {
    return this.ix(
      'propose_authority',
      { new_authority: p.newAuthority },
      { authority: p.authority, config: this.pdas.config() },
    );
  }
  acceptAuthority(p: { newAuthority: PublicKey }) {
    return this.ix('accept_authority', {}, { new_authority: p.newAuthority, config: this.pdas.config() });
  }
  /** Pays `amount` lamports of the vault (above its rent) to the configured treasury address. */
  withdrawTreasury(p: { authority: PublicKey; treasury: PublicKey; amount: U64 }) {
    return this.ix(
      'withdraw_treasury',
      { amount: bn(p.amount) },
      { authority: p.authority, config: this.pdas.config(), vault: this.pdas.vault(), treasury: p.treasury },
    );
  }
  registerModel(p: {
    authority: PublicKey;
    modelId: Bytes32;
    profileHash: Bytes32;
    weightRoot: Bytes32;
    weightCount: number;
    layerCount: number;
    /** The single graph output's name (at most 32 bytes). */
    outputName: string;
    /** Exact (default) or tolerant (state/model.rs MODE_*). */
    mode?: ModelMode;
    /** Tolerant mode's arithmetic: 0 (default) fp32, or an input precision of 1..16 mantissa bits. */
    arithBits?: number;
  }) {
    return this.ix(
      'register_model',
      {
        model_id: b32(p.modelId, 'model id'),
        profile_hash: b32(p.profileHash, 'profile hash'),
        weight_root: b32(p.weightRoot, 'weight root'),
        weight_count: p.weightCount,
        layer_count: p.layerCount,
        output_name: Buffer.from(p.outputName, 'utf8'),
        mode: MODE[p.mode ?? 'exact'],
        arith_bits: p.arithBits ?? 0,
      },
      { authority: p.authority, config: this.pdas.config(), model: this.pdas.model(p.modelId) },
    );
  }
  /** Creates the model's shape record for `inputCount` graph inputs (before any op page). */
  initModelShapes(p: { authority: PublicKey; modelId: Bytes32; inputCount: number }) {
    const model = this.pdas.model(p.modelId);
    return this.ix(
      'init_model_shapes',
      { input_count: p.inputCount },
      { authority: p.authority, config: this.pdas.config(), model, shapes: this.pdas.shapes(model) },
    );
  }
  /** Appends `data` to the shape record at `offset` (its current length). */
  writeModelShapes(p: { authority: PublicKey; modelId: Bytes32; offset: number; data: Uint8Array }) {
    const model = this.pdas.model(p.modelId);
    return this.ix(
      'write_model_shapes',
      { offset: p.offset, data: Buffer.from(p.data) },
      { authority: p.authority, config: this.pdas.config(), model, shapes: this.pdas.shapes(model) },
    );
  }
  /** One page of up to 32 op entries (24 bytes each), pages in order from 0. */
  addModelOps(p: { authority: PublicKey; modelId: Bytes32; page: number; entries: Uint8Array }) {
    const model = this.pdas.model(p.modelId);
    return this.ix(
      'add_model_ops',
      { page: p.page, entries: Buffer.from(p.entries) },
      {
        authority: p.authority,
        config: this.pdas.config(),
        model,
        ops_page: this.pdas.ops(model, p.page),
        shapes: this.pdas.shapes(model),
      },
    );
  }
  bond(p: { owner: PublicKey; amount: U64 }) {
    return this.ix(
      'bond',
      { amount: bn(p.amount) },
      { owner: p.owner, config: this.pdas.config(), operator: this.pdas.operator(p.owner) },
    );
  }
  requestUnbond(p: { owner: PublicKey; amount: U64 }) {
    return this.ix(
      'request_unbond',
      { amount: bn(p.amount) },
      { owner: p.owner, config: this.pdas.config(), operator: this.pdas.operator(p.owner) },
    );
  }
  withdraw(p: { owner: PublicKey }) {
    return this.ix(
      'withdraw',
      {},
      { owner: p.owner, config: this.pdas.config(), operator: this.pdas.operator(p.owner) },
    );
  }
  /** `feeTotal` (default 0): lamports escrowed for the batch's record fees, the sum of its records' fees. */
  commitBatch(p: { sequencer: PublicKey; index: U64; root: Bytes32; jobCount: number; feeTotal?: U64 }) {
    return this.ix(
      'commit_batch',
      {
        index: bn(p.index),
        root: b32(p.root, 'batch root'),
        job_count: p.jobCount,
        fee_total: bn(p.feeTotal ?? 0n),
      },
      {
        sequencer: p.sequencer,
        config: this.pdas.config(),
        batch: this.pdas.batch(p.index),
        sequencer_operator: this.pdas.operator(p.sequencer),
      },
    );
  }
  /**
   * Proves record fault `kind` (RECORD_FAULT) of job `jobIndex` of batch `batchIndex`, committed by
   * `sequencer` (the batch's payer): the record, its signature and the batch tree siblings as open_dispute
   * takes them. The job is invalidated and the sequencer slashed, a bounty to `prover`.
   */
  proveRecordFault(p: RecordFaultProof & { prover: PublicKey; sequencer: PublicKey }) {
    if (p.record.length !== RECORD_BYTES || p.signature.length !== SIGNATURE_BYTES) {
      throw new OptinferError(
        'INVALID_INPUT',
        `record fault: expected a ${RECORD_BYTES}-byte record and a ${SIGNATURE_BYTES}-byte signature, got ${p.record.length} and ${p.signature.length}`,
      );
    }
    const batch = this.pdas.batch(p.batchIndex);
    return this.ix(
      'prove_record_fault',
      {
        job_index: p.jobIndex,
        kind: RECORD_FAULT[p.kind],
        record: [...p.record],
        signature: [...p.signature],
        siblings: batchSibs(p.siblings, p.siblingFees),
      },
      {
        prover: p.prover,
        config: this.pdas.config(),
        batch,
        sequencer_operator: this.pdas.operator(p.sequencer),
        executor_operator: this.pdas.operator(new PublicKey(p.record.subarray(128, 160))),
        model: this.pdas.model(p.record.subarray(32, 64)),
        job: this.pdas.job(batch, p.jobIndex),
        vault: this.pdas.vault(),
      },
    );
  }
  /**
   * Proves that batch `batchIndex`'s tree sums its fees above its escrow, from any one of its records
   * (`p` as prove_record_fault takes it, without a kind): the sequencer (the batch's payer) is slashed
   * once per batch, a bounty to `prover`. Valid until close_batch.
   */
  proveShortEscrow(p: Omit<RecordFaultProof, 'kind'> & { prover: PublicKey; sequencer: PublicKey }) {
    if (p.record.length !== RECORD_BYTES || p.signature.length !== SIGNATURE_BYTES) {
      throw new OptinferError(
        'INVALID_INPUT',
        `short escrow: expected a ${RECORD_BYTES}-byte record and a ${SIGNATURE_BYTES}-byte signature, got ${p.record.length} and ${p.signature.length}`,
      );
    }
    return this.ix(
      'prove_short_escrow',
      {
        job_index: p.jobIndex,
        record: [...p.record],
        signature: [...p.signature],
        siblings: batchSibs(p.siblings, p.siblingFees),
      },
      {
        prover: p.prover,
        config: this.pdas.config(),
        batch: this.pdas.batch(p.batchIndex),
        sequencer_operator: this.pdas.operator(p.sequencer),
        vault: this.pdas.vault(),
      },
    );
  }
  /**
   * Claims the fees of `claims` (jobs of finalized batch `batchIndex` whose records name `executor`),
   * paid to `executor` from the batch's escrow. When the batch has invalidated jobs (`withJobs`), each claimed job's Job address rides along as a remaining
   * account, in claim order, so the program can refuse an invalidated one.
   */
  claimFees(p: { executor: PublicKey; batchIndex: U64; claims: readonly FeeClaim[]; withJobs: boolean }) {
    if (p.claims.length === 0) throw new OptinferError('INVALID_INPUT', 'claim_fees: no claims');
    for (const c of p.claims) {
      if (c.record.length !== RECORD_BYTES || c.signature.length !== SIGNATURE_BYTES) {
        throw new OptinferError(
          'INVALID_INPUT',
          `claim_fees job ${c.jobIndex}: expected a ${RECORD_BYTES}-byte record and a ${SIGNATURE_BYTES}-byte signature, got ${c.record.length} and ${c.signature.length}`,
        );
      }
    }
    const batch = this.pdas.batch(p.batchIndex);
    const remaining: AccountMeta[] = p.withJobs
      ? p.claims.map((c) => ({
          pubkey: this.pdas.job(batch, c.jobIndex),
          isSigner: false,
          isWritable: false,
        }))
      : [];
    return this.ix(
      'claim_fees',
      {
        claims: p.claims.map((c) => ({
          job_index: c.jobIndex,
          record: [...c.record],
          signature: [...c.signature],
          siblings: batchSibs(c.siblings, c.siblingFees),
        })),
      },
      {
        executor: p.executor,
        batch,
        executor_operator: this.pdas.operator(p.executor),
      },
      remaining,
    );
  }
  /** Demands job `jobIndex` of batch `batchIndex`'s record and inputs on chain, `requester` paying rent and DATA_REQUEST_DEPOSIT. */
  requestData(p: { requester: PublicKey; batchIndex: U64; jobIndex: number }) {
    const batch = this.pdas.batch(p.batchIndex);
    return this.ix(
      'request_data',
      { job_index: p.jobIndex },
      {
        requester: p.requester,
        config: this.pdas.config(),
        batch,
        job: this.pdas.job(batch, p.jobIndex),
        request: this.pdas.dataRequest(batch, p.jobIndex),
      },
    );
  }
  /** Creates `owner`'s proof buffer for answering `request`; write_proof_buffer fills it (dispute = request). */
  initDataBuffer(p: { owner: PublicKey; request: PublicKey }) {
    return this.ix(
      'init_data_buffer',
      {},
      { owner: p.owner, request: p.request, buffer: this.pdas.proof(p.request, p.owner) },
    );
  }
  /** Answers the request on job `jobIndex` of `batch` with the record opening and the inputs in `answerer`'s buffer. */
  answerData(p: DataAnswer & { answerer: PublicKey; batch: PublicKey; jobIndex: number }) {
    if (p.record.length !== RECORD_BYTES || p.signature.length !== SIGNATURE_BYTES) {
      throw new OptinferError(
        'INVALID_INPUT',
        `answer_data: expected a ${RECORD_BYTES}-byte record and a ${SIGNATURE_BYTES}-byte signature, got ${p.record.length} and ${p.signature.length}`,
      );
    }
    const request = this.pdas.dataRequest(p.batch, p.jobIndex);
    return this.ix(
      'answer_data',
      {
        record: [...p.record],
        signature: [...p.signature],
        siblings: batchSibs(p.siblings, p.siblingFees),
      },
      {
        answerer: p.answerer,
        config: this.pdas.config(),
        batch: p.batch,
        request,
        buffer: this.pdas.proof(request, p.answerer),
      },
    );
  }
  /** Claims an unanswered request's timeout (any fee payer): `sequencer` is the batch's payer, `requester` the request's. */
  claimDataTimeout(p: { batch: PublicKey; jobIndex: number; requester: PublicKey; sequencer: PublicKey }) {
    return this.ix(
      'claim_data_timeout',
      {},
      {
        config: this.pdas.config(),
        batch: p.batch,
        request: this.pdas.dataRequest(p.batch, p.jobIndex),
        requester: p.requester,
        sequencer_operator: this.pdas.operator(p.sequencer),
        job: this.pdas.job(p.batch, p.jobIndex),
        vault: this.pdas.vault(),
      },
    );
  }
  /** Closes an answered request once its batch is final: rent to `requester`, the buffer's to `answerer`. */
  closeDataRequest(p: { batch: PublicKey; jobIndex: number; requester: PublicKey; answerer: PublicKey }) {
    const request = this.pdas.dataRequest(p.batch, p.jobIndex);
    return this.ix(
      'close_data_request',
      {},
      {
        request,
        batch: p.batch,
        requester: p.requester,
        buffer: this.pdas.proof(request, p.answerer),
        answerer: p.answerer,
      },
    );
  }
  finalizeBatch(p: { index: U64 }) {
    return this.ix('finalize_batch', {}, { config: this.pdas.config(), batch: this.pdas.batch(p.index) });
  }
  /**
   * Opens a dispute on job `jobIndex` of batch `batchIndex`: the 168-byte record, the executor's
   * signature over it and the batch tree siblings (leaf row upwards, each with its fee sum). The model and the executor are
   * read from the record. The program requires `resultSignatureCheck` right before it in the
   * transaction: send both with `openDisputeIxs`.
   */
  openDispute(p: OpenDisputeParams) {
    if (p.record.length !== RECORD_BYTES) {
      throw new OptinferError(
        'INVALID_INPUT',
        `job record: expected ${RECORD_BYTES} bytes, got ${p.record.length}`,
      );
    }
    if (p.signature.length !== SIGNATURE_BYTES) {
      throw new OptinferError(
        'INVALID_INPUT',
        `job record signature: expected ${SIGNATURE_BYTES} bytes, got ${p.signature.length}`,
      );
    }
    const batch = this.pdas.batch(p.batchIndex);
    const executor = new PublicKey(p.record.subarray(128, 160));
    return this.ix(
      'open_dispute',
      {
        job_index: p.jobIndex,
        record: [...p.record],
        signature: [...p.signature],
        siblings: batchSibs(p.siblings, p.siblingFees),
      },
      {
        challenger: p.challenger,
        config: this.pdas.config(),
        batch,
        model: this.pdas.model(p.record.subarray(32, 64)),
        executor_operator: this.pdas.operator(executor),
        challenger_operator: this.pdas.operator(p.challenger),
        job: this.pdas.job(batch, p.jobIndex),
        dispute: this.pdas.dispute(batch, p.jobIndex, p.challenger),
      },
    );
  }
  /**
   * The Ed25519 instruction open_dispute (or answer_data, with `answer`) checks: one signature, whose key
   * and signature bytes are read from that instruction at `openDisputeIndex` of the transaction (no copy)
   * and whose message is the record's 32-byte result digest, carried in this instruction's own data.
   */
  resultSignatureCheck(p: { record: Uint8Array; openDisputeIndex: number; answer?: boolean }) {
    const data = Buffer.alloc(16 + 32);
    data[0] = 1; // one signature; data[1] is padding
    const offsets = [
      p.answer ? ANSWER_DATA_SIGNATURE_OFFSET : OPEN_DISPUTE_SIGNATURE_OFFSET,
      p.openDisputeIndex,
      p.answer ? ANSWER_DATA_PUBKEY_OFFSET : OPEN_DISPUTE_PUBKEY_OFFSET,
      p.openDisputeIndex,
      16,
      32,
      0xffff, // the message is in this instruction
    ];
    offsets.forEach((v, k) => data.writeUInt16LE(v, 2 + 2 * k));
    data.set(resultDigestOf(p.record), 16);
    return new TransactionInstruction({ programId: ED25519_PROGRAM_ID, keys: [], data });
  }
  /** Adds `amount` lamports to `user`'s deposit, creating it on first use; a top-up cancels a pending withdrawal. */
  deposit(p: { user: PublicKey; amount: U64 }) {
    return this.ix(
      'deposit',
      { amount: bn(p.amount) },
      { user: p.user, config: this.pdas.config(), deposit: this.pdas.deposit(p.user) },
    );
  }
  /**
   * The sequencer redeems `user`'s voucher for `cumulative` lamports (state/voucher.ts). The program
   * requires `voucherSignatureCheck` right before it in the transaction: send both with `drawDepositIxs`.
   */
  drawDeposit(p: DrawDepositParams) {
    if (p.signature.length !== VOUCHER_SIGNATURE_BYTES) {
      throw new OptinferError(
        'INVALID_INPUT',
        `voucher signature: expected ${VOUCHER_SIGNATURE_BYTES} bytes, got ${p.signature.length}`,
      );
    }
    return this.ix(
      'draw_deposit',
      { cumulative: bn(p.cumulative), signature: [...p.signature] },
      { sequencer: p.sequencer, config: this.pdas.config(), deposit: this.pdas.deposit(p.user) },
    );
  }
  /**
   * The Ed25519 instruction draw_deposit checks: one signature, read from the draw_deposit instruction
   * at `drawIndex` of the transaction; the user's key and the voucher digest are in this instruction's
   * own data.
   */
  voucherSignatureCheck(p: { user: PublicKey; sequencer: PublicKey; cumulative: U64; drawIndex: number }) {
    const data = Buffer.alloc(16 + 32 + 32);
    data[0] = 1; // one signature; data[1] is padding
    const offsets = [DRAW_DEPOSIT_SIGNATURE_OFFSET, p.drawIndex, 16, 0xffff, 48, 32, 0xffff];
    offsets.forEach((v, k) => data.writeUInt16LE(v, 2 + 2 * k));
    p.user.toBuffer().copy(data, 16);
    voucherDigest({
      programId: this.programId,
      user: p.user,
      sequencer: p.sequencer,
      cumulative: BigInt(p.cumulative),
    }).copy(data, 48);
    return new TransactionInstruction({ programId: ED25519_PROGRAM_ID, keys: [], data });
  }
  /** The Ed25519 check then draw_deposit, for a transaction where they land at `at` and `at + 1`. */
  drawDepositIxs(p: DrawDepositParams, at = 0): TransactionInstruction[] {
    return [this.voucherSignatureCheck({ ...p, drawIndex: at + 1 }), this.drawDeposit(p)];
  }
  /** Starts `user`'s deposit withdrawal delay (one dispute clock, Config.clockSlots). */
  requestWithdrawDeposit(p: { user: PublicKey }) {
    return this.ix(
      'request_withdraw_deposit',
      {},
      { user: p.user, config: this.pdas.config(), deposit: this.pdas.deposit(p.user) },
    );
  }
  /** After the delay: pays `user` its undrawn balance (the account and its rent stay). */
  withdrawDeposit(p: { user: PublicKey }) {
    return this.ix(
      'withdraw_deposit',
      {},
      { user: p.user, config: this.pdas.config(), deposit: this.pdas.deposit(p.user) },
    );
  }
  /** The Ed25519 check then answer_data, for a transaction where they land at `at` and `at + 1`. */
  answerDataIxs(
    p: DataAnswer & { answerer: PublicKey; batch: PublicKey; jobIndex: number },
    at = 0,
  ): TransactionInstruction[] {
    return [
      this.resultSignatureCheck({ record: p.record, openDisputeIndex: at + 1, answer: true }),
      this.answerData(p),
    ];
  }
  /** The Ed25519 check then open_dispute, for a transaction where they land at `at` and `at + 1`. */
  openDisputeIxs(p: OpenDisputeParams, at = 0): TransactionInstruction[] {
    return [this.resultSignatureCheck({ record: p.record, openDisputeIndex: at + 1 }), this.openDispute(p)];
  }
  commitTrace(p: {
    signer: PublicKey;
    dispute: PublicKey;
    model: PublicKey;
    root: Bytes32;
    layerCount: number;
    prevPrefix: Bytes32;
    lastDigest: Bytes32;
    siblings: readonly Uint8Array[];
  }) {
    return this.ix(
      'commit_trace',
      {
        root: b32(p.root, 'trace root'),
        layer_count: p.layerCount,
        prev_prefix: b32(p.prevPrefix, 'prev prefix'),
        last_digest: b32(p.lastDigest, 'last digest'),
        siblings: sibs(p.siblings),
      },
      { signer: p.signer, dispute: p.dispute, config: this.pdas.config(), model: p.model },
    );
  }
  bisectLayer(p: {
    signer: PublicKey;
    dispute: PublicKey;
    prefix: Bytes32;
    siblings: readonly Uint8Array[];
  }) {
    return this.ix(
      'bisect_layer',
      { prefix: b32(p.prefix, 'prefix'), siblings: sibs(p.siblings) },
      { signer: p.signer, dispute: p.dispute, config: this.pdas.config() },
    );
  }
  /** `header` is `u8 dtype || u8 rank || rank x u64 dims`. */
  revealLayer(p: { signer: PublicKey; dispute: PublicKey; header: Uint8Array; chunkRoot: Bytes32 }) {
    return this.ix(
      'reveal_layer',
      { header: Buffer.from(p.header), chunk_root: b32(p.chunkRoot, 'chunk root') },
      { signer: p.signer, dispute: p.dispute, config: this.pdas.config() },
    );
  }
  bisectChunk(p: { signer: PublicKey; dispute: PublicKey; left: Bytes32; right: Bytes32 }) {
    return this.ix(
      'bisect_chunk',
      { left: b32(p.left, 'left'), right: b32(p.right, 'right') },
      { signer: p.signer, dispute: p.dispute, config: this.pdas.config() },
    );
  }
  /** Tolerant models: the executor's disputed chunk bytes (empty for the ZERO padding leaf). */
  revealLeaf(p: { signer: PublicKey; dispute: PublicKey; bytes: Uint8Array }) {
    return this.ix(
      'reveal_leaf',
      { bytes: Buffer.from(p.bytes) },
      { signer: p.signer, dispute: p.dispute, config: this.pdas.config() },
    );
  }
  initProofBuffer(p: { owner: PublicKey; dispute: PublicKey }) {
    return this.ix(
      'init_proof_buffer',
      {},
      { owner: p.owner, dispute: p.dispute, buffer: this.pdas.proof(p.dispute, p.owner) },
    );
  }
  /** Writes `data` at `offset` (at most the bytes written so far), growing capacity by `grow` first. */
  writeProofBuffer(p: {
    owner: PublicKey;
    dispute: PublicKey;
    offset: number;
    grow?: number;
    data: Uint8Array;
  }) {
    return this.ix(
      'write_proof_buffer',
      { offset: p.offset, grow: p.grow ?? 0, data: Buffer.from(p.data) },
      { owner: p.owner, buffer: this.pdas.proof(p.dispute, p.owner) },
    );
  }
  closeProofBuffer(p: { owner: PublicKey; dispute: PublicKey }) {
    return this.ix('close_proof_buffer', {}, { owner: p.owner, buffer: this.pdas.proof(p.dispute, p.owner) });
  }
  /** Accounts a resolution pays through (one_step and claim_timeout). */
  private resolveAccounts(p: DisputeParties) {
    return {
      dispute: p.dispute,
      config: this.pdas.config(),
      batch: p.batch,
      executor_operator: this.pdas.operator(p.executor),
      challenger_operator: this.pdas.operator(p.challenger),
      vault: this.pdas.vault(),
      job: this.pdas.job(p.batch, p.jobIndex),
    };
  }
  /**
   * The one-step of layer `layer` from the proof buffer of `bufferOwner` (the submitter's by
   * default); `maxElements` > 0 computes that many more output elements (resumable).
   */
  oneStep(
    p: DisputeParties & {
      submitter: PublicKey;
      model: PublicKey;
      layer: number;
      bufferOwner?: PublicKey;
      maxElements?: number;
    },
  ) {
    return this.ix(
      'one_step',
      { max_elements: p.maxElements ?? 0 },
      {
        submitter: p.submitter,
        ...this.resolveAccounts(p),
        model: p.model,
        ops_page: this.pdas.opsForLayer(p.model, p.layer),
        buffer: this.pdas.proof(p.dispute, p.bufferOwner ?? p.submitter),
        shapes: this.pdas.shapes(p.model),
      },
    );
  }
  claimTimeout(p: DisputeParties) {
    return this.ix('claim_timeout', {}, this.resolveAccounts(p));
  }
  /** Ends a game whose job another game invalidated: stakes unlocked, its rent back to its challenger. */
  /** Closes finalized batch `index` after its grace: its rent goes back to `payer`, who paid it at commit. */
  closeBatch(p: { index: U64; payer: PublicKey }) {
    return this.ix(
      'close_batch',
      {},
      { config: this.pdas.config(), batch: this.pdas.batch(p.index), payer: p.payer },
    );
  }
  /** Closes a resolved game's Dispute account once its batch is final: its rent goes back to its challenger. */
  closeDispute(p: { dispute: PublicKey; challenger: PublicKey; batch: PublicKey }) {
    return this.ix('close_dispute', {}, { dispute: p.dispute, challenger: p.challenger, batch: p.batch });
  }
  /** Closes a job's account its games did not invalidate once its batch is final: rent back to `payer`. */
  closeJob(p: { batch: PublicKey; jobIndex: number; payer: PublicKey }) {
    return this.ix(
      'close_job',
      {},
      { job: this.pdas.job(p.batch, p.jobIndex), payer: p.payer, batch: p.batch },
    );
  }
  /** Pays an invalidated job's payer the rent refund its Job account holds (anyone may send it). */
  refundJobRent(p: { batch: PublicKey; jobIndex: number; payer: PublicKey }) {
    return this.ix('refund_job_rent', {}, { job: this.pdas.job(p.batch, p.jobIndex), payer: p.payer });
  }
  /** Closes `owner`'s emptied Operator account (nothing bonded, locked, unbonding, no open game). */
  closeOperator(p: { owner: PublicKey }) {
    return this.ix(
      'close_operator',
      {},
      { owner: p.owner, operator: this.pdas.operator(p.owner), config: this.pdas.config() },
    );
  }
  endMootGame(p: DisputeParties) {
    return this.ix(
      'end_moot_game',
      {},
      {
        dispute: p.dispute,
        challenger: p.challenger,
        batch: p.batch,
        job: this.pdas.job(p.batch, p.jobIndex),
        executor_operator: this.pdas.operator(p.executor),
        challenger_operator: this.pdas.operator(p.challenger),
      },
    );
  }
}

export interface DrawDepositParams {
  sequencer: PublicKey;
  /** The user whose deposit pays (and whose key signed the voucher). */
  user: PublicKey;
  /** The voucher's cumulative lamports. */
  cumulative: U64;
  /** The user's 64-byte Ed25519 signature over the voucher digest (state/voucher.ts). */
  signature: Uint8Array;
}

export interface OpenDisputeParams {
  challenger: PublicKey;
  batchIndex: U64;
  jobIndex: number;
  record: Uint8Array;
  /** The executor's Ed25519 signature over the record's result digest (state/job.ts signResult). */
  signature: Uint8Array;
  /** Batch tree siblings (state/fee-tree.ts), leaf row upwards, and the fee sum under each. */
  siblings: readonly Uint8Array[];
  siblingFees: readonly bigint[];
}

/** One job whose fee claim_fees pays: its committed record, the executor's signature and the batch tree siblings. */
export interface FeeClaim {
  jobIndex: number;
  record: Uint8Array;
  signature: Uint8Array;
  siblings: readonly Uint8Array[];
  siblingFees: readonly bigint[];
}

/** What resolving a dispute needs besides the dispute itself (from the Dispute account). */
export interface DisputeParties {
  dispute: PublicKey;
  batch: PublicKey;
  jobIndex: number;
  executor: PublicKey;
  challenger: PublicKey;
}

export const instructions = new InstructionBuilder();
