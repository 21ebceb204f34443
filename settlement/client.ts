// SettlementClient: what the sequencer, executors and challengers call on the program. Instructions come
// from instructions.ts only, accounts are decoded by accounts.ts, transactions go through a Sender.
import { ComputeBudgetProgram, PublicKey, type Signer, type TransactionInstruction } from '@solana/web3.js';
import { noProgress, type Progress } from '../common/progress.ts';
import { OptinferError } from '../state/errors.ts';
import { openingOf, type InclusionProof } from '../state/job.ts';
import { OP_ENTRY_BYTES, OPS_PER_PAGE, type ModelMode } from '../state/optable.ts';
import { decodeShapeRecord, encodeShapeRecord, type ShapeRecord } from '../state/shapes.ts';
import {
  CHUNK_HEADER,
  PHASE,
  decodeBatch,
  decodeDataRequest,
  decodeConfig,
  decodeDeposit,
  decodeDispute,
  decodeJob,
  decodeModel,
  decodeOperator,
  decodeOpsPage,
  decodeProofBuffer,
  discriminatorOf,
  fieldOffset,
  RENT_PAYER_FIELD,
  type RentAccountName,
  type BatchAccount,
  type ConfigAccount,
  type DepositAccount,
  type DisputeAccount,
  type JobAccount,
  type ModelAccount,
  type OperatorAccount,
  type OpsPageAccount,
  type ProofBufferAccount,
  type DataRequestAccount,
} from './accounts.ts';
import {
  InstructionBuilder,
  computeLimitFor,
  PROOF_INIT_CAPACITY,
  PROOF_MAX_GROWTH,
  PROOF_WRITE_BYTES,
  type Bytes32,
  type ConfigParams,
  type DisputeParties,
  type InstructionName,
  type FeeClaim,
  type RecordFaultProof,
  type DataAnswer,
  type U64,
} from './instructions.ts';
import type { Pdas } from './pdas.ts';
import type { SendResult, Sender } from './sender.ts';
import type { LogEvents } from './events.ts';

/** One game: `challenger`'s dispute on job `jobIndex` of batch `batchIndex`. */
export interface GameRef {
  batchIndex: U64;
  jobIndex: number;
  challenger: PublicKey;
}

export interface SettlementClientOptions {
  /** Priority fee, micro-lamports per compute unit (a setComputeUnitPrice instruction); none by default. */
  priorityMicroLamports?: number;
}

export interface ModelRegistration {
  modelId: Bytes32;
  profileHash: Bytes32;
  weightRoot: Bytes32;
  weightCount: number;
  /** Op entries, 24 bytes each, one per traced layer (their count is the layer count). */
  opEntries: Uint8Array[];
  outputName: string;
  /** Registered shapes (state/shapes.ts): add_model_ops checks every layer against them. */
  shapes: ShapeRecord;
  /** Exact (default) or tolerant: part of the model's commitment, fixed at registration. */
  mode?: ModelMode;
  /** Tolerant mode's declared arithmetic: 0 (default) fp32; m in 1..16 inputs rounded to m mantissa bits (TF32 10, BF16 7). */
  arithBits?: number;
}

/** ModelShapes account: `[disc 8][model 32][input_count u16][bump][sealed][len u32][bytes]`. */
const SHAPES_INPUT_COUNT_OFFSET = 8 + 32;
const SHAPES_LEN_OFFSET = 8 + 32 + 2 + 1 + 1;
/** Shape-record bytes per write_model_shapes transaction. */
export const SHAPES_WRITE_BYTES = 900;

/** The layer whose prefix the next bisect_layer reveals. */
export const bisectMid = (d: DisputeAccount) => d.agreed + Math.floor((d.disagree - d.agreed) / 2);
/** True when the disputed layer's headers differ and the one-step decides on the header alone. */
export const headerDispute = (d: DisputeAccount) => d.chunkIndex === CHUNK_HEADER;
/**
 * Game time at `slot` (game.rs game_slot): the slot minus every slot spent paused, the current pause
 * included. Batch commit slots, dispute move slots and unbond ready slots are all in game time.
 */
export function gameSlot(c: ConfigAccount, slot: bigint): bigint {
  const current = c.paused !== 0 && slot > c.pauseStart ? slot - c.pauseStart : 0n;
  const off = c.pausedSlots + current;
  return slot > off ? slot - off : 0n;
}
/**
 * The real slot at which game slot `game` comes if the program is not paused again (the inverse of gameSlot
 * while running). While paused it is later by however long the current pause lasts: this is the earliest.
 */
export const toRealSlot = (c: ConfigAccount, game: bigint): bigint => game + c.pausedSlots;
/** Game slots the side to move has left at game slot `slot` (0 once spent). */
export function clockLeft(d: DisputeAccount, slot: bigint): bigint {
  const elapsed = slot > d.lastMoveSlot ? slot - d.lastMoveSlot : 0n;
  const left = d.clock[d.turn];
  return elapsed >= left ? 0n : left - elapsed;
}
/**
 * First game slot at which claim_timeout succeeds against the side to move; equal to the slot while
 * the program was never paused (see gameSlot).
 */
export const timeoutSlot = (d: DisputeAccount) => d.lastMoveSlot + d.clock[d.turn] + 1n;

/**
 * First slot at which batch `b` can no longer be disputed and can be finalized: its own window in
 * game time, plus the slots paused so far (a later pause moves it further).
 */
export const windowEndSlot = (b: BatchAccount, c: ConfigAccount) =>
  toRealSlot(c, b.commitSlot + b.challengeWindow);
/**
 * Game slot open_dispute on `b` closes at (state/batch.rs Batch::dispute_end): its window's end, or one clock
 * after a data request answered late (disputableUntil), whichever is later.
 */
export const disputeEndGameSlot = (b: BatchAccount): bigint => {
  const windowEnd = b.commitSlot + b.challengeWindow;
  return b.disputableUntil > windowEnd ? b.disputableUntil : windowEnd;
};
/** Whether open_dispute on `b` would pass the pause and window checks at `slot`. */
export const disputable = (b: BatchAccount, c: ConfigAccount, slot: bigint) =>
  c.paused === 0 && b.finalized === 0 && gameSlot(c, slot) < disputeEndGameSlot(b);
/** Whether finalize_batch on `b` succeeds at `slot`. */
export const finalizable = (b: BatchAccount, c: ConfigAccount, slot: bigint) =>
  c.paused === 0 &&
  b.finalized === 0 &&
  b.openDisputes === 0 &&
  b.openRequests === 0 &&
  gameSlot(c, slot) >= disputeEndGameSlot(b);
/**
 * First slot at which close_batch on finalized batch `b` succeeds: one more challenge window after its own
 * window or after its finalization, whichever is later (programs/optinfer/src/state/batch.rs
 * CLOSE_GRACE_WINDOWS), in game time, plus the slots paused so far.
 */
export const CLOSE_GRACE_WINDOWS = 1n;
const closeGameSlot = (b: BatchAccount) => {
  const windowEnd = b.commitSlot + b.challengeWindow;
  return (
    (windowEnd > b.finalizedSlot ? windowEnd : b.finalizedSlot) + b.challengeWindow * CLOSE_GRACE_WINDOWS
  );
};
export const closeSlot = (b: BatchAccount, c: ConfigAccount) => toRealSlot(c, closeGameSlot(b));
/** Whether close_batch on `b` succeeds at `slot`. */
export const closable = (b: BatchAccount, c: ConfigAccount, slot: bigint) =>
  b.finalized !== 0 && gameSlot(c, slot) >= closeGameSlot(b);

/**
 * What the chain says of a batch index. Batches are committed at strictly increasing indices (Config's
 * next_batch_index), so an index below it with no account was committed, finalized and closed: only
 * close_batch removes a batch account, and only a finalized one. Its root is gone with the account; its
 * invalidated jobs keep their Job accounts (close_job refuses them).
 */
export type BatchState =
  { state: 'uncommitted' } | { state: 'open'; batch: BatchAccount } | { state: 'closed'; index: bigint };

/** Game slot from which withdraw pays `op`'s unbond: its own ready slot, or the hold a later window or clock raise set (Config.withdrawFloor). */
export function unbondReadyAt(config: ConfigAccount, op: OperatorAccount): bigint {
  return op.unbondReadySlot > config.withdrawFloor ? op.unbondReadySlot : config.withdrawFloor;
}

/** Bond not locked in disputes nor unbonding (game.rs free_bond): what a new challenge can stake. */
export function freeBond(op: OperatorAccount): bigint {
  const a = op.bonded > op.locked ? op.bonded - op.locked : 0n;
  return a > op.unbonding ? a - op.unbonding : 0n;
}

export class SettlementClient {
  readonly ix: InstructionBuilder;
  readonly pdas: Pdas;

  constructor(
    readonly sender: Sender,
    readonly opts: SettlementClientOptions = {},
  ) {
    this.ix = new InstructionBuilder(sender.programId);
    this.pdas = this.ix.pdas;
  }

  /** Sends program instructions, adding compute-budget instructions where the measured cost needs them. */
  async send(
    names: InstructionName[],
    ixs: TransactionInstruction[],
    signers: Signer[],
    label = names.join('+'),
  ): Promise<SendResult> {
    return this.sender.send([...this.preInstructions(names), ...ixs], signers, { label });
  }

  /** The compute-budget instructions a transaction of `names` starts with. */
  private preInstructions(names: InstructionName[]): TransactionInstruction[] {
    const pre: TransactionInstruction[] = [];
    const limit = computeLimitFor(names);
    if (limit) pre.push(limit);
    if (this.opts.priorityMicroLamports) {
      pre.push(ComputeBudgetProgram.setComputeUnitPrice({ microLamports: this.opts.priorityMicroLamports }));
    }
    return pre;
  }

  // ---- reads ----------------------------------------------------------------------------------

  private async read<T>(address: PublicKey, decode: (d: Uint8Array) => T): Promise<T | null> {
    const d = await this.sender.getAccountData(address);
    return d ? decode(d) : null;
  }
  fetchConfig(): Promise<ConfigAccount | null> {
    return this.read(this.pdas.config(), decodeConfig);
  }
  async config(): Promise<ConfigAccount> {
    const c = await this.fetchConfig();
    if (!c) throw new OptinferError('NOT_FOUND', 'program config: not initialized');
    return c;
  }
  fetchBatch(index: U64): Promise<BatchAccount | null> {
    return this.read(this.pdas.batch(index), decodeBatch);
  }
  /** Batch `index` as committed, open, or closed after finalization (BatchState). */
  async batchState(index: U64): Promise<BatchState> {
    const batch = await this.fetchBatch(index);
    if (batch) return { state: 'open', batch };
    const next = (await this.config()).nextBatchIndex;
    return BigInt(index) < next ? { state: 'closed', index: BigInt(index) } : { state: 'uncommitted' };
  }
  /** Positions of batch `index`'s invalidated jobs, from their Job accounts (kept after the batch closes). */
  async invalidatedJobs(index: U64): Promise<number[]> {
    const address = this.pdas.batch(index);
    // One getProgramAccounts call, not one read per job: batches hold thousands of jobs.
    return (await this.listJobs())
      .filter(({ job: j }) => j.batch.equals(address) && j.invalidated !== 0)
      .map(({ job: j }) => j.jobIndex)
      .sort((x, y) => x - y);
  }
  fetchOperator(owner: PublicKey): Promise<OperatorAccount | null> {
    return this.read(this.pdas.operator(owner), decodeOperator);
  }
  /** `user`'s job deposit (balance, drawn, pending withdrawal), or null before its first deposit. */
  fetchDeposit(user: PublicKey): Promise<DepositAccount | null> {
    return this.read(this.pdas.deposit(user), decodeDeposit);
  }
  /** The bond of `owner` (its Operator account). */
  fetchBond(owner: PublicKey): Promise<OperatorAccount | null> {
    return this.fetchOperator(owner);
  }
  fetchModel(modelId: Bytes32): Promise<ModelAccount | null> {
    return this.read(this.pdas.model(modelId), decodeModel);
  }
  fetchOpsPage(modelId: Bytes32, page: number): Promise<OpsPageAccount | null> {
    return this.read(this.pdas.ops(this.pdas.model(modelId), page), decodeOpsPage);
  }
  /**
   * The model's registered shape record (its ModelShapes account), or null while the model, the
   * account or its record is not complete: what one_step holds headers to and what plans a slice.
   */
  async fetchModelShapes(modelId: Bytes32): Promise<ShapeRecord | null> {
    const model = await this.fetchModel(modelId);
    const raw = model && (await this.sender.getAccountData(this.pdas.shapes(this.pdas.model(modelId))));
    if (!model || !raw) return null;
    const b = Buffer.from(raw);
    const inputs = b.readUInt16LE(SHAPES_INPUT_COUNT_OFFSET);
    const len = b.readUInt32LE(SHAPES_LEN_OFFSET);
    const bytes = b.subarray(SHAPES_LEN_OFFSET + 4, SHAPES_LEN_OFFSET + 4 + len);
    return decodeShapeRecord(bytes, inputs, model.weightCount, model.layerCount) ?? null;
  }
  /** The dispute at an address, or `challenger`'s game on job `jobIndex` of batch `batchIndex`. */
  fetchDispute(at: PublicKey | GameRef): Promise<DisputeAccount | null> {
    return this.read(this.disputeAddress(at), decodeDispute);
  }
  async dispute(at: PublicKey | GameRef): Promise<DisputeAccount> {
    const d = await this.fetchDispute(at);
    if (!d) throw new OptinferError('NOT_FOUND', `dispute ${this.disputeAddress(at).toBase58()}: not found`);
    return d;
  }
  /** Job `jobIndex` of batch `batchIndex` (or of the batch account `batch`): null until a game opened on it. */
  fetchJob(batch: U64 | PublicKey, jobIndex: number): Promise<JobAccount | null> {
    const b = batch instanceof PublicKey ? batch : this.pdas.batch(batch);
    return this.read(this.pdas.job(b, jobIndex), decodeJob);
  }
  /** Whether a game on the job already invalidated it (then its other games are moot). */
  async jobInvalidated(batch: U64 | PublicKey, jobIndex: number): Promise<boolean> {
    return ((await this.fetchJob(batch, jobIndex))?.invalidated ?? 0) !== 0;
  }
  fetchProofBuffer(dispute: PublicKey, owner: PublicKey): Promise<ProofBufferAccount | null> {
    return this.read(this.pdas.proof(dispute, owner), decodeProofBuffer);
  }
  /** The data request on job `jobIndex` of batch `batch` (an index or the batch address): null when none is open or answered. */
  fetchDataRequest(batch: U64 | PublicKey, jobIndex: number): Promise<DataRequestAccount | null> {
    const b = batch instanceof PublicKey ? batch : this.pdas.batch(batch);
    return this.read(this.pdas.dataRequest(b, jobIndex), decodeDataRequest);
  }
  /**
   * An answered request's posted data: the record and signature, the batch tree opening the program
   * checked, and the input set (state/input-set.ts encoding) from the answerer's frozen buffer; null
   * while unanswered (or once closed).
   */
  async fetchDataAnswer(
    batchIndex: U64,
    jobIndex: number,
  ): Promise<{
    record: Buffer;
    signature: Buffer;
    siblings: Buffer[];
    siblingFees: bigint[];
    inputs: Buffer;
  } | null> {
    const b = this.pdas.batch(batchIndex);
    const r = await this.fetchDataRequest(b, jobIndex);
    if (!r || r.answered === 0) return null;
    const buf = await this.fetchProofBuffer(this.pdas.dataRequest(b, jobIndex), r.answerer);
    if (!buf) return null;
    const siblings: Buffer[] = [];
    const siblingFees: bigint[] = [];
    for (let k = 0; k < r.depth; k++) {
      siblings.push(Buffer.from(r.siblings.subarray(40 * k, 40 * k + 32)));
      siblingFees.push(r.siblings.readBigUInt64LE(40 * k + 32));
    }
    return { record: r.record, signature: r.signature, siblings, siblingFees, inputs: buf.data };
  }
  /**
   * Every dispute of the program (one getProgramAccounts call), optionally only those where
   * `party` is the executor or the challenger, or only unresolved ones; by batch and job.
   */
  async listDisputes(
    filter: { party?: PublicKey; open?: boolean } = {},
  ): Promise<{ address: PublicKey; dispute: DisputeAccount }[]> {
    const all = await this.sender.getProgramAccounts(discriminatorOf('Dispute'));
    const out: { address: PublicKey; dispute: DisputeAccount; batchIndex: bigint }[] = [];
    const batches = new Map((await this.listBatches()).map((b) => [b.address.toBase58(), b.batch.index]));
    for (const a of all) {
      const d = decodeDispute(a.data);
      if (filter.party && !d.executor.equals(filter.party) && !d.challenger.equals(filter.party)) continue;
      if (filter.open && d.phase === PHASE.RESOLVED) continue;
      out.push({ address: a.address, dispute: d, batchIndex: batches.get(d.batch.toBase58()) ?? 0n });
    }
    out.sort((x, y) =>
      x.batchIndex === y.batchIndex
        ? x.dispute.jobIndex - y.dispute.jobIndex
        : x.batchIndex < y.batchIndex
          ? -1
          : 1,
    );
    return out.map(({ address, dispute }) => ({ address, dispute }));
  }
  /**
   * Every data request of the program (one getProgramAccounts call) with its batch's index and payer (the
   * sequencer that answers for it; null once the batch account is closed), optionally only unanswered ones.
   */
  async listDataRequests(filter: { open?: boolean } = {}): Promise<
    {
      address: PublicKey;
      request: DataRequestAccount;
      batchIndex: bigint | null;
      sequencer: PublicKey | null;
      batchFinal: boolean;
    }[]
  > {
    const all = await this.sender.getProgramAccounts(discriminatorOf('DataRequest'));
    if (all.length === 0) return [];
    const batches = new Map((await this.listBatches()).map((b) => [b.address.toBase58(), b.batch]));
    const out = [];
    for (const a of all) {
      const request = decodeDataRequest(a.data);
      if (filter.open && request.answered !== 0) continue;
      const b = batches.get(request.batch.toBase58());
      out.push({
        address: a.address,
        request,
        batchIndex: b ? b.index : null,
        sequencer: b ? b.payer : null,
        // A batch address without an account was closed, which only a finalized batch is.
        batchFinal: b ? b.finalized !== 0 : true,
      });
    }
    return out;
  }
  /** Every committed batch, by index. */
  async listBatches(): Promise<{ address: PublicKey; batch: BatchAccount }[]> {
    const all = await this.sender.getProgramAccounts(discriminatorOf('Batch'));
    return all
      .map((a) => ({ address: a.address, batch: decodeBatch(a.data) }))
      .sort((x, y) => (x.batch.index < y.batch.index ? -1 : x.batch.index > y.batch.index ? 1 : 0));
  }
  /** Every job a game was opened on (its Job account, kept as the job's verdict record). */
  async listJobs(): Promise<{ address: PublicKey; job: JobAccount }[]> {
    const all = await this.sender.getProgramAccounts(discriminatorOf('Job'));
    return all.map((a) => ({ address: a.address, job: decodeJob(a.data) }));
  }
  /**
   * The accounts of `kind` whose rent goes back at close to `payer` (RENT_PAYER_FIELD; every one of them without
   * `payer`): one getProgramAccounts read, narrowed to `payer` by memcmp. `whole: false` reads only the 32-byte
   * payer field of each (for large accounts whose lamports are all that is needed).
   */
  async listPaidBy(kind: RentAccountName, payer?: PublicKey, o: { whole?: boolean } = {}) {
    const offset = fieldOffset(kind, RENT_PAYER_FIELD[kind]);
    return this.sender.getProgramAccounts(discriminatorOf(kind), {
      memcmp: payer ? [{ offset, bytes: payer.toBytes() }] : [],
      ...(o.whole === false && { dataSlice: { offset, length: 32 } }),
    });
  }
  /** Every operator bond. */
  async listOperators(): Promise<{ address: PublicKey; operator: OperatorAccount }[]> {
    const all = await this.sender.getProgramAccounts(discriminatorOf('Operator'));
    return all.map((a) => ({ address: a.address, operator: decodeOperator(a.data) }));
  }
  /** Events of the program's successful transactions from now on; returns unsubscribe. */
  subscribe(onEvents: (e: LogEvents) => void): () => Promise<void> {
    return this.sender.subscribe(onEvents);
  }

  disputeAddress(at: PublicKey | GameRef): PublicKey {
    return at instanceof PublicKey
      ? at
      : this.pdas.dispute(this.pdas.batch(at.batchIndex), at.jobIndex, at.challenger);
  }

  // ---- authority ------------------------------------------------------------------------------

  initialize(authority: Signer, params: ConfigParams) {
    return this.send(
      ['initialize'],
      [this.ix.initialize({ authority: authority.publicKey, params })],
      [authority],
    );
  }
  /**
   * Changes parameters (those not given keep their current value), or pauses / unpauses the
   * program. The authority changes hands with proposeAuthority and acceptAuthority.
   */
  async updateConfig(authority: Signer, p: { params?: Partial<ConfigParams>; paused?: boolean } = {}) {
    const cur = await this.config();
    const params: ConfigParams = {
      sequencer: cur.sequencer,
      treasury: cur.treasury,
      challengeWindow: cur.challengeWindow,
      clockSlots: cur.clockSlots,
      minExecutorBond: cur.minExecutorBond,
      minChallengerBond: cur.minChallengerBond,
      unbondingSlots: cur.unbondingSlots,
      bountyBps: cur.bountyBps,
      ...p.params,
    };
    return this.send(
      ['update_config'],
      [
        this.ix.updateConfig({
          authority: authority.publicKey,
          params,
          paused: p.paused ?? cur.paused !== 0,
        }),
      ],
      [authority],
    );
  }

  /** Names `newAuthority` as the next authority; it takes over only when it signs acceptAuthority. */
  proposeAuthority(authority: Signer, newAuthority: PublicKey) {
    return this.send(
      ['propose_authority'],
      [this.ix.proposeAuthority({ authority: authority.publicKey, newAuthority })],
      [authority],
    );
  }
  /** The proposed key takes over the authority. */
  acceptAuthority(newAuthority: Signer) {
    return this.send(
      ['accept_authority'],
      [this.ix.acceptAuthority({ newAuthority: newAuthority.publicKey })],
      [newAuthority],
    );
  }
  /** Pays `amount` lamports of the treasury vault (above its rent) to the configured treasury. */
  async withdrawTreasury(authority: Signer, amount: U64) {
    const { treasury } = await this.config();
    return this.send(
      ['withdraw_treasury'],
      [this.ix.withdrawTreasury({ authority: authority.publicKey, treasury, amount })],
      [authority],
    );
  }

  /**
   * Registers a model and loads its op table page by page. Resumable: a model already registered
   * is not registered again, and pages already loaded are skipped. Returns the transactions sent;
   * `opts.progress` counts them as they go (a large model takes one add_model_ops per 32 ops).
   */
  async registerModel(
    authority: Signer,
    m: ModelRegistration,
    opts: { progress?: Progress } = {},
  ): Promise<SendResult[]> {
    for (const e of m.opEntries) {
      if (e.length !== OP_ENTRY_BYTES) {
        throw new OptinferError(
          'INVALID_MODEL',
          `op entry: expected ${OP_ENTRY_BYTES} bytes, got ${e.length}`,
        );
      }
    }
    const out: SendResult[] = [];
    let model = await this.fetchModel(m.modelId);
    const loaded = model?.opsLoaded ?? 0;
    // What is left to send, counted before the first transaction: a resumed registration counts only the rest.
    const firstPage = Math.ceil(loaded / OPS_PER_PAGE);
    const pages = Math.max(0, Math.ceil(m.opEntries.length / OPS_PER_PAGE) - firstPage);
    const shapes = loaded === 0 ? await this.shapeWrites(m) : { init: false, offsets: [] };
    const total = (model ? 0 : 1) + (shapes.init ? 1 : 0) + shapes.offsets.length + pages;
    const task = (opts.progress ?? noProgress).start(
      `registering model ${Buffer.from(m.modelId).toString('hex').slice(0, 12)}… on chain`,
      total,
    );
    try {
      if (!model) {
        out.push(
          await this.send(
            ['register_model'],
            [
              this.ix.registerModel({
                authority: authority.publicKey,
                modelId: m.modelId,
                profileHash: m.profileHash,
                weightRoot: m.weightRoot,
                weightCount: m.weightCount,
                layerCount: m.opEntries.length,
                outputName: m.outputName,
                mode: m.mode,
                arithBits: m.arithBits,
              }),
            ],
            [authority],
          ),
        );
        task.tick(1, 'register_model');
        model = await this.fetchModel(m.modelId);
      }
      if (loaded === 0) out.push(...(await this.writeShapes(authority, m, (note) => task.tick(1, note))));
      // Each add_model_ops creates one page: pages 0..ceil(loaded / 32) - 1 exist.
      for (let page = firstPage; page * OPS_PER_PAGE < m.opEntries.length; page++) {
        const entries = Buffer.concat(m.opEntries.slice(page * OPS_PER_PAGE, (page + 1) * OPS_PER_PAGE));
        out.push(
          await this.send(
            ['add_model_ops'],
            [this.ix.addModelOps({ authority: authority.publicKey, modelId: m.modelId, page, entries })],
            [authority],
            `add_model_ops page ${page}`,
          ),
        );
        task.tick(1, `add_model_ops page ${page}`);
      }
    } finally {
      task.done();
    }
    return out;
  }

  /** The shape record's transactions still to send: init_model_shapes if missing, and the writes at these offsets. */
  private async shapeWrites(m: ModelRegistration): Promise<{ init: boolean; offsets: number[] }> {
    const raw = await this.sender.getAccountData(this.pdas.shapes(this.pdas.model(m.modelId)));
    const have = raw ? Buffer.from(raw).readUInt32LE(SHAPES_LEN_OFFSET) : 0;
    const offsets: number[] = [];
    for (let off = have; off < encodeShapeRecord(m.shapes).length; off += SHAPES_WRITE_BYTES)
      offsets.push(off);
    return { init: !raw, offsets };
  }

  /** Creates the model's shape record and writes what is not there yet; `sent` hears of each transaction. */
  async writeShapes(
    authority: Signer,
    m: ModelRegistration,
    sent: (what: string) => void = () => {},
  ): Promise<SendResult[]> {
    const out: SendResult[] = [];
    const shapes = this.pdas.shapes(this.pdas.model(m.modelId));
    let raw = await this.sender.getAccountData(shapes);
    if (!raw) {
      const ix = this.ix.initModelShapes({
        authority: authority.publicKey,
        modelId: m.modelId,
        inputCount: m.shapes.inputs.length,
      });
      out.push(await this.send(['init_model_shapes'], [ix], [authority]));
      sent('init_model_shapes');
      raw = await this.sender.getAccountData(shapes);
    }
    const have = raw ? Buffer.from(raw).readUInt32LE(SHAPES_LEN_OFFSET) : 0;
    const record = encodeShapeRecord(m.shapes);
    for (let off = have; off < record.length; off += SHAPES_WRITE_BYTES) {
      const data = record.subarray(off, off + SHAPES_WRITE_BYTES);
      const ix = this.ix.writeModelShapes({
        authority: authority.publicKey,
        modelId: m.modelId,
        offset: off,
        data,
      });
      out.push(await this.send(['write_model_shapes'], [ix], [authority], `write_model_shapes at ${off}`));
      sent(`write_model_shapes at ${off}`);
    }
    return out;
  }

  // ---- operators ------------------------------------------------------------------------------

  bond(owner: Signer, amount: U64) {
    return this.send(['bond'], [this.ix.bond({ owner: owner.publicKey, amount })], [owner]);
  }
  requestUnbond(owner: Signer, amount: U64) {
    return this.send(
      ['request_unbond'],
      [this.ix.requestUnbond({ owner: owner.publicKey, amount })],
      [owner],
    );
  }
  /**
   * Withdraws the unbonded lamports. With `close`, a full withdrawal (everything bonded is unbonding, nothing
   * locked, no open game) also closes the Operator account in the same transaction: its rent comes back too.
   */
  async withdraw(owner: Signer, opts: { close?: boolean } = {}) {
    const ixs = [this.ix.withdraw({ owner: owner.publicKey })];
    const names: InstructionName[] = ['withdraw'];
    if (opts.close) {
      const op = await this.fetchOperator(owner.publicKey);
      if (op && op.unbonding === op.bonded && op.locked === 0n && op.openDisputes === 0) {
        ixs.push(this.ix.closeOperator({ owner: owner.publicKey }));
        names.push('close_operator');
      }
    }
    return this.send(names, ixs, [owner]);
  }

  // ---- user deposits --------------------------------------------------------------------------

  /** Adds `amount` lamports to `user`'s job deposit (created on first use; a top-up cancels a pending withdrawal). */
  deposit(user: Signer, amount: U64) {
    return this.send(['deposit'], [this.ix.deposit({ user: user.publicKey, amount })], [user]);
  }
  /**
   * The sequencer redeems a user's voucher (state/voucher.ts signVoucher) for `cumulative` lamports:
   * it is paid what the voucher adds to the deposit's `drawn`, at most the balance.
   */
  drawDeposit(sequencer: Signer, v: { user: PublicKey; cumulative: U64; signature: Uint8Array }) {
    // The Ed25519 check goes right before draw_deposit, after any compute-budget instructions.
    const pre = this.preInstructions(['draw_deposit']);
    const ixs = this.ix.drawDepositIxs({ sequencer: sequencer.publicKey, ...v }, pre.length);
    return this.sender.send([...pre, ...ixs], [sequencer], {
      label: `draw_deposit ${v.user.toBase58()} ${v.cumulative}`,
    });
  }
  /** Starts the deposit withdrawal delay: one dispute clock, during which the sequencer can still draw. */
  requestWithdrawDeposit(user: Signer) {
    return this.send(
      ['request_withdraw_deposit'],
      [this.ix.requestWithdrawDeposit({ user: user.publicKey })],
      [user],
    );
  }
  /** After the delay, pays `user` what the sequencer did not draw; the account stays (it records `drawn`). */
  withdrawDeposit(user: Signer) {
    return this.send(['withdraw_deposit'], [this.ix.withdrawDeposit({ user: user.publicKey })], [user]);
  }

  // ---- sequencer ------------------------------------------------------------------------------

  /**
   * What `sequencer` must bond before commit_batch accepts a batch: the program refuses a sequencer whose
   * free bond is below one record-fault slash (min_executor_bond, prove_record_fault). 0 when it is enough.
   */
  async sequencerBondShortfall(sequencer: PublicKey): Promise<bigint> {
    const [c, op] = await Promise.all([this.config(), this.fetchOperator(sequencer)]);
    // Only the program's sequencer commits: any other signer is refused (NotSequencer), bond or not.
    if (!c.sequencer.equals(sequencer)) return 0n;
    const free = op ? freeBond(op) : 0n;
    return free < c.minExecutorBond ? c.minExecutorBond - free : 0n;
  }
  /**
   * Commits batch `b`. A sequencer whose free bond is short of one record-fault slash is topped up to it
   * in the same transaction (bond then commit_batch), unless `topUp` is false (then the program refuses
   * the commit with SequencerUnbonded).
   */
  async commitBatch(
    sequencer: Signer,
    b: { index: U64; root: Bytes32; jobCount: number; feeTotal?: U64 },
    opts: { topUp?: boolean } = {},
  ) {
    const ixs: TransactionInstruction[] = [];
    const names: InstructionName[] = [];
    const short = opts.topUp === false ? 0n : await this.sequencerBondShortfall(sequencer.publicKey);
    if (short > 0n) {
      ixs.push(this.ix.bond({ owner: sequencer.publicKey, amount: short }));
      names.push('bond');
    }
    ixs.push(this.ix.commitBatch({ sequencer: sequencer.publicKey, ...b }));
    names.push('commit_batch');
    return this.send(names, ixs, [sequencer], `commit_batch ${b.index}`);
  }
  /**
   * Proves that job `jobIndex` of batch `batchIndex` shows record fault `kind`: the job is invalidated and
   * the sequencer that committed the batch slashed one fault slash, bounty_bps of it to `prover`.
   */
  async proveRecordFault(prover: Signer, p: RecordFaultProof) {
    const b = await this.fetchBatch(p.batchIndex);
    if (!b)
      throw new OptinferError('NOT_FOUND', `batch ${p.batchIndex}: no account (never committed, or closed)`);
    return this.send(
      ['prove_record_fault'],
      [this.ix.proveRecordFault({ prover: prover.publicKey, sequencer: b.payer, ...p })],
      [prover],
      `prove_record_fault ${p.batchIndex}/${p.jobIndex}`,
    );
  }
  /**
   * Proves, from job `jobIndex`'s opening, that batch `batchIndex`'s tree sums its fees above its escrow:
   * the sequencer is slashed once per batch, bounty_bps of it to `prover`. Valid until close_batch.
   */
  async proveShortEscrow(prover: Signer, p: Omit<RecordFaultProof, 'kind'>) {
    const b = await this.fetchBatch(p.batchIndex);
    if (!b)
      throw new OptinferError('NOT_FOUND', `batch ${p.batchIndex}: no account (never committed, or closed)`);
    return this.send(
      ['prove_short_escrow'],
      [this.ix.proveShortEscrow({ prover: prover.publicKey, sequencer: b.payer, ...p })],
      [prover],
      `prove_short_escrow ${p.batchIndex}/${p.jobIndex}`,
    );
  }
  /**
   * Demands job `jobIndex` of batch `batchIndex`'s record and inputs on chain (data availability): the
   * requester pays the request's rent and DATA_REQUEST_DEPOSIT; the batch cannot finalize until it is
   * answered or its timeout claimed.
   */
  requestData(requester: Signer, batchIndex: U64, jobIndex: number) {
    return this.send(
      ['request_data'],
      [this.ix.requestData({ requester: requester.publicKey, batchIndex, jobIndex })],
      [requester],
      `request_data ${batchIndex}/${jobIndex}`,
    );
  }
  /**
   * Answers the data request on job `jobIndex` of batch `batchIndex`: puts `inputs` (the posted input
   * set, state/input-set.ts) into `answerer`'s buffer for the request (created, grown and written in
   * pieces as fillProofBuffer does), then answer_data with the record opening. Returns every
   * transaction sent, the answer last.
   */
  async answerData(
    answerer: Signer,
    batchIndex: U64,
    jobIndex: number,
    answer: DataAnswer & { inputs: Uint8Array },
  ): Promise<SendResult[]> {
    const batch = this.pdas.batch(batchIndex);
    const request = this.pdas.dataRequest(batch, jobIndex);
    const out: SendResult[] = [];
    const buf = await this.fetchProofBuffer(request, answerer.publicKey);
    if (buf && buf.len > answer.inputs.length) {
      out.push(await this.closeProofBuffer(answerer, request));
    }
    if (!buf || buf.len > answer.inputs.length) {
      out.push(
        await this.send(
          ['init_data_buffer'],
          [this.ix.initDataBuffer({ owner: answerer.publicKey, request })],
          [answerer],
          `init_data_buffer ${batchIndex}/${jobIndex}`,
        ),
      );
    }
    // Someone else (a requester's sybil) may answer while the writes go out: the writes stop, and the buffer is
    // closed, its rent back, instead of left behind unfrozen (review 28 "sybil answer strands the buffer").
    // Wanted while unanswered (or answered by this answerer: the program then says so itself).
    const open = async () => {
      const r = await this.fetchDataRequest(batch, jobIndex);
      return !!r && (r.answered === 0 || r.answerer.equals(answerer.publicKey));
    };
    out.push(...(await this.fillProofBuffer(answerer, request, answer.inputs, open)));
    const answeredElsewhere = async () => {
      if (await open()) return false;
      // Only a buffer still ours: a frozen one (an answer's) is closed by close_data_request.
      const mine = await this.fetchProofBuffer(request, answerer.publicKey);
      if (mine?.owner.equals(answerer.publicKey)) out.push(await this.closeProofBuffer(answerer, request));
      return true;
    };
    if (await answeredElsewhere()) return out;
    // The Ed25519 check of the record's signature goes right before answer_data, after any compute-budget
    // instructions: an unsigned record cannot be answered.
    const pre = this.preInstructions(['answer_data']);
    const ixs = this.ix.answerDataIxs(
      { answerer: answerer.publicKey, batch, jobIndex, ...answer },
      pre.length,
    );
    try {
      out.push(
        await this.sender.send([...pre, ...ixs], [answerer], {
          label: `answer_data ${batchIndex}/${jobIndex}`,
        }),
      );
    } catch (e) {
      // Answered by someone else between the last check and this transaction: refused, and the buffer closed.
      if (await answeredElsewhere()) return out;
      throw e;
    }
    return out;
  }
  /** Claims the timeout of the unanswered data request on job `jobIndex` of batch `batchIndex`. */
  async claimDataTimeout(claimer: Signer, batchIndex: U64, jobIndex: number) {
    const b = await this.fetchBatch(batchIndex);
    if (!b)
      throw new OptinferError('NOT_FOUND', `batch ${batchIndex}: no account (never committed, or closed)`);
    const batch = this.pdas.batch(batchIndex);
    const r = await this.fetchDataRequest(batch, jobIndex);
    if (!r) throw new OptinferError('NOT_FOUND', `data request ${batchIndex}/${jobIndex}: no account`);
    return this.send(
      ['claim_data_timeout'],
      [
        this.ix.claimDataTimeout({
          batch,
          jobIndex,
          requester: r.requester,
          sequencer: b.payer,
        }),
      ],
      [claimer],
      `claim_data_timeout ${batchIndex}/${jobIndex}`,
    );
  }
  /** Closes the answered data request on job `jobIndex` of batch `batch` (index or address) once the batch is final. */
  async closeDataRequest(signer: Signer, batchRef: U64 | PublicKey, jobIndex: number) {
    const batch = batchRef instanceof PublicKey ? batchRef : this.pdas.batch(batchRef);
    const r = await this.fetchDataRequest(batch, jobIndex);
    const batchIndex = batchRef instanceof PublicKey ? batchRef.toBase58() : batchRef;
    if (!r) throw new OptinferError('NOT_FOUND', `data request ${batchIndex}/${jobIndex}: no account`);
    return this.send(
      ['close_data_request'],
      [this.ix.closeDataRequest({ batch, jobIndex, requester: r.requester, answerer: r.answerer })],
      [signer],
      `close_data_request ${batchIndex}/${jobIndex}`,
    );
  }
  /**
   * Claims the fees of `claims`, jobs of finalized batch `batchIndex` whose records name `executor`, in
   * one transaction (see claimsPerTransaction for how many fit). Refused once the batch is closed.
   */
  async claimFees(executor: Signer, batchIndex: U64, claims: readonly FeeClaim[]) {
    const b = await this.fetchBatch(batchIndex);
    if (!b)
      throw new OptinferError('NOT_FOUND', `batch ${batchIndex}: no account (never committed, or closed)`);
    return this.send(
      ['claim_fees'],
      [
        this.ix.claimFees({
          executor: executor.publicKey,
          batchIndex,
          claims,
          withJobs: b.invalidated > 0,
        }),
      ],
      [executor],
      `claim_fees ${batchIndex} (${claims.length} jobs)`,
    );
  }
  /** Anyone may finalize; `payer` pays the fee. */
  finalizeBatch(payer: Signer, index: U64) {
    return this.send(
      ['finalize_batch'],
      [this.ix.finalizeBatch({ index })],
      [payer],
      `finalize_batch ${index}`,
    );
  }

  /** Closes finalized batch `index` after its grace; the rent goes to the key that paid it at commit. */
  async closeBatch(payer: Signer, index: U64) {
    const b = await this.fetchBatch(index);
    if (!b) throw new OptinferError('NOT_FOUND', `batch ${index}: no account (never committed, or closed)`);
    return this.send(
      ['close_batch'],
      [this.ix.closeBatch({ index, payer: b.payer })],
      [payer],
      `close_batch ${index}`,
    );
  }

  // ---- rent -----------------------------------------------------------------------------------

  /** Closes a resolved game's Dispute account once its batch is final (anyone; the rent goes to its challenger). */
  async closeDispute(payer: Signer, dispute: PublicKey) {
    const d = await this.dispute(dispute);
    return this.send(
      ['close_dispute'],
      [this.ix.closeDispute({ dispute, challenger: d.challenger, batch: d.batch })],
      [payer],
    );
  }
  /** Closes a job's account once its batch is final, unless a game invalidated it (anyone; rent to its payer). */
  async closeJob(payer: Signer, batch: U64 | PublicKey, jobIndex: number) {
    const j = await this.fetchJob(batch, jobIndex);
    if (!j) throw new OptinferError('NOT_FOUND', `job ${jobIndex}: no account`);
    return this.send(
      ['close_job'],
      [this.ix.closeJob({ batch: j.batch, jobIndex, payer: j.payer })],
      [payer],
    );
  }
  /**
   * Pays a job's payer the Job rent refund the account holds: when another challenger's game
   * invalidated the job, the resolution repaid the payer's Job rent there (anyone may send it).
   */
  async refundJobRent(sender: Signer, batch: U64 | PublicKey, jobIndex: number) {
    const j = await this.fetchJob(batch, jobIndex);
    if (!j) throw new OptinferError('NOT_FOUND', `job ${jobIndex}: no account`);
    return this.send(
      ['refund_job_rent'],
      [this.ix.refundJobRent({ batch: j.batch, jobIndex, payer: j.payer })],
      [sender],
    );
  }
  /** Closes `owner`'s Operator account after a full withdrawal; the rent goes back to `owner`. */
  closeOperator(owner: Signer) {
    return this.send(['close_operator'], [this.ix.closeOperator({ owner: owner.publicKey })], [owner]);
  }

  // ---- disputes -------------------------------------------------------------------------------

  /**
   * Opens a dispute on a job from its inclusion proof (state/job.ts `Batch.proof`, or the API's
   * JSON) or raw record bytes and siblings. Returns the dispute address and the transaction.
   */
  async openDispute(
    challenger: Signer,
    p:
      | InclusionProof
      | {
          batchIndex: U64;
          jobIndex: number;
          record: Uint8Array;
          signature: Uint8Array;
          siblings: readonly Uint8Array[];
          siblingFees: readonly bigint[];
        },
  ): Promise<{ dispute: PublicKey; result: SendResult }> {
    const q =
      'record' in p && typeof p.record === 'string'
        ? openingOf(p as InclusionProof)
        : (p as {
            batchIndex: U64;
            jobIndex: number;
            record: Uint8Array;
            signature: Uint8Array;
            siblings: Uint8Array[];
            siblingFees: bigint[];
          });
    // The Ed25519 check goes right before open_dispute, after any compute-budget instructions.
    const pre = this.preInstructions(['open_dispute']);
    const ixs = this.ix.openDisputeIxs({ challenger: challenger.publicKey, ...q }, pre.length);
    const result = await this.sender.send([...pre, ...ixs], [challenger], {
      label: `open_dispute ${q.batchIndex}/${q.jobIndex}`,
    });
    return {
      dispute: this.pdas.dispute(this.pdas.batch(q.batchIndex), q.jobIndex, challenger.publicKey),
      result,
    };
  }

  async commitTrace(
    signer: Signer,
    dispute: PublicKey,
    t: {
      root: Bytes32;
      layerCount: number;
      prevPrefix: Bytes32;
      lastDigest: Bytes32;
      siblings: readonly Uint8Array[];
      /** The model PDA (read from the dispute when not given). */
      model?: PublicKey;
    },
  ) {
    const model = t.model ?? (await this.dispute(dispute)).model;
    return this.send(
      ['commit_trace'],
      [this.ix.commitTrace({ signer: signer.publicKey, dispute, ...t, model })],
      [signer],
    );
  }
  bisectLayer(signer: Signer, dispute: PublicKey, m: { prefix: Bytes32; siblings: readonly Uint8Array[] }) {
    return this.send(
      ['bisect_layer'],
      [this.ix.bisectLayer({ signer: signer.publicKey, dispute, ...m })],
      [signer],
    );
  }
  revealLayer(signer: Signer, dispute: PublicKey, m: { header: Uint8Array; chunkRoot: Bytes32 }) {
    return this.send(
      ['reveal_layer'],
      [this.ix.revealLayer({ signer: signer.publicKey, dispute, ...m })],
      [signer],
    );
  }
  revealLeaf(signer: Signer, dispute: PublicKey, m: { bytes: Uint8Array }) {
    return this.send(
      ['reveal_leaf'],
      [this.ix.revealLeaf({ signer: signer.publicKey, dispute, ...m })],
      [signer],
    );
  }
  bisectChunk(signer: Signer, dispute: PublicKey, m: { left: Bytes32; right: Bytes32 }) {
    return this.send(
      ['bisect_chunk'],
      [this.ix.bisectChunk({ signer: signer.publicKey, dispute, ...m })],
      [signer],
    );
  }

  initProofBuffer(owner: Signer, dispute: PublicKey) {
    return this.send(
      ['init_proof_buffer'],
      [this.ix.initProofBuffer({ owner: owner.publicKey, dispute })],
      [owner],
    );
  }
  writeProofBuffer(
    owner: Signer,
    dispute: PublicKey,
    w: { offset: number; data: Uint8Array; grow?: number },
  ) {
    return this.send(
      ['write_proof_buffer'],
      [this.ix.writeProofBuffer({ owner: owner.publicKey, dispute, ...w })],
      [owner],
      `write_proof_buffer @${w.offset}`,
    );
  }
  closeProofBuffer(owner: Signer, dispute: PublicKey) {
    return this.send(
      ['close_proof_buffer'],
      [this.ix.closeProofBuffer({ owner: owner.publicKey, dispute })],
      [owner],
    );
  }

  /**
   * Puts `data` (the one-step proof data) into the owner's proof buffer for `dispute`: creates it if
   * needed, keeps what an earlier (interrupted) fill already wrote, grows it past its capacity, and
   * writes the rest in pieces that fit a transaction. Returns the transactions sent. With `stillWanted`, asked
   * before each write, it stops as soon as that says no (a data request someone else answered meanwhile).
   */
  async fillProofBuffer(
    owner: Signer,
    dispute: PublicKey,
    data: Uint8Array,
    stillWanted?: () => Promise<boolean>,
  ): Promise<SendResult[]> {
    const out: SendResult[] = [];
    let buf = await this.fetchProofBuffer(dispute, owner.publicKey);
    if (!buf) {
      out.push(await this.initProofBuffer(owner, dispute));
      buf = await this.fetchProofBuffer(dispute, owner.publicKey);
    }
    if (buf && buf.len > data.length) {
      // Bytes past the new data would stay (the program reads up to len): start a fresh buffer.
      out.push(await this.closeProofBuffer(owner, dispute));
      out.push(await this.initProofBuffer(owner, dispute));
      buf = await this.fetchProofBuffer(dispute, owner.publicKey);
    }
    let capacity = buf?.capacity ?? PROOF_INIT_CAPACITY;
    const have = buf?.data ?? Buffer.alloc(0);
    // Resume after the longest prefix already in place; a write may start anywhere up to len.
    let start = 0;
    const src = Buffer.from(data);
    while (start < have.length && start < src.length && have[start] === src[start]) start++;
    // Everything in place: nothing to send; else rewrite from the piece holding the first difference.
    if (start < src.length) start -= start % PROOF_WRITE_BYTES;
    for (let off = start; off < src.length; off += PROOF_WRITE_BYTES) {
      if (stillWanted && !(await stillWanted())) return out;
      const piece = src.subarray(off, off + PROOF_WRITE_BYTES);
      let grow = 0;
      if (off + piece.length > capacity) {
        grow = PROOF_MAX_GROWTH;
        capacity += grow;
      }
      out.push(await this.writeProofBuffer(owner, dispute, { offset: off, data: piece, grow }));
    }
    return out;
  }

  private async parties(dispute: PublicKey): Promise<{ d: DisputeAccount; parties: DisputeParties }> {
    const d = await this.dispute(dispute);
    return {
      d,
      parties: {
        dispute,
        batch: d.batch,
        jobIndex: d.jobIndex,
        executor: d.executor,
        challenger: d.challenger,
      },
    };
  }

  /**
   * Submits the one-step from `bufferOwner`'s proof buffer (the submitter's by default);
   * `maxElements` > 0 runs it in slices (call again until the dispute resolves).
   */
  async oneStep(
    submitter: Signer,
    dispute: PublicKey,
    o: { maxElements?: number; bufferOwner?: PublicKey } = {},
  ) {
    const { d, parties } = await this.parties(dispute);
    return this.send(
      ['one_step'],
      [
        this.ix.oneStep({
          ...parties,
          submitter: submitter.publicKey,
          model: d.model,
          layer: d.disagree,
          maxElements: o.maxElements,
          bufferOwner: o.bufferOwner,
        }),
      ],
      [submitter],
    );
  }

  /** Ends a dispute whose side to move ran out of clock; anyone may call, `payer` pays the fee. */
  async claimTimeout(payer: Signer, dispute: PublicKey) {
    const { parties } = await this.parties(dispute);
    return this.send(['claim_timeout'], [this.ix.claimTimeout(parties)], [payer]);
  }

  /**
   * Ends a game whose job another game already invalidated (the program refuses its one-step and
   * timeout with GameMoot): both stakes unlocked, nobody slashed, the Dispute account's rent back to
   * its challenger. Anyone may call; `payer` pays the fee.
   */
  async endMootGame(payer: Signer, dispute: PublicKey) {
    const d = await this.dispute(dispute);
    return this.send(
      ['end_moot_game'],
      [
        this.ix.endMootGame({
          dispute,
          batch: d.batch,
          jobIndex: d.jobIndex,
          executor: d.executor,
          challenger: d.challenger,
        }),
      ],
      [payer],
    );
  }
}
