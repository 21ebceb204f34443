// Decodes the program's accounts (zero-copy, align 1, 8-byte discriminator first) into typed objects.
import { PublicKey } from '@solana/web3.js';
import { OptinferError } from '../state/errors.ts';
import { CODER, IDL } from './idl.ts';
import { convertStruct } from './codec.ts';
import type { Phase } from '../dispute/phases.ts';

// Phases live with the dispute game's transition table; re-exported for this module's importers.
export { PHASE, PHASE_NAMES, type Phase } from '../dispute/phases.ts';

export interface ConfigAccount {
  authority: PublicKey;
  /** Key propose_authority named (all zeros when no handover is pending). */
  pendingAuthority: PublicKey;
  sequencer: PublicKey;
  /** Where withdraw_treasury pays the vault's lamports. */
  treasury: PublicKey;
  /** Game slots after commit during which a batch can be disputed (each batch keeps its own). */
  challengeWindow: bigint;
  /** Chess-clock budget of each side, in game slots (each dispute keeps its own). */
  clockSlots: bigint;
  minExecutorBond: bigint;
  minChallengerBond: bigint;
  unbondingSlots: bigint;
  nextBatchIndex: bigint;
  /** Slots spent in earlier pauses; game time = slot - these - the current pause. */
  pausedSlots: bigint;
  /** Slot the current pause began (meaningful while paused). */
  pauseStart: bigint;
  /**
   * Latest game slot a dispute on a committed batch can open before (its window, then a late answer's deadline and
   * clock, under the batch's own window and clock): no unbond requested now is ready before it + UNBONDING_MARGIN_SLOTS.
   */
  latestDisputeEnd: bigint;
  /** Least clockSlots the games on registered models need (SLOTS_PER_TX per challenger transaction); update_config refuses less. */
  clockFloor: bigint;
  /** Game slot before which no withdrawal pays out: a batch committed soon after a window or clock raise holds pending unbonds until its window end + margin. */
  withdrawFloor: bigint;
  /** Game slot of the last update_config that lengthened window + 2 x clock. */
  spanRaisedAt: bigint;
  /** Shortest unbond span in force before that run of raises. */
  spanBeforeRaise: bigint;
  bountyBps: number;
  paused: number;
  bump: number;
}
export interface OperatorAccount {
  owner: PublicKey;
  /** Bonded lamports (rent excluded), locked and unbonding parts included. */
  bonded: bigint;
  /** Staked in open games, as executor and as challenger (the two together may exceed bonded). */
  locked: bigint;
  /** Part of locked staked as challenger; the executor part (locked - challengerLocked) stays within bonded. */
  challengerLocked: bigint;
  unbonding: bigint;
  unbondReadySlot: bigint;
  /** Lamports won as bounties in dispute games over the account's life. */
  bountiesEarned: bigint;
  /** Fees claimed for valid jobs over the account's life. */
  feesEarned: bigint;
  /** Lamports lost to slashes (lost games, record faults as sequencer) over the account's life. */
  slashed: bigint;
  /** Game slot at which bonded last fell to 0 (slash or withdrawal): a record committed before it is no kind-0 fault. */
  emptiedSlot: bigint;
  openDisputes: number;
  bump: number;
}
/** A user's prepaid job balance (state/deposit.rs), drawn by the sequencer with the user's vouchers. */
export interface DepositAccount {
  user: PublicKey;
  /** Lamports held for the sequencer to draw (rent excluded). */
  balance: bigint;
  /** Lamports the sequencer drew over the account's life: a voucher pays only what it adds to this. */
  drawn: bigint;
  /** Game slot from which withdraw_deposit pays the balance back; 0 when no withdrawal is pending. */
  withdrawReadySlot: bigint;
  bump: number;
}
export interface ModelAccount {
  modelId: Buffer;
  profileHash: Buffer;
  weightRoot: Buffer;
  /** Raw 32-byte field; `outputNameText` is the name itself. */
  outputName: Buffer;
  outputNameLen: number;
  outputNameText: string;
  bump: number;
  weightCount: number;
  layerCount: number;
  opsLoaded: number;
  /** state/model.rs MODE_EXACT (0) or MODE_TOLERANT (1). */
  mode: number;
  /** Tolerant mode's declared arithmetic: 0 fp32, else input mantissa bits. */
  arithBits: number;
}
export interface OpsPageAccount {
  model: PublicKey;
  page: number;
  count: number;
  bump: number;
  /** The 24-byte op entries loaded in this page (`count` of them). */
  entries: Buffer[];
}
export interface BatchAccount {
  root: Buffer;
  /** Who paid the account's rent at commit (the sequencer then); close_batch returns it there. */
  payer: PublicKey;
  index: bigint;
  /** Game slot of the commit (paused slots excluded). */
  commitSlot: bigint;
  /** The challenge window the batch was committed with. */
  challengeWindow: bigint;
  /** min_executor_bond when the batch was committed: each disputed job's shared executor stake is topped up to it. */
  executorStake: bigint;
  /** bounty_bps when the batch was committed: what its games pay (checked with executorStake then). */
  bountyBps: number;
  /** Lamports the sequencer escrowed at commit for the batch's record fees (claim_fees pays from them). */
  feeTotal: bigint;
  /** Record fees claimed so far: the escrow holds feeTotal - feesClaimed. */
  feesClaimed: bigint;
  /** Game slot of finalize_batch (0 before): close_batch's grace counts from it. */
  finalizedSlot: bigint;
  jobCount: number;
  openDisputes: number;
  invalidated: number;
  finalized: number;
  bump: number;
  /** 1 once prove_short_escrow proved the batch tree's fee sum above feeTotal (the sequencer slashed once). */
  escrowShort: number;
  /** Open data requests on the batch's jobs (request_data): finalize_batch waits for them. */
  openRequests: number;
  /**
   * Lamports left of the batch's fault reserve (one fault slash the sequencer moved in at commit): faults on
   * the batch are slashed from it first, a short escrow it covers is topped up from it, close_batch returns the rest.
   */
  faultReserve: bigint;
  /**
   * Game slot before which open_dispute stays open past the window (0: none): answer_data sets it to the
   * answer's slot plus one clock, and finalize_batch waits for it as for the window.
   */
  disputableUntil: bigint;
  /**
   * The dispute clock in force when the batch committed: a data request on it is due within
   * max(disputeClock, DATA_ANSWER_SLOTS) and its answer leaves one disputeClock to dispute.
   */
  disputeClock: bigint;
}
/** Where a Batch account's claim bitmap starts (state/batch.rs CLAIM_BITS_OFFSET): after its discriminator and fields. */
export const BATCH_CLAIM_BITS_OFFSET = 173;
/** Whether claim_fees paid job `job`'s fee, from the Batch account's data (bit job % 8 of bitmap byte job / 8). */
export function feeClaimed(batchData: Uint8Array, job: number): boolean {
  const byte = batchData[BATCH_CLAIM_BITS_OFFSET + (job >> 3)];
  if (byte === undefined) throw new OptinferError('INVALID_ACCOUNT', `Batch: no claim bit for job ${job}`);
  return (byte & (1 << (job & 7))) !== 0;
}
/** One disputed job: its open games, the executor stake they share, and whether a game invalidated it. */
export interface JobAccount {
  batch: PublicKey;
  /** The challenger whose open_dispute created the account and paid its rent (close_job returns it). */
  payer: PublicKey;
  executorStake: bigint;
  jobIndex: number;
  openGames: number;
  invalidated: number;
  bump: number;
}
export const SIDE = { EXECUTOR: 0, CHALLENGER: 1 } as const;
export type Side = (typeof SIDE)[keyof typeof SIDE];
/** `chunkIndex` value meaning the two sides disagree on the layer header (dtype or dims). */
export const CHUNK_HEADER = 0xffffffff;

export interface DisputeAccount {
  batch: PublicKey;
  model: PublicKey;
  executor: PublicKey;
  challenger: PublicKey;
  modelId: Buffer;
  inputDigest: Buffer;
  outputDigest: Buffer;
  /** [executor, challenger] */
  traceRoot: Buffer[];
  agreedPrefix: Buffer;
  hiPrefix: Buffer[];
  pending: Buffer[];
  header: Buffer[];
  chunkRoot: Buffer[];
  node: Buffer[];
  /** The job's shared executor stake when this game opened; what it took once the challenger won. */
  executorStake: bigint;
  challengerStake: bigint;
  /** Game slots left, [executor, challenger]. */
  clock: bigint[];
  /** Game slot of the last move. */
  lastMoveSlot: bigint;
  /** Winner's share of the loser's stake, as configured when the dispute opened. */
  bountyBps: number;
  jobIndex: number;
  layerCount: number;
  agreed: number;
  disagree: number;
  chunkLevel: number;
  chunkIndex: number;
  moves: number;
  stepDone: number;
  stepOut: Buffer;
  phase: Phase;
  /** Side to move. */
  turn: Side;
  /** Meaningful once phase is RESOLVED. */
  winner: Side;
  /** Once RESOLVED: 1 when a claimed timeout decided it, 0 when the one-step did. */
  byTimeout: number;
  bump: number;
}
/** A layer header as the Dispute account stores it (26 bytes: dtype, rank, 6 x u32 dims). */
export { decodeStoredHeader as unpackHeader } from '../state/optable.ts';

/** Whether a model's whole op table is loaded (disputes on it refuse otherwise: ModelNotReady). */
export const modelReady = (m: ModelAccount) => m.opsLoaded === m.layerCount;

/**
 * A data request on one job (["data", batch, job index], state/data_request.rs): open until answered
 * (the record and signature here, the inputs in the answerer's frozen proof buffer) or timed out.
 */
export interface DataRequestAccount {
  batch: PublicKey;
  /** Paid the rent and the deposit: the rent back at close, the deposit and bounty on timeout. */
  requester: PublicKey;
  /** Owner of the proof buffer ["proof", request, answerer] holding the posted inputs (zeros until answered). */
  answerer: PublicKey;
  /** Game slot from which the request is unanswerable and claim_data_timeout pays. */
  deadline: bigint;
  jobIndex: number;
  answered: number;
  bump: number;
  /** The committed record and its executor signature, once answered (zeros before). */
  record: Buffer;
  signature: Buffer;
  /** The batch tree opening answer_data checked: `depth` siblings of 40 bytes (hash, u64 LE fee sum). */
  depth: number;
  siblings: Buffer;
}

export interface ProofBufferAccount {
  dispute: PublicKey;
  owner: PublicKey;
  bump: number;
  /** Bytes written so far. */
  len: number;
  /** Bytes the account can hold without growing. */
  capacity: number;
  data: Buffer;
}

export type AccountName =
  | 'Config'
  | 'Operator'
  | 'Model'
  | 'OpsPage'
  | 'Batch'
  | 'Job'
  | 'Dispute'
  | 'ProofBuffer'
  | 'Vault'
  | 'Deposit'
  | 'DataRequest';

/**
 * Byte offset of `field` in the account `name` (discriminator included), read from the IDL: the fields before it
 * must be public keys or byte arrays (fixed size, align 1). For memcmp filters and data slices.
 */
export function fieldOffset(name: AccountName, field: string): number {
  const t = (IDL.types ?? []).find((x) => x.name === name)?.type as
    { kind: string; fields?: { name: string; type: unknown }[] } | undefined;
  let at = 8;
  for (const f of t?.fields ?? []) {
    if (f.name === field) return at;
    const ty = f.type as string | { array?: [unknown, number] };
    if (ty === 'pubkey') at += 32;
    else if (typeof ty === 'object' && ty.array?.[0] === 'u8') at += ty.array[1];
    else break;
  }
  throw new OptinferError('INTERNAL', `IDL: no fixed offset for ${name}.${field}`);
}

/**
 * The accounts whose rent (and whatever else they hold) goes back at close to a key they record, and the field
 * naming it: a Batch to its payer (the sequencer: rent, the unclaimed fee escrow and the fault reserve), a Job to
 * its payer, a Dispute to its challenger, a DataRequest to its requester (rent and deposit), a ProofBuffer to its owner.
 */
export const RENT_PAYER_FIELD = {
  Batch: 'payer',
  Job: 'payer',
  Dispute: 'challenger',
  DataRequest: 'requester',
  ProofBuffer: 'owner',
} as const satisfies Partial<Record<AccountName, string>>;
export type RentAccountName = keyof typeof RENT_PAYER_FIELD;

/** ProofBuffer is a Slab: [disc 8][dispute 32][owner 32][bump 1][len u32][bytes...]. */
export const PROOF_BUFFER_LEN_OFFSET = 8 + 32 + 32 + 1;
export const PROOF_BUFFER_DATA_OFFSET = PROOF_BUFFER_LEN_OFFSET + 4;

const DISCRIMINATORS = new Map<AccountName, Buffer>(
  (IDL.accounts ?? []).map((a) => [a.name as AccountName, Buffer.from(a.discriminator)]),
);

export function discriminatorOf(name: AccountName): Buffer {
  const d = DISCRIMINATORS.get(name);
  if (!d) throw new OptinferError('INTERNAL', `IDL has no account ${name}`);
  return d;
}

/** Which of the program's accounts these bytes hold, by discriminator; null if none. */
export function accountKind(data: Uint8Array): AccountName | null {
  for (const [name, d] of DISCRIMINATORS) {
    if (data.length >= 8 && Buffer.from(data.subarray(0, 8)).equals(d)) return name;
  }
  return null;
}

function decodeRaw(name: AccountName, data: Uint8Array): Record<string, unknown> {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
  if (!buf.subarray(0, 8).equals(discriminatorOf(name))) {
    throw new OptinferError('INVALID_ACCOUNT', `account data is not a ${name} (discriminator mismatch)`);
  }
  try {
    return convertStruct(CODER.accounts.decode(name, buf) as Record<string, unknown>, name);
  } catch (cause) {
    throw new OptinferError('INVALID_ACCOUNT', `${name}: undecodable account data`, undefined, { cause });
  }
}

export const decodeConfig = (d: Uint8Array) => decodeRaw('Config', d) as unknown as ConfigAccount;
export const decodeOperator = (d: Uint8Array) => decodeRaw('Operator', d) as unknown as OperatorAccount;
export const decodeBatch = (d: Uint8Array) => decodeRaw('Batch', d) as unknown as BatchAccount;
export const decodeDispute = (d: Uint8Array) => decodeRaw('Dispute', d) as unknown as DisputeAccount;
export const decodeJob = (d: Uint8Array) => decodeRaw('Job', d) as unknown as JobAccount;
export const decodeDeposit = (d: Uint8Array) => decodeRaw('Deposit', d) as unknown as DepositAccount;
export const decodeDataRequest = (d: Uint8Array) =>
  decodeRaw('DataRequest', d) as unknown as DataRequestAccount;

export function decodeModel(d: Uint8Array): ModelAccount {
  const m = decodeRaw('Model', d) as unknown as ModelAccount;
  m.outputNameText = m.outputName.subarray(0, m.outputNameLen).toString('utf8');
  return m;
}

export function decodeOpsPage(d: Uint8Array): OpsPageAccount {
  const p = decodeRaw('OpsPage', d) as unknown as OpsPageAccount;
  p.entries = p.entries.slice(0, p.count);
  return p;
}

export function decodeProofBuffer(d: Uint8Array): ProofBufferAccount {
  const head = decodeRaw('ProofBuffer', d) as unknown as ProofBufferAccount;
  const buf = Buffer.from(d.buffer, d.byteOffset, d.length);
  if (buf.length < PROOF_BUFFER_DATA_OFFSET) {
    throw new OptinferError('INVALID_ACCOUNT', `ProofBuffer: ${buf.length} bytes, shorter than its header`);
  }
  const len = buf.readUInt32LE(PROOF_BUFFER_LEN_OFFSET);
  const capacity = buf.length - PROOF_BUFFER_DATA_OFFSET;
  if (len > capacity) {
    throw new OptinferError('INVALID_ACCOUNT', `ProofBuffer: length ${len} past its capacity ${capacity}`);
  }
  return {
    ...head,
    len,
    capacity,
    data: Buffer.from(buf.subarray(PROOF_BUFFER_DATA_OFFSET, PROOF_BUFFER_DATA_OFFSET + len)),
  };
}
