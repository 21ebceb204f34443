// Drives whole dispute games through the SBF program: setup, honest or cheating players, accounting.
import BN from 'bn.js';
import {
  Keypair,
  PublicKey,
  SystemProgram,
  type AccountMeta,
  type TransactionInstruction,
} from '@solana/web3.js';
import { address as kitAddress } from '@solana/kit';
import { Harness, PDA, PROGRAM_ID, type TxResult } from './svm.ts';
import * as P from './protocol.ts';
import { encodeEntry, evalOp, mlpModel, run, type ModelDef } from './model.ts';
import { OPS_PER_PAGE } from '../../../state/optable.ts';
import { PHASE } from '../../../dispute/phases.ts';

export { PHASE };

export const PROFILE = P.sha(Buffer.from('canonical profile'));
export const PROOF_CHUNK = 900;
export const PARAMS = {
  challengeWindow: 1000,
  clockSlots: 100,
  minExecutorBond: 5_000_000_000n,
  minChallengerBond: 2_000_000_000n,
  unbondingSlots: 50,
  bountyBps: 5000,
};

const w = (pubkey: PublicKey, isSigner = false): AccountMeta => ({ pubkey, isSigner, isWritable: true });
const r = (pubkey: PublicKey, isSigner = false): AccountMeta => ({ pubkey, isSigner, isWritable: false });

/** A side's view of one run: its layer tensors and all commitments derived from them. */
export class Trace {
  digests: Buffer[];
  prefixes: Buffer[];
  levels: Buffer[][];
  chunkTrees: Buffer[][][];
  constructor(
    public layers: P.Tensor[],
    public seed: Buffer,
  ) {
    this.digests = layers.map(P.tensorDigest);
    this.prefixes = P.prefixes(seed, this.digests);
    this.levels = P.tree(this.prefixes.map(P.leafHash));
    this.chunkTrees = layers.map(P.chunkTree);
  }
  get root() {
    return P.rootOf(this.levels);
  }
  prefixBefore(i: number) {
    return i === 0 ? this.seed : this.prefixes[i - 1];
  }
}

export function outputDigest(m: ModelDef, t: Trace) {
  return P.tensorSetDigest([[m.outputName, t.digests[t.digests.length - 1]]]);
}

export class World {
  h = new Harness();
  authority = this.h.fund();
  sequencer = this.h.fund();
  treasury = Keypair.generate().publicKey;
  model!: ModelDef;
  modelId!: Buffer;
  modelPda!: PublicKey;
  weightLevels!: Buffer[][];
  fees = 0n;
  signers: Keypair[] = [];

  constructor() {
    this.signers.push(this.authority, this.sequencer);
  }

  send(ixs: TransactionInstruction[], signers: Keypair[]): TxResult {
    const res = this.h.send(ixs, signers);
    // LiteSVM charges 5000 lamports per signature and burns them; tracked for conservation checks.
    this.fees += 5000n * BigInt(new Set(signers.map((s) => s.publicKey.toBase58())).size);
    return res;
  }
  must(res: TxResult, what: string): TxResult {
    if (!res.ok) throw new Error(`${what} failed: ${res.error ?? res.raw}\n${res.logs.join('\n')}`);
    return res;
  }

  init(): TxResult {
    return this.must(
      this.send(
        [
          this.h.ix('initialize', { params: this.params() }, [
            w(this.authority.publicKey, true),
            w(PDA.config()),
            r(SystemProgram.programId),
          ]),
        ],
        [this.authority],
      ),
      'initialize',
    );
  }
  params(over: Partial<typeof PARAMS> = {}) {
    const p = { ...PARAMS, ...over };
    return {
      sequencer: this.sequencer.publicKey,
      treasury: this.treasury,
      challenge_window: new BN(p.challengeWindow),
      clock_slots: new BN(p.clockSlots),
      min_executor_bond: new BN(p.minExecutorBond.toString()),
      min_challenger_bond: new BN(p.minChallengerBond.toString()),
      unbonding_slots: new BN(p.unbondingSlots),
      bounty_bps: p.bountyBps,
    };
  }

  registerModel(m: ModelDef, entries?: Buffer[]): TxResult[] {
    this.model = m;
    this.modelId = P.sha(
      Buffer.from('model'),
      ...m.layers.map(encodeEntry),
      ...m.weights.map((t) => t.bytes),
    );
    this.modelPda = PDA.model(this.modelId);
    this.weightLevels = P.tree(m.weights.map((t) => P.leafHash(P.tensorDigest(t))));
    const out: TxResult[] = [];
    out.push(
      this.must(
        this.send(
          [
            this.h.ix(
              'register_model',
              {
                model_id: [...this.modelId],
                profile_hash: [...PROFILE],
                weight_root: [...P.rootOf(this.weightLevels)],
                weight_count: m.weights.length,
                layer_count: m.layers.length,
                output_name: Buffer.from(m.outputName),
              },
              [
                w(this.authority.publicKey, true),
                r(PDA.config()),
                w(this.modelPda),
                r(SystemProgram.programId),
              ],
            ),
          ],
          [this.authority],
        ),
        'register_model',
      ),
    );
    const all = entries ?? m.layers.map(encodeEntry);
    for (let page = 0; page * OPS_PER_PAGE < all.length; page++) {
      out.push(this.addOps(page, Buffer.concat(all.slice(page * OPS_PER_PAGE, (page + 1) * OPS_PER_PAGE))));
    }
    return out;
  }
  addOps(page: number, entries: Buffer): TxResult {
    return this.send(
      [
        this.h.ix('add_model_ops', { page, entries }, [
          w(this.authority.publicKey, true),
          r(PDA.config()),
          w(this.modelPda),
          w(PDA.ops(this.modelPda, page)),
          r(SystemProgram.programId),
        ]),
      ],
      [this.authority],
    );
  }

  operator(lamports: bigint): Keypair {
    const k = this.h.fund();
    this.signers.push(k);
    this.must(this.bond(k, lamports), 'bond');
    return k;
  }
  bond(k: Keypair, lamports: bigint): TxResult {
    return this.send(
      [
        this.h.ix('bond', { amount: new BN(lamports.toString()) }, [
          w(k.publicKey, true),
          r(PDA.config()),
          w(PDA.operator(k.publicKey)),
          r(SystemProgram.programId),
        ]),
      ],
      [k],
    );
  }

  seed(inputDigest: Buffer) {
    return P.traceSeed(this.modelId, inputDigest, PROFILE);
  }
  inputDigest() {
    return P.tensorSetDigest(this.model.inputs.map(([n, t]) => [n, P.tensorDigest(t)]));
  }

  /** Commits a batch whose job `job` is run by `executor` and claims `claimed` as output. */
  commitBatch(index: number, executor: PublicKey, claimed: Buffer, jobs = 3, job = 1) {
    const records: Buffer[] = [];
    for (let j = 0; j < jobs; j++) {
      records.push(
        P.jobRecord({
          jobId: P.sha(Buffer.from([6]), P.u64(index * 100 + j), this.modelId, this.inputDigest()),
          modelId: this.modelId,
          inputDigest: this.inputDigest(),
          outputDigest: j === job ? claimed : P.sha(Buffer.from(`other ${j}`)),
          executor: executor.toBytes(),
          fee: 1000n,
        }),
      );
    }
    const levels = P.tree(records.map(P.leafHash));
    const batch = PDA.batch(index);
    const res = this.must(
      this.send(
        [
          this.h.ix('commit_batch', { index: new BN(index), root: [...P.rootOf(levels)], job_count: jobs }, [
            w(this.sequencer.publicKey, true),
            w(PDA.config()),
            w(batch),
            r(SystemProgram.programId),
          ]),
        ],
        [this.sequencer],
      ),
      'commit_batch',
    );
    return { batch, records, levels, res };
  }

  openDispute(
    challenger: Keypair,
    executor: PublicKey,
    b: { batch: PublicKey; records: Buffer[]; levels: Buffer[][] },
    job: number,
    siblings?: Buffer[],
    record?: Buffer,
  ): { dispute: PublicKey; res: TxResult } {
    const dispute = PDA.dispute(b.batch, job);
    const res = this.send(
      [
        this.h.ix(
          'open_dispute',
          {
            job_index: job,
            record: [...(record ?? b.records[job])],
            siblings: (siblings ?? P.proof(b.levels, job)).map((s) => [...s]),
          },
          [
            w(challenger.publicKey, true),
            r(PDA.config()),
            w(b.batch),
            r(this.modelPda),
            w(PDA.operator(executor)),
            w(PDA.operator(challenger.publicKey)),
            w(dispute),
            r(SystemProgram.programId),
          ],
        ),
      ],
      [challenger],
    );
    return { dispute, res };
  }

  dispute(d: PublicKey) {
    return this.h.fetch('Dispute', d);
  }

  resolveAccounts(d: PublicKey): AccountMeta[] {
    const s = this.dispute(d);
    return [
      w(d),
      r(PDA.config()),
      w(s.batch),
      w(PDA.operator(s.executor)),
      w(PDA.operator(s.challenger)),
      w(this.treasury),
    ];
  }
  claimTimeout(by: Keypair, d: PublicKey) {
    return this.send([this.h.ix('claim_timeout', {}, this.resolveAccounts(d))], [by]);
  }
  finalize(by: Keypair, batch: PublicKey) {
    return this.send([this.h.ix('finalize_batch', {}, [r(PDA.config()), w(batch)])], [by]);
  }

  /** Sum of every lamport the scenario can touch: signers, program accounts, treasury. */
  totalLamports(extra: PublicKey[] = []): bigint {
    const keys = new Set<string>([
      ...this.signers.map((s) => s.publicKey.toBase58()),
      this.treasury.toBase58(),
      ...extra.map((e) => e.toBase58()),
    ]);
    for (const a of this.h.svm.getProgramAccounts(kitAddress(PROGRAM_ID.toBase58()))) keys.add(a.address);
    let sum = 0n;
    for (const k of keys) sum += this.h.balance(new PublicKey(k));
    return sum;
  }
}

/** One side of a dispute, playing from its own trace. */
export class Player {
  constructor(
    public world: World,
    public key: Keypair,
    public trace: Trace,
  ) {}
  get h() {
    return this.world.h;
  }
  private d(dispute: PublicKey) {
    return this.world.dispute(dispute);
  }
  private acc(dispute: PublicKey): AccountMeta[] {
    return [r(this.key.publicKey, true), w(dispute)];
  }

  commitTrace(dispute: PublicKey): TxResult {
    const t = this.trace,
      n = t.layers.length;
    return this.world.send(
      [
        this.h.ix(
          'commit_trace',
          {
            root: [...t.root],
            layer_count: n,
            prev_prefix: [...t.prefixBefore(n - 1)],
            last_digest: [...t.digests[n - 1]],
            siblings: P.proof(t.levels, n - 1).map((s) => [...s]),
          },
          [...this.acc(dispute), r(this.world.modelPda)],
        ),
      ],
      [this.key],
    );
  }
  bisectLayer(dispute: PublicKey): TxResult {
    const s = this.d(dispute);
    const mid = s.agreed + Math.floor((s.disagree - s.agreed) / 2);
    return this.world.send(
      [
        this.h.ix(
          'bisect_layer',
          {
            prefix: [...this.trace.prefixes[mid]],
            siblings: P.proof(this.trace.levels, mid).map((x) => [...x]),
          },
          this.acc(dispute),
        ),
      ],
      [this.key],
    );
  }
  revealLayer(dispute: PublicKey): TxResult {
    const s = this.d(dispute);
    const t = this.trace.layers[s.disagree];
    return this.world.send(
      [
        this.h.ix(
          'reveal_layer',
          { header: P.headerBytes(t), chunk_root: [...P.rootOf(this.trace.chunkTrees[s.disagree])] },
          this.acc(dispute),
        ),
      ],
      [this.key],
    );
  }
  bisectChunk(dispute: PublicKey): TxResult {
    const s = this.d(dispute);
    const lv = this.trace.chunkTrees[s.disagree];
    const L = s.chunk_level,
      i = s.chunk_index;
    return this.world.send(
      [
        this.h.ix(
          'bisect_chunk',
          { left: [...lv[L - 1][2 * i]], right: [...lv[L - 1][2 * i + 1]] },
          this.acc(dispute),
        ),
      ],
      [this.key],
    );
  }

  /**
   * The one-step proof data: every input of the disputed layer, opened from this side's trace.
   * `sparse` may name, per input position, the only chunks to open (with Merkle proofs) instead
   * of the whole tensor.
   */
  stepData(
    dispute: PublicKey,
    sparse: (input: number, t: P.Tensor) => number[] | undefined = () => undefined,
  ): Buffer {
    const s = this.d(dispute);
    const m = this.world.model;
    const layer = m.layers[s.disagree];
    const parts: Buffer[] = [];
    const sortedInputs = m.inputs
      .slice()
      .sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
    const open = (pos: number, t: P.Tensor) => {
      const pick = sparse(pos, t);
      if (!pick) return Buffer.concat([Buffer.from([0]), P.tensorBlob(t)]);
      const levels = P.chunkTree(t);
      const chunks = P.chunks(t.bytes);
      const out = [Buffer.from([1]), P.headerBytes(t), P.rootOf(levels), P.u16(pick.length)];
      for (const c of pick) {
        const sib = P.proof(levels, c);
        out.push(P.u32(c), Buffer.from([sib.length]), ...sib, chunks[c]);
      }
      return Buffer.concat(out);
    };
    layer.refs.forEach((ref, pos) => {
      const kind = ref >> 14,
        idx = ref & 0x3fff;
      if (kind === 0) {
        parts.push(
          this.trace.prefixBefore(idx),
          P.u32(s.agreed - idx),
          ...this.trace.digests.slice(idx, s.agreed),
          open(pos, this.trace.layers[idx]),
        );
      } else if (kind === 1) {
        parts.push(P.u32(sortedInputs.length));
        for (const [name, t] of sortedInputs)
          parts.push(P.u16(Buffer.byteLength(name)), Buffer.from(name), P.tensorDigest(t));
        parts.push(open(pos, sortedInputs[idx][1]));
      } else {
        const sib = P.proof(this.world.weightLevels, idx);
        parts.push(
          Buffer.from([sib.length]),
          ...sib,
          P.tensorDigest(m.weights[idx]),
          open(pos, m.weights[idx]),
        );
      }
    });
    return Buffer.concat(parts);
  }

  /**
   * Fills this side's proof buffer over as many transactions as needed, growing it by up to
   * 10 KiB per write once the data passes its capacity; returns the tx results.
   */
  fillBuffer(dispute: PublicKey, data = this.stepData(dispute)): TxResult[] {
    const buf = PDA.proof(dispute, this.key.publicKey);
    const out: TxResult[] = [];
    if (!this.h.data(buf)) {
      out.push(
        this.world.must(
          this.world.send(
            [
              this.h.ix('init_proof_buffer', {}, [
                w(this.key.publicKey, true),
                r(dispute),
                w(buf),
                r(SystemProgram.programId),
              ]),
            ],
            [this.key],
          ),
          'init_proof_buffer',
        ),
      );
    }
    // Capacity = account data after the 77-byte Slab header and length.
    let capacity = this.h.data(buf)!.length - 77;
    for (let off = 0; off < data.length; off += PROOF_CHUNK) {
      const piece = data.subarray(off, off + PROOF_CHUNK);
      const grow = off + piece.length > capacity ? 10240 : 0;
      capacity += grow;
      out.push(
        this.world.must(
          this.world.send(
            [
              this.h.ix('write_proof_buffer', { offset: off, grow, data: piece }, [
                w(this.key.publicKey, true),
                w(buf),
                r(SystemProgram.programId),
              ]),
            ],
            [this.key],
          ),
          'write_proof_buffer',
        ),
      );
    }
    return out;
  }

  oneStep(dispute: PublicKey, maxElements = 0): TxResult {
    const s = this.d(dispute);
    const page = Math.floor(s.disagree / OPS_PER_PAGE);
    return this.world.send(
      [
        this.h.ix('one_step', { max_elements: maxElements }, [
          r(this.key.publicKey, true),
          ...this.world.resolveAccounts(dispute),
          r(this.world.modelPda),
          r(PDA.ops(this.world.modelPda, page)),
          r(PDA.proof(dispute, this.key.publicKey)),
        ]),
      ],
      [this.key],
    );
  }
  closeBuffer(dispute: PublicKey): TxResult {
    return this.world.send(
      [
        this.h.ix('close_proof_buffer', {}, [
          w(this.key.publicKey, true),
          w(PDA.proof(dispute, this.key.publicKey)),
        ]),
      ],
      [this.key],
    );
  }

  /** Makes whatever move the dispute expects from this side now (not the one-step). */
  move(dispute: PublicKey): TxResult {
    const s = this.d(dispute);
    switch (s.phase) {
      case PHASE.EXEC_TRACE:
      case PHASE.CHAL_TRACE:
        return this.commitTrace(dispute);
      case PHASE.LAYER_BISECT:
        return this.bisectLayer(dispute);
      case PHASE.LAYER_REVEAL:
        return this.revealLayer(dispute);
      case PHASE.CHUNK_BISECT:
        return this.bisectChunk(dispute);
    }
    throw new Error(`no move in phase ${s.phase}`);
  }
}

export const SIDE = { EXECUTOR: 0, CHALLENGER: 1 } as const;

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
  const t = evalOp(l, ins);
  // If the corruption vanished (e.g. Relu of a negative), flip a byte so the output still differs.
  if (t.bytes.equals(fallback.bytes)) {
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
  batch: PublicKey;
  /** Lamports of everything plus fees burned so far, taken before the dispute opened. */
  total0: bigint;
}

export function startGame(execLayers: Layers, chalLayers: Layers, m: ModelDef = mlpModel()): Game {
  const world = new World();
  world.init();
  world.registerModel(m);
  const e = world.operator(10_000_000_000n);
  const c = world.operator(5_000_000_000n);
  const seed = world.seed(world.inputDigest());
  const exec = new Player(world, e, new Trace(execLayers(m), seed));
  const chal = new Player(world, c, new Trace(chalLayers(m), seed));
  const b = world.commitBatch(0, e.publicKey, outputDigest(m, exec.trace));
  const total0 = world.totalLamports() + world.fees;
  const { dispute, res } = world.openDispute(c, e.publicKey, b, 1);
  world.must(res, 'open_dispute');
  return { world, exec, chal, dispute, batch: b.batch, total0 };
}

/** Both sides move in turn until the one-step phase (or resolution). */
export function playToOneStep(g: Game): number {
  let moves = 0;
  for (;;) {
    const d = g.world.dispute(g.dispute);
    if (d.phase === PHASE.ONE_STEP || d.phase === PHASE.RESOLVED) return moves;
    const p = d.turn === SIDE.EXECUTOR ? g.exec : g.chal;
    g.world.must(p.move(g.dispute), `move in phase ${d.phase}`);
    g.world.h.warp(1);
    moves++;
    if (moves >= 200) throw new Error('game does not terminate');
  }
}
