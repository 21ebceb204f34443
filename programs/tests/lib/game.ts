// Whole dispute games against the SBF program: the world (settlement/testkit.ts, SettlementClient over
// LiteSVM), players whose moves come from the node's one move builder (dispute/moves.ts), cheats, results.
import assert from 'node:assert/strict';
import type { Keypair, PublicKey, Signer, TransactionInstruction } from '@solana/web3.js';
import { isOptinferError } from '../../../state/errors.ts';
import { OPS_PER_PAGE } from '../../../state/optable.ts';
import { PHASE, PHASE_TABLE, type DisputeInstruction } from '../../../dispute/phases.ts';
import { nextMove, playMove, submitOneStep, type Move } from '../../../dispute/moves.ts';
import { stepData, type ChunkPicker } from '../../../dispute/step-data.ts';
import type { TraceView } from '../../../dispute/views.ts';
import { SIDE, type DisputeAccount, type OperatorAccount } from '../../../settlement/accounts.ts';
import type { ProgramErrorDetails } from '../../../settlement/errors.ts';
import type { OptinferEvent } from '../../../settlement/events.ts';
import type { RecordFault } from '../../../settlement/instructions.ts';
import { LiteSvmSender, type SendOptions, type SendResult } from '../../../settlement/sender.ts';
import { LocalWorld, PARAMS, modelShapes, traceView } from '../../../settlement/testkit.ts';
import { minUnbondingSlots } from '../../../settlement/instructions.ts';
import { checkModel } from '../../../state/shapes.ts';
import * as P from './protocol.ts';
import { OP, evalOp, mlpModel, run, type ModelDef } from './model.ts';
import { PROFILE, Trace } from './trace.ts';

export { PARAMS, PHASE, PROFILE, SIDE, Trace };

/** What one transaction did: its figures and events, or the error name the program refused it with. */
export interface TxResult {
  ok: boolean;
  cu: number;
  size: number;
  logs: string[];
  events: OptinferEvent[];
  /** The IDL, anchor or runtime error name when refused ('NotYourTurn', 'ConstraintDuplicateMutableAccount'). */
  error?: string;
}

const landed = (r: SendResult): TxResult => ({
  ok: true,
  cu: r.computeUnits,
  size: r.size,
  logs: r.logs,
  events: r.events,
});

/** The refusal a send threw, as a failed TxResult; null for anything that is not a program refusal. */
function refused(e: unknown): TxResult | null {
  if (!isOptinferError(e) || typeof e.details !== 'object' || e.details === null) return null;
  const d = e.details as Partial<ProgramErrorDetails>;
  if (typeof d.name !== 'string') return null;
  return { ok: false, cu: 0, size: 0, logs: d.logs ?? [], events: [], error: d.name };
}

/** Awaits a send; a transaction the program refused becomes a failed TxResult, anything else throws. */
export async function attempt(p: Promise<SendResult>): Promise<TxResult> {
  try {
    return landed(await p);
  } catch (e) {
    const r = refused(e);
    if (!r) throw e;
    return r;
  }
}

/** A LiteSvmSender that keeps the result of every transaction it sends (the compute-unit report reads them). */
class RecordingSender extends LiteSvmSender {
  readonly txs: TxResult[] = [];
  override sendSync(ixs: TransactionInstruction[], signers: Signer[], opts?: SendOptions): SendResult {
    try {
      const r = super.sendSync(ixs, signers, opts);
      this.txs.push(landed(r));
      return r;
    } catch (e) {
      this.txs.push(refused(e) ?? { ok: false, cu: 0, size: 0, logs: [], events: [], error: String(e) });
      throw e;
    }
  }
}

/** A committed batch: its index and address, its job records and their batch tree levels. */
export interface CommittedBatch {
  index: number;
  address: PublicKey;
  records: Buffer[];
  /** Each record's signature (the executor's unless the batch was committed with a forger). */
  signatures: Buffer[];
  levels: P.BatchNode[][];
  res: TxResult;
}

/** The program in a fresh LiteSVM, driven through SettlementClient; lamports accounted by LocalWorld. */
export class World extends LocalWorld {
  constructor() {
    super(new RecordingSender());
  }
  /** Every transaction sent in this world, in order. */
  get txs(): readonly TxResult[] {
    return (this.sender as RecordingSender).txs;
  }

  /** `res`, or an error naming `what` with the program's logs when it was refused. */
  must(res: TxResult, what: string): TxResult {
    if (!res.ok) throw new Error(`${what} failed: ${res.error}\n${res.logs.join('\n')}`);
    return res;
  }

  async init(over: Partial<typeof PARAMS> = {}): Promise<TxResult> {
    return this.must(await attempt(this.client.initialize(this.authority, this.params(over))), 'initialize');
  }

  /**
   * Registers `m` with the op entries `entries` instead of its own (malformed tables, for the refusal
   * tests) through settlement's instruction builders: register_model with m's layer count, then each
   * page of up to 32 entries, every page sent whatever the previous one did.
   */
  async registerEntries(m: ModelDef, entries: Buffer[]): Promise<TxResult[]> {
    const reg = this.registration(m);
    const authority = this.authority.publicKey;
    const out = [
      this.must(
        await attempt(
          this.client.send(
            ['register_model'],
            [this.client.ix.registerModel({ ...reg, authority, layerCount: m.layers.length })],
            [this.authority],
          ),
        ),
        'register_model',
      ),
    ];
    for (const r of await this.client.writeShapes(this.authority, reg)) out.push(landed(r));
    for (let page = 0; page * OPS_PER_PAGE < entries.length; page++) {
      const ix = this.client.ix.addModelOps({
        authority,
        modelId: reg.modelId,
        page,
        entries: Buffer.concat(entries.slice(page * OPS_PER_PAGE, (page + 1) * OPS_PER_PAGE)),
      });
      out.push(await attempt(this.client.send(['add_model_ops'], [ix], [this.authority])));
    }
    return out;
  }

  /** A funded key with `lamports` bonded. */
  async operator(lamports: bigint): Promise<Keypair> {
    const k = this.fund();
    this.must(await this.bond(k, lamports), 'bond');
    return k;
  }
  bond(k: Keypair, lamports: bigint): Promise<TxResult> {
    return attempt(this.client.bond(k, lamports));
  }

  /**
   * Commits batch `index` of `jobs` jobs on this world's model, each signed by `executor`; job `job`
   * claims `claimed`. `sign` replaces the executor's signature (a framing sequencer's forgery). Every
   * record's fee is 1000 lamports; the sequencer escrows `feeTotal`, by default their sum.
   */
  /** prove_record_fault of `kind` by `prover` on job `job` of the committed batch `b` (its record, signature and proof). */
  proveFault(
    prover: Keypair,
    b: CommittedBatch,
    job: number,
    kind: RecordFault = 'unbondedExecutor',
  ): Promise<TxResult> {
    return attempt(
      this.client.proveRecordFault(prover, {
        batchIndex: b.index,
        jobIndex: job,
        kind,
        record: b.records[job],
        signature: b.signatures[job],
        ...P.batchProof(b.levels, job),
      }),
    );
  }

  async commitBatch(
    index: number,
    executor: Keypair,
    claimed: Buffer,
    jobs = 3,
    job = 1,
    sign: (record: Buffer) => Buffer = (r) => P.signRecord(r, executor.secretKey),
    feeTotal: bigint = 1000n * BigInt(jobs),
  ): Promise<CommittedBatch> {
    const records: Buffer[] = [];
    for (let j = 0; j < jobs; j++) {
      records.push(
        P.jobRecord({
          jobId: P.sha(Buffer.from([6]), P.u64(index * 100 + j), this.modelId, this.inputDigest()),
          modelId: this.modelId,
          inputDigest: this.inputDigest(),
          outputDigest: j === job ? claimed : P.sha(Buffer.from(`other ${j}`)),
          executor: executor.publicKey.toBytes(),
          fee: 1000n,
        }),
      );
    }
    const signatures = records.map(sign);
    const levels = P.recordTree(records, signatures);
    const res = this.must(
      await attempt(
        this.client.commitBatch(this.sequencer, {
          index,
          root: P.batchRoot(levels),
          jobCount: jobs,
          feeTotal,
        }),
      ),
      'commit_batch',
    );
    return { index, address: this.client.pdas.batch(index), records, signatures, levels, res };
  }

  /** prove_short_escrow by `prover` from job `job`'s opening of the committed batch `b`. */
  proveShortEscrow(prover: Keypair, b: CommittedBatch, job: number): Promise<TxResult> {
    return attempt(
      this.client.proveShortEscrow(prover, {
        batchIndex: b.index,
        jobIndex: job,
        record: b.records[job],
        signature: b.signatures[job],
        ...P.batchProof(b.levels, job),
      }),
    );
  }

  /** Opens a dispute on job `job` of `b`, with its own record, signature and proof unless forged ones are given. */
  async openDispute(
    challenger: Keypair,
    b: CommittedBatch,
    job: number,
    proof: { siblings: Buffer[]; siblingFees: bigint[] } = P.batchProof(b.levels, job),
    record: Buffer = b.records[job],
    signature: Buffer = b.signatures[job],
  ): Promise<{ dispute: PublicKey; res: TxResult }> {
    const res = await attempt(
      this.client
        .openDispute(challenger, { batchIndex: b.index, jobIndex: job, record, signature, ...proof })
        .then((o) => o.result),
    );
    return { dispute: this.client.pdas.dispute(b.address, job, challenger.publicKey), res };
  }
  /** Ends a game whose job another game invalidated (anyone may; `by` pays the fee). */
  endMootGame(by: Keypair, d: PublicKey): Promise<TxResult> {
    return attempt(this.client.endMootGame(by, d));
  }
  /** The Job account of job `job` of batch `index`. */
  async job(index: number, job: number) {
    const j = await this.client.fetchJob(index, job);
    if (!j) throw new Error(`no job account for batch ${index} job ${job}`);
    return j;
  }

  /** Sends `ixs` as one transaction signed by `signers`: what a forger hand-builds. */
  sendRaw(ixs: TransactionInstruction[], signers: Keypair[]): Promise<TxResult> {
    return attempt(this.sender.send(ixs, signers));
  }

  dispute(d: PublicKey): Promise<DisputeAccount> {
    return this.client.dispute(d);
  }
  async operatorOf(owner: PublicKey) {
    const op = await this.client.fetchOperator(owner);
    if (!op) throw new Error(`no operator account for ${owner.toBase58()}`);
    return op;
  }
  async batch(index: number) {
    const b = await this.client.fetchBatch(index);
    if (!b) throw new Error(`no batch ${index}`);
    return b;
  }
  claimTimeout(by: Keypair, d: PublicKey): Promise<TxResult> {
    return attempt(this.client.claimTimeout(by, d));
  }
  finalize(by: Keypair, index: number): Promise<TxResult> {
    return attempt(this.client.finalizeBatch(by, index));
  }
  warp(slots: number | bigint): void {
    this.sender.warp(slots);
  }
  balance(k: PublicKey): bigint {
    return this.sender.balance(k);
  }
}

/** The dispute instructions a side sends in turn (the one-step aside). */
type TurnArgs = {
  [M in Move as M extends { args: unknown } ? M['kind'] : never]: M extends { args: infer A } ? A : never;
};
type TurnMove = keyof TurnArgs;
/** The first phase whose row of the phase table accepts `instruction`. */
const phaseOf = (instruction: DisputeInstruction) =>
  PHASE_TABLE.findIndex((r) => (r.instructions as readonly string[]).includes(instruction));

/** One side of a dispute, playing from its own trace through dispute/moves.ts and settlement/. */
export class Player {
  readonly view: TraceView;
  constructor(
    readonly world: World,
    readonly key: Keypair,
    readonly trace: Trace,
  ) {
    this.view = traceView(trace);
  }
  private get client() {
    return this.world.client;
  }

  /** The move the dispute expects from this side now (dispute/moves.ts playMove), not the one-step. */
  async move(dispute: PublicKey, d?: DisputeAccount): Promise<TxResult> {
    const sent = await playMove(this.client, this.key, dispute, this.view, d).catch((e: unknown) => {
      const r = refused(e);
      if (!r) throw e;
      return r;
    });
    if (!sent) throw new Error(`no move for ${this.key.publicKey.toBase58()} now`);
    return 'computeUnits' in sent ? landed(sent) : sent;
  }

  /**
   * The arguments of `kind` from this side's trace, built by dispute/moves.ts nextMove as if the
   * dispute were in that move's phase: what the refusal tests send out of turn, in the wrong phase,
   * as a non-party or from a trace that is not the signer's own.
   */
  private async argsOf<K extends TurnMove>(dispute: PublicKey, kind: K): Promise<TurnArgs[K]> {
    const d = await this.world.dispute(dispute);
    const m = nextMove({ ...d, phase: phaseOf(kind) as DisputeAccount['phase'] }, this.view);
    if (m.kind !== kind) throw new Error(`nextMove gave ${m.kind}, expected ${kind}`);
    return (m as unknown as { args: TurnArgs[K] }).args;
  }
  async commitTrace(dispute: PublicKey): Promise<TxResult> {
    const a = await this.argsOf(dispute, 'commit_trace');
    return attempt(this.client.commitTrace(this.key, dispute, a));
  }
  async bisectLayer(dispute: PublicKey): Promise<TxResult> {
    const a = await this.argsOf(dispute, 'bisect_layer');
    return attempt(this.client.bisectLayer(this.key, dispute, a));
  }
  async revealLayer(dispute: PublicKey): Promise<TxResult> {
    const a = await this.argsOf(dispute, 'reveal_layer');
    return attempt(this.client.revealLayer(this.key, dispute, a));
  }

  /**
   * The one-step: dispute/moves.ts submitOneStep fills this side's proof buffer from its trace and
   * submits (in slices of `maxElements` when given) until the dispute resolves. Whole tensors are
   * opened unless `openings` says otherwise.
   */
  async submitOneStep(
    dispute: PublicKey,
    opts: Parameters<typeof submitOneStep>[5] = {},
  ): Promise<{ writes: TxResult[]; steps: TxResult[] }> {
    const r = await submitOneStep(this.client, this.key, dispute, this.view, this.world.modelView(), {
      openings: 'whole',
      ...opts,
    });
    return { writes: r.writes.map(landed), steps: r.steps.map(landed) };
  }

  /** The one-step proof data from this side's trace (dispute/step-data.ts); `pick` names sparse openings. */
  async stepData(dispute: PublicKey, pick?: ChunkPicker): Promise<Buffer> {
    const d = await this.world.dispute(dispute);
    const page = await this.client.fetchOpsPage(d.modelId, Math.floor(d.disagree / OPS_PER_PAGE));
    const entry = page?.entries[d.disagree % OPS_PER_PAGE];
    if (!entry) throw new Error(`op entry of layer ${d.disagree} not loaded`);
    return stepData(d, entry, this.view, this.world.modelView(), pick);
  }
  /** Puts `data` (this side's whole-tensor step data by default) into its proof buffer; returns the writes. */
  async fillBuffer(dispute: PublicKey, data?: Buffer): Promise<TxResult[]> {
    const writes = await this.client.fillProofBuffer(
      this.key,
      dispute,
      data ?? (await this.stepData(dispute)),
    );
    return writes.map(landed);
  }
  /** Submits the one-step from this side's buffer as it is; `maxElements` > 0 computes one slice. */
  oneStep(dispute: PublicKey, maxElements = 0): Promise<TxResult> {
    return attempt(this.client.oneStep(this.key, dispute, { maxElements }));
  }
  closeBuffer(dispute: PublicKey): Promise<TxResult> {
    return attempt(this.client.closeProofBuffer(this.key, dispute));
  }
  proofBuffer(dispute: PublicKey): PublicKey {
    return this.client.pdas.proof(dispute, this.key.publicKey);
  }
}

/** Honest layers, and a cheater's layers: layer `at` has one byte changed in chunk `chunk`, later layers recomputed from it. */
export function cheatLayers(m: ModelDef, at: number, chunk: number): P.Tensor[] {
  const honest = run(m);
  const out: P.Tensor[] = honest.slice(0, at);
  const bad = { ...honest[at], bytes: Buffer.from(honest[at].bytes) };
  const pos = Math.min(chunk * P.CHUNK_BYTES + 5, bad.bytes.length - 1);
  bad.bytes[pos] ^= 0x40;
  out.push(bad);
  // Later layers: the cheater keeps computing from its bad value, so its trace is consistent.
  for (let i = at + 1; i < m.layers.length; i++) {
    const l = m.layers[i];
    const sortedInputs = m.inputs
      .slice()
      .sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
    const ins = l.refs.map((r) =>
      r >> 14 === 0 ? out[r & 0x3fff] : r >> 14 === 1 ? sortedInputs[r & 0x3fff][1] : m.weights[r & 0x3fff],
    );
    out.push(evalOpSafe(l, ins, honest[i]));
  }
  return out;
}
function evalOpSafe(l: Parameters<typeof evalOp>[0], ins: P.Tensor[], fallback: P.Tensor): P.Tensor {
  let t: P.Tensor;
  try {
    t = evalOp(l, ins);
  } catch {
    // Dims from its own bad Shape past any size (ConstantOfShape): it keeps the registered shape.
    t = fallback;
  }
  // If the corruption vanished (e.g. Relu of a negative), flip a byte so the output still differs;
  // not a Shape's, whose values are the registered dims later layers (ConstantOfShape) are sized by.
  if (t.bytes.equals(fallback.bytes) && l.op !== OP.SHAPE) {
    const b = Buffer.from(t.bytes);
    b[b.length - 1] ^= 1;
    return { ...t, bytes: b };
  }
  return t;
}

type Layers = (m: ModelDef) => P.Tensor[];

export interface Game {
  world: World;
  exec: Player;
  chal: Player;
  dispute: PublicKey;
  batch: CommittedBatch;
}

/**
 * A world with `m` registered, an executor (10 SOL bonded) whose batch 0 claims the output of
 * `execLayers`, and a challenger (5 SOL) holding `chalLayers` who has opened a dispute on job 1.
 */
export async function startGame(
  execLayers: Layers,
  chalLayers: Layers,
  m: ModelDef = mlpModel(),
): Promise<Game> {
  const world = new World();
  await world.init(clockFor(m));
  await world.registerModel(m);
  const e = await world.operator(10_000_000_000n);
  const c = await world.operator(5_000_000_000n);
  const exec = new Player(world, e, world.trace(execLayers(m)));
  const chal = new Player(world, c, world.trace(chalLayers(m)));
  const batch = await world.commitBatch(0, e, world.outputDigest(exec.trace));
  const { dispute, res } = await world.openDispute(c, batch, 1);
  world.must(res, 'open_dispute');
  return { world, exec, chal, dispute, batch };
}

/**
 * The test parameters' clock, or the longer one `m`'s games need (add_model_ops refuses a model
 * whose games pass the clock), with the unbonding delay that clock requires.
 */
export function clockFor(m: ModelDef): Partial<typeof PARAMS> {
  const floor = BigInt(checkModel(m.layers, modelShapes(m), { mode: m.mode }).clockFloor);
  if (floor <= PARAMS.clockSlots) return {};
  return { clockSlots: floor, unbondingSlots: minUnbondingSlots(PARAMS.challengeWindow, floor) };
}

/**
 * Each side makes the move nextMove names, one slot apart, until the one-step (or resolution, or a
 * move named in `until`); returns the moves.
 */
export async function playToOneStep(
  g: Omit<Game, 'batch'>,
  until: readonly string[] = [],
): Promise<TxResult[]> {
  const moves: TxResult[] = [];
  for (;;) {
    const d = await g.world.dispute(g.dispute);
    const next = nextMove(d);
    if (next.kind === 'one_step' || next.kind === 'resolved' || until.includes(next.kind)) return moves;
    const p = next.side === SIDE.EXECUTOR ? g.exec : g.chal;
    moves.push(g.world.must(await p.move(g.dispute, d), `${next.kind} in phase ${d.phase}`));
    g.world.warp(1);
    if (moves.length >= 200) throw new Error('game does not terminate');
  }
}

/**
 * `loser` opens a challenger game on job 0 of each of `winner`'s honest `batches` and abandons it: `winner`
 * commits its (honest) trace and claims each timeout, taking `loser`'s challenger stakes (a bond drain).
 */
export async function loseChallengerGames(
  world: World,
  loser: Keypair,
  winner: Keypair,
  batches: CommittedBatch[],
  honestTrace: Trace,
): Promise<void> {
  const games = [];
  for (const b of batches) {
    const g = await world.openDispute(loser, b, 0);
    world.must(g.res, `open_dispute on batch ${b.index}`);
    games.push(g.dispute);
  }
  const wp = new Player(world, winner, honestTrace);
  for (const d of games) world.must(await wp.commitTrace(d), 'commit_trace');
  world.warp(PARAMS.clockSlots + 1n);
  for (const d of games) world.must(await world.claimTimeout(winner, d), 'claim_timeout');
}

/**
 * Batch `index`: record j signed by jobs[j][0] with fee jobs[j][1], then `padding` leaves (hash, fee) the
 * sequencer chose in place of (ZERO, 0); the tree is built as given (no overflow check), committed with
 * `jobCount` = jobs.length and `feeTotal` escrowed.
 */
export async function commitTree(
  world: World,
  index: number,
  jobs: [Keypair, bigint, Buffer?][],
  feeTotal: bigint,
  padding: P.BatchNode[] = [],
): Promise<{ b: CommittedBatch; res: TxResult }> {
  const records = jobs.map(([k, fee], j) =>
    P.jobRecord({
      jobId: P.sha(Buffer.from([14]), P.u64(index * 100 + j)),
      modelId: world.modelId,
      inputDigest: world.inputDigest(),
      outputDigest: jobs[j][2] ?? P.sha(Buffer.from(`out ${index} ${j}`)),
      executor: k.publicKey.toBytes(),
      fee,
    }),
  );
  const signatures = records.map((r, j) => P.signRecord(r, jobs[j][0].secretKey));
  const leaves = records.map((r, j) => ({ hash: P.signedLeaf(r, signatures[j]), fee: jobs[j][1] }));
  const levels = P.batchTree([...leaves, ...padding]);
  const res = await attempt(
    world.client.commitBatch(world.sequencer, {
      index,
      root: P.batchRoot(levels),
      jobCount: records.length,
      feeTotal,
    }),
  );
  const b = { index, address: world.client.pdas.batch(index), records, signatures, levels, res };
  return { b, res };
}

/** claim_fees of job `j` of `b` by `by`; a closed batch (the client finds no account) is a refusal too. */
export const claimOne = (world: World, by: Keypair, b: CommittedBatch, j: number): Promise<TxResult> =>
  attempt(
    world.client.claimFees(by, b.index, [
      { jobIndex: j, record: b.records[j], signature: b.signatures[j], ...P.batchProof(b.levels, j) },
    ]),
  ).catch((e: Error) => ({ ok: false, cu: 0, size: 0, logs: [], events: [], error: e.message }));

/** Lamports `k` holds in its wallet and its Operator account. */
export const holds = (world: World, k: PublicKey) =>
  world.balance(k) + world.balance(world.client.pdas.operator(k));

/**
 * answer_data on job `job` of `b`, posting `inputs` with the committed record, signature and batch opening (or the
 * forged ones given); the last transaction's result.
 */
export function answerData(
  world: World,
  by: Keypair,
  b: CommittedBatch,
  job: number,
  inputs: Buffer,
  forged: { record?: Buffer; signature?: Buffer; proof?: { siblings: Buffer[]; siblingFees: bigint[] } } = {},
): Promise<TxResult> {
  return attempt(
    world.client
      .answerData(by, b.index, job, {
        record: forged.record ?? b.records[job],
        signature: forged.signature ?? b.signatures[job],
        inputs,
        ...(forged.proof ?? P.batchProof(b.levels, job)),
      })
      .then((r) => r[r.length - 1]),
  );
}

const op = (g: Game, who: Player) => g.world.operatorOf(who.key.publicKey);
/** The one-step's verdict from its OneStepExecuted event (undefined when it did not resolve). */
export const executorCorrect = (r: TxResult) => {
  const ev = r.events.find((e) => e.name === 'OneStepExecuted');
  return ev?.name === 'OneStepExecuted' ? ev.data.executorCorrect : undefined;
};

/** Both operators' accounts and the vault's balance before a one-step (assertPayout's reference). */
export interface Before {
  e: OperatorAccount;
  c: OperatorAccount;
  t: bigint;
}

/** The bonds after a game `winner` won: bounty to the winner, stake off the loser, the rest to the vault, lamports conserved. */
export async function assertPayout(g: Game, winner: 'exec' | 'chal', before: Before) {
  const e = await op(g, g.exec),
    c = await op(g, g.chal);
  const stake = winner === 'exec' ? PARAMS.minChallengerBond : PARAMS.minExecutorBond;
  const bounty = (stake * BigInt(PARAMS.bountyBps)) / 10000n;
  const [w, l, w0, l0] = winner === 'exec' ? [e, c, before.e, before.c] : [c, e, before.c, before.e];
  assert.equal(w.bonded, w0.bonded + bounty, 'winner bond plus bounty');
  assert.equal(l.bonded, l0.bonded - stake, 'loser slashed by its stake');
  assert.equal(e.locked, 0n);
  assert.equal(c.locked, 0n);
  assert.equal(e.openDisputes, 0);
  assert.equal(
    g.world.balance(g.world.client.pdas.vault()),
    before.t + stake - bounty,
    'rest of the stake to the vault',
  );
  assert.equal(g.world.unaccountedLamports(), 0n, 'lamports conserved');
}

export async function snapshot(g: Game): Promise<Before> {
  return { e: await op(g, g.exec), c: await op(g, g.chal), t: g.world.balance(g.world.client.pdas.vault()) };
}
