// Test-only: a LiteSVM world driven through SettlementClient, with the program tests' models and traces
// (programs/tests/lib) adapted to the client's TraceView / ModelView; programs/tests/lib/game.ts builds on it.
import { Keypair, PublicKey } from '@solana/web3.js';
import { address as kitAddress } from '@solana/kit';
import * as P from '../programs/tests/lib/protocol.ts';
import { Trace, PROFILE } from '../programs/tests/lib/trace.ts';
import { encodeEntry, run, type ModelDef } from '../programs/tests/lib/model.ts';
import type { ShapeRecord } from '../state/shapes.ts';
import { LiteSvmSender } from './sender.ts';
import { SettlementClient, type ModelRegistration } from './client.ts';
import type { ModelView, TraceView } from '../dispute/views.ts';
import type { ConfigParams } from './instructions.ts';

/**
 * Game parameters of the LiteSVM suites. Unbonding is the dispute span (1000 + late_dispute_slots(100) + 150 =
 * 1000 + 256 + 150), the least delay request_unbond gives; the program accepts down to 1000 + 2 x 100 + 150.
 */
export const PARAMS = {
  challengeWindow: 1000n,
  clockSlots: 100n,
  minExecutorBond: 5_000_000_000n,
  minChallengerBond: 2_000_000_000n,
  unbondingSlots: 1406n,
  bountyBps: 5000,
};

export function traceView(t: Trace): TraceView {
  return {
    layerCount: t.layers.length,
    root: t.root,
    prefix: (i) => t.prefixBefore(i + 1),
    prefixProof: (i) => P.proof(t.levels, i),
    digest: (i) => t.digests[i],
    layer: (i) => ({ header: P.headerBytes(t.layers[i]), bytes: t.layers[i].bytes }),
    chunkLevels: (i) => t.chunkTrees[i],
  };
}

export class LocalWorld {
  readonly sender: LiteSvmSender;
  readonly client: SettlementClient;
  /** Keys whose lamports the conservation check sums. */
  keys: PublicKey[] = [];
  treasury = Keypair.generate().publicKey;
  authority: Keypair;
  sequencer: Keypair;
  model!: ModelDef;
  modelId!: Buffer;
  weightLevels!: Buffer[][];

  /** `sender`: the LiteSVM to run in (a fresh one with the built program by default). */
  constructor(sender: LiteSvmSender = new LiteSvmSender()) {
    this.sender = sender;
    this.client = new SettlementClient(sender);
    this.keys.push(this.treasury);
    this.authority = this.fund();
    this.sequencer = this.fund();
  }

  fund(lamports = 100_000_000_000n): Keypair {
    const k = Keypair.generate();
    this.sender.airdrop(k.publicKey, lamports);
    this.keys.push(k.publicKey);
    return k;
  }

  params(over: Partial<typeof PARAMS> = {}): ConfigParams {
    const p = { ...PARAMS, ...over };
    return { sequencer: this.sequencer.publicKey, treasury: this.treasury, ...p };
  }

  /** Makes `m` this world's model and returns its registration (id, weight root, op entries). */
  registration(m: ModelDef): ModelRegistration {
    this.model = m;
    this.modelId = P.sha(
      Buffer.from('model'),
      ...m.layers.map(encodeEntry),
      ...m.weights.map((t) => t.bytes),
    );
    this.weightLevels = P.tree(m.weights.map((t) => P.leafHash(P.tensorDigest(t))));
    return {
      modelId: this.modelId,
      profileHash: PROFILE,
      weightRoot: P.rootOf(this.weightLevels),
      weightCount: m.weights.length,
      opEntries: m.layers.map(encodeEntry),
      outputName: m.outputName,
      shapes: modelShapes(m),
      mode: m.mode,
      arithBits: m.arithBits,
    };
  }

  async registerModel(m: ModelDef) {
    return this.client.registerModel(this.authority, this.registration(m));
  }

  inputDigest() {
    return P.tensorSetDigest(this.model.inputs.map(([n, t]) => [n, P.tensorDigest(t)]));
  }
  seed() {
    return P.traceSeed(this.modelId, this.inputDigest(), PROFILE);
  }
  trace(layers: P.Tensor[]) {
    return new Trace(layers, this.seed());
  }
  outputDigest(t: Trace) {
    return P.tensorSetDigest([[this.model.outputName, t.digests[t.digests.length - 1]]]);
  }

  modelView(): ModelView {
    const m = this.model;
    const sorted = m.inputs.slice().sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
    return {
      inputs: sorted.map(([name, t]) => ({
        name,
        digest: P.tensorDigest(t),
        tensor: { header: P.headerBytes(t), bytes: t.bytes },
      })),
      weight: (i) => ({
        digest: P.tensorDigest(m.weights[i]),
        siblings: P.proof(this.weightLevels, i),
        tensor: { header: P.headerBytes(m.weights[i]), bytes: m.weights[i].bytes },
      }),
    };
  }

  /**
   * Lamports of every key and every program account, plus the fees burned, minus every airdrop:
   * zero whenever no lamport was created or lost.
   */
  unaccountedLamports(): bigint {
    const keys = new Set(this.keys.map((k) => k.toBase58()));
    for (const a of this.sender.svm.getProgramAccounts(kitAddress(this.sender.programId.toBase58()))) {
      keys.add(a.address);
    }
    let sum = this.sender.feesBurned - this.sender.airdropped;
    for (const k of keys) sum += this.sender.balance(new PublicKey(k));
    return sum;
  }
}

/** The shapes `m` registers: its inputs in name order, its weights with their chunk roots, its honest layer outputs. */
export function modelShapes(m: ModelDef): ShapeRecord {
  const sorted = m.inputs.slice().sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  const header = (t: P.Tensor) => ({ dtype: t.dtype, dims: t.dims });
  return {
    inputs: sorted.map(([, t]) => header(t)),
    weights: m.weights.map((w) => ({ header: header(w), chunkRoot: P.rootOf(P.chunkTree(w)) })),
    layers: run(m).map(header),
  };
}
