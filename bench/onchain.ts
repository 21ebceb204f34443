// On-chain cost of optinfer, measured for real: the SBF program (programs/target/deploy/optinfer.so)
// driven through SettlementClient, in-process in LiteSVM and over JSON-RPC against the local
// validator (chain/, surfpool-core). Lamports come from account balances (wallets before/after,
// PDA balances), cross-checked against 5000 lamports per signature + rent.
// Run: node --import tsx bench/onchain.ts
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Keypair, LAMPORTS_PER_SOL, type PublicKey } from '@solana/web3.js';
import { Batch, jobId, signResult, type JobRecord } from '../state/job.ts';
import { fromHex } from '../state/hash.ts';
import { minUnbondingSlots } from '../settlement/instructions.ts';
import type { BatchIndex, ExecutorId, Hash32, ModelId } from '../state/types.ts';
import { PROFILE, Trace, cheatLayers } from '../programs/tests/lib/game.ts';
import * as P from '../programs/tests/lib/protocol.ts';
import {
  bigMatmulModel,
  chainModel,
  encodeEntry,
  mlpModel,
  run,
  wideModel,
  type ModelDef,
} from '../programs/tests/lib/model.ts';
import { connectLocal, connectRpc } from '../settlement/connect.ts';
import type { SettlementClient } from '../settlement/client.ts';
import { nextMove, playMove, submitOneStep } from '../dispute/moves.ts';
import type { ModelView } from '../dispute/views.ts';
import { DEFAULT_SO_PATH, LAMPORTS_PER_SIGNATURE, type SendResult } from '../settlement/sender.ts';
import { PROGRAM_ID } from '../settlement/idl.ts';
import { SIDE } from '../settlement/accounts.ts';
import { modelShapes, traceView } from '../settlement/testkit.ts';
import { startLocalChain, DEFAULT_VALIDATOR_BINARY } from '../chain/local-chain.ts';

/** Slot time of the local validator for the JSON-RPC rows. */
export const RPC_SLOT_MS = 50;
const BATCH_SIZES = [1, 64, 1024, 8192];
const FUND = 100n * BigInt(LAMPORTS_PER_SOL);
const BOND = BigInt(LAMPORTS_PER_SOL);

const CHAIN = (n: number) => `chain ${n} (int32 Add/Relu/Identity, 256 B layers)`;
const WIDE = 'wide (4 elementwise int32 layers)';

type Row = Record<string, string | number>;
type Named = { name: string; r: SendResult };

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex') as Hash32;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const sigFees = (txs: Named[]) => LAMPORTS_PER_SIGNATURE * BigInt(txs.length); // one signer per tx here

/** A chain to measure on: the client, balance reads, time travel where the chain allows it. */
interface Env {
  label: string;
  client: SettlementClient;
  authority: Keypair;
  sequencer: Keypair;
  exec: Keypair;
  chal: Keypair;
  /** LiteSVM only: moves the clock forward; over RPC, waits for real slots. */
  warp(slots: number): Promise<void>;
  balance(k: PublicKey): Promise<bigint>;
  /** Rent-exempt minimum for `bytes` of account data, as the chain computes it. */
  rentFor(bytes: number): Promise<bigint>;
  nextBatch: number;
  /** Registered models by model id (hex). */
  models: Map<string, Registered>;
  /** Accounts whose balance was compared to the rent-exempt minimum of their size. */
  rentChecks: { what: string; ok: boolean }[];
  close(): Promise<void>;
}

interface Registered {
  modelId: Buffer;
  weightLevels: Buffer[][];
  inputDigest: Buffer;
  seed: Buffer;
  row: Row;
}

const keys = () => ({
  authority: Keypair.generate(),
  sequencer: Keypair.generate(),
  exec: Keypair.generate(),
  chal: Keypair.generate(),
});

async function initEnv(e: Omit<Env, 'nextBatch' | 'models' | 'rentChecks'>, window: bigint): Promise<Env> {
  const env: Env = { ...e, nextBatch: 0, models: new Map(), rentChecks: [] };
  await env.client.initialize(env.authority, {
    sequencer: env.sequencer.publicKey,
    treasury: Keypair.generate().publicKey,
    challengeWindow: window,
    clockSlots: 1_000_000n,
    // Small minimum bonds: the cheating executor loses a stake per dispute and keeps playing.
    // The least round figure the bounds accept: its bounty must repay a winning challenger's Dispute
    // and Job rent plus FEE_MARGIN_LAMPORTS (BountyBelowCosts).
    minExecutorBond: 50_000_000n,
    minChallengerBond: 10_000_000n,
    unbondingSlots: minUnbondingSlots(window, 1_000_000n),
    bountyBps: 5000,
  });
  return env;
}

async function liteEnv(): Promise<Env> {
  const { client, sender } = connectLocal();
  const k = keys();
  for (const s of Object.values(k)) sender.airdrop(s.publicKey, FUND);
  return initEnv(
    {
      label: 'LiteSVM (in-process)',
      client,
      ...k,
      warp: async (n) => sender.warp(n),
      balance: async (p) => sender.balance(p),
      rentFor: async (n) => sender.svm.minimumBalanceForRentExemption(BigInt(n)),
      close: async () => {},
    },
    200n,
  );
}

async function rpcEnv(): Promise<Env> {
  const k = keys();
  const chain = await startLocalChain({
    programs: [{ programId: PROGRAM_ID, soPath: DEFAULT_SO_PATH }],
    airdrops: Object.values(k).map((s) => ({ pubkey: s.publicKey, lamports: FUND })),
    slotTimeMs: RPC_SLOT_MS,
  });
  const { client, connection } = connectRpc({ rpc: chain.rpcUrl, ws: chain.wsUrl });
  return initEnv(
    {
      label: `JSON-RPC local validator (${RPC_SLOT_MS} ms slots)`,
      client,
      ...k,
      warp: async (n) => {
        const target = BigInt(await connection.getSlot('confirmed')) + BigInt(n);
        while (BigInt(await connection.getSlot('confirmed')) < target) {
          await new Promise((r) => setTimeout(r, RPC_SLOT_MS));
        }
      },
      balance: async (p) => BigInt(await connection.getBalance(p, 'confirmed')),
      rentFor: async (n) => BigInt(await connection.getMinimumBalanceForRentExemption(n, 'confirmed')),
      close: async () => {
        // web3.js keeps reconnecting its websocket to a stopped node: close it first.
        (connection as unknown as { _rpcWebSocket?: { close(): void } })._rpcWebSocket?.close();
        await chain.stop();
      },
    },
    // Open disputes must land inside the window; finalize_batch of the per-job batches waits it out.
    100n,
  );
}

/** Reads an account's balance and checks it against the rent-exempt minimum of its data size. */
async function rentOf(env: Env, what: string, pda: PublicKey, extra = 0n): Promise<bigint> {
  const lamports = await env.balance(pda);
  const data = await env.client.sender.getAccountData(pda);
  const ok = data !== null && lamports - extra === (await env.rentFor(data.length));
  env.rentChecks.push({ what: `${what} (${data?.length ?? 0} bytes)`, ok });
  return lamports - extra;
}

/** Registers `m` once per env (one-time cost per model), bonding both parties on first use. */
async function register(env: Env, m: ModelDef, name: string): Promise<Registered> {
  const c = env.client;
  if (env.models.size === 0) {
    await c.bond(env.exec, BOND);
    await c.bond(env.chal, BOND);
  }
  const modelId = P.sha(Buffer.from('model'), ...m.layers.map(encodeEntry), ...m.weights.map((t) => t.bytes));
  const have = env.models.get(hex(modelId));
  if (have) return have;
  const weightLevels = P.tree(m.weights.map((t) => P.leafHash(P.tensorDigest(t))));
  const before = await env.balance(env.authority.publicKey);
  const txs = await c.registerModel(env.authority, {
    modelId,
    profileHash: PROFILE,
    weightRoot: P.rootOf(weightLevels),
    weightCount: m.weights.length,
    opEntries: m.layers.map(encodeEntry),
    outputName: m.outputName,
    shapes: modelShapes(m),
  });
  const spent = before - (await env.balance(env.authority.publicKey));
  const modelPda = c.pdas.model(modelId);
  let rent = await rentOf(env, 'model', modelPda);
  const pages = Math.ceil(m.layers.length / 32);
  for (let p = 0; p < pages; p++) rent += await rentOf(env, 'ops page', c.pdas.ops(modelPda, p));
  const fees = LAMPORTS_PER_SIGNATURE * BigInt(txs.length);
  const inputDigest = P.tensorSetDigest(m.inputs.map(([n, t]) => [n, P.tensorDigest(t)]));
  const reg: Registered = {
    modelId,
    weightLevels,
    inputDigest,
    seed: P.traceSeed(modelId, inputDigest, PROFILE),
    row: {
      chain: env.label,
      model: name,
      layers: m.layers.length,
      txs: txs.length,
      'total CU': sum(txs.map((t) => t.computeUnits)),
      'max CU/tx': Math.max(...txs.map((t) => t.computeUnits)),
      'fees (lamports)': Number(fees),
      'rent locked: model + op pages (lamports)': Number(rent),
      'authority Δ (lamports)': Number(spent),
      'Δ = fees + rent': spent === fees + rent ? 'yes' : `NO (${spent - fees - rent})`,
    },
  };
  env.models.set(hex(modelId), reg);
  return reg;
}

/** A batch of `n` real job records (state/job.ts) of model `reg`, executor `exec`; job `at` claims `claimed`. */
function makeBatch(
  index: number,
  n: number,
  reg: Registered,
  exec: Keypair,
  claimed?: { at: number; output: Buffer },
) {
  const modelId = hex(reg.modelId) as ModelId;
  const inputDigest = hex(reg.inputDigest);
  const records: JobRecord[] = [];
  for (let i = 0; i < n; i++) {
    records.push(
      signResult(
        {
          jobId: jobId(index * 1_000_000 + i, modelId, inputDigest),
          modelId,
          inputDigest,
          outputDigest:
            claimed && claimed.at === i ? hex(claimed.output) : hex(P.sha(Buffer.from(`out ${i}`))),
          executor: exec.publicKey.toBase58() as ExecutorId,
          fee: 1000n,
        },
        exec.secretKey,
      ),
    );
  }
  return new Batch(index as BatchIndex, records);
}

// ---- per job: commit_batch + finalize_batch amortized over the batch ---------------------------

async function perJob(env: Env, sizes: number[], withOpen: boolean): Promise<Row[]> {
  const c = env.client;
  const reg = await register(env, chainModel(8), CHAIN(8));
  const seq = env.sequencer.publicKey;
  const committed: { n: number; index: number; commit: SendResult; rent: bigint; spent: bigint }[] = [];
  const openCost = new Map<number, SendResult>();
  for (const n of sizes) {
    const b = makeBatch(env.nextBatch, n, reg, env.exec);
    const index = env.nextBatch++;
    const before = await env.balance(seq);
    const commit = await c.commitBatch(env.sequencer, { index, root: fromHex(b.root, 32), jobCount: n });
    const spent = before - (await env.balance(seq));
    committed.push({ n, index, commit, rent: await rentOf(env, 'batch', c.pdas.batch(index)), spent });
    if (withOpen) {
      // open_dispute on the last job of a second batch of the same size: its inclusion proof has
      // ceil(log2 n) siblings (left open; the batch above stays finalizable).
      const b2 = makeBatch(env.nextBatch, n, reg, env.exec);
      const i2 = env.nextBatch++;
      await c.commitBatch(env.sequencer, { index: i2, root: fromHex(b2.root, 32), jobCount: n });
      openCost.set(n, (await c.openDispute(env.chal, b2.proof(n - 1))).result);
    }
  }
  const window = (await c.config()).challengeWindow;
  await env.warp(Number(window) + 1);
  const rows: Row[] = [];
  for (const k of committed) {
    const before = await env.balance(seq);
    const fin = await c.finalizeBatch(env.sequencer, k.index);
    const finSpent = before - (await env.balance(seq));
    const total = k.spent + finSpent;
    const open = openCost.get(k.n);
    rows.push({
      chain: env.label,
      'jobs/batch': k.n,
      'commit CU': k.commit.computeUnits,
      'commit fee': Number(LAMPORTS_PER_SIGNATURE),
      'batch rent (never refunded)': Number(k.rent),
      'commit Δ = fee + rent': k.spent === LAMPORTS_PER_SIGNATURE + k.rent ? 'yes' : `NO (${k.spent})`,
      'finalize CU': fin.computeUnits,
      'finalize fee': Number(finSpent),
      'lamports/batch': Number(total),
      'lamports/job': +(Number(total) / k.n).toFixed(3),
      'CU/job': +((k.commit.computeUnits + fin.computeUnits) / k.n).toFixed(3),
      'open_dispute CU (proof depth)': open ? `${open.computeUnits} (${Math.ceil(Math.log2(k.n))})` : '-',
      'open_dispute bytes': open ? open.size : '-',
    });
  }
  return rows;
}

// ---- per dispute -----------------------------------------------------------------------------

export interface Scenario {
  name: string;
  /** Name of the model in the per-model table (models differing only in input size share an id). */
  modelName: string;
  model: ModelDef;
  /** Layer the executor corrupts (one byte in chunk `chunk`). */
  at: number;
  chunk: number;
  openings?: 'auto' | 'whole';
  maxElements?: number;
}

function modelView(m: ModelDef, reg: Registered): ModelView {
  const sorted = m.inputs.slice().sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  return {
    inputs: sorted.map(([name, t]) => ({
      name,
      digest: P.tensorDigest(t),
      tensor: { header: P.headerBytes(t), bytes: t.bytes },
    })),
    weight: (i) => ({
      digest: P.tensorDigest(m.weights[i]),
      siblings: P.proof(reg.weightLevels, i),
      tensor: { header: P.headerBytes(m.weights[i]), bytes: m.weights[i].bytes },
    }),
  };
}

async function dispute(env: Env, s: Scenario): Promise<Row> {
  const c = env.client;
  const m = s.model;
  const reg = await register(env, m, s.modelName);
  const execTrace = new Trace(cheatLayers(m, s.at, s.chunk), reg.seed);
  const chalTrace = new Trace(run(m), reg.seed);
  const claimed = P.tensorSetDigest([[m.outputName, execTrace.digests[execTrace.digests.length - 1]]]);
  const index = env.nextBatch++;
  const b = makeBatch(index, 64, reg, env.exec, { at: 1, output: claimed });
  await c.commitBatch(env.sequencer, { index, root: fromHex(b.root, 32), jobCount: 64 });

  const who = [env.exec.publicKey, env.chal.publicKey];
  const before = await Promise.all(who.map((k) => env.balance(k)));
  const txs: Named[] = [];
  const t0 = performance.now();
  const open = await c.openDispute(env.chal, b.proof(1));
  txs.push({ name: 'open_dispute', r: open.result });
  const d0 = open.dispute;
  let moves = 0;
  for (;;) {
    const d = await c.dispute(d0);
    const next = nextMove(d);
    if (next.kind === 'one_step' || next.kind === 'resolved') break;
    const [key, trace] = next.side === SIDE.EXECUTOR ? [env.exec, execTrace] : [env.chal, chalTrace];
    const r = await playMove(c, key, d0, traceView(trace), d);
    if (!r) throw new Error(`no move in phase ${d.phase}`);
    txs.push({ name: next.kind, r });
    if (++moves > 400) throw new Error('dispute does not terminate');
  }
  const { writes, steps } = await submitOneStep(c, env.chal, d0, traceView(chalTrace), modelView(m, reg), {
    openings: s.openings ?? 'auto',
    maxElements: s.maxElements,
  });
  for (const r of writes) txs.push({ name: 'buffer', r });
  for (const r of steps) txs.push({ name: 'one_step', r });
  const buffer = c.pdas.proof(d0, env.chal.publicKey);
  const bufferRent = await rentOf(env, 'proof buffer', buffer);
  txs.push({ name: 'close_proof_buffer', r: await c.closeProofBuffer(env.chal, d0) });
  const wallMs = performance.now() - t0;

  const d = await c.dispute(d0);
  if (d.winner !== SIDE.CHALLENGER) throw new Error(`${s.name}: the honest challenger did not win`);
  const after = await Promise.all(who.map((k) => env.balance(k)));
  const spent = before[0] - after[0] + before[1] - after[1];
  const disputeRent = await rentOf(env, 'dispute', d0);
  const leftInBuffer = await env.balance(buffer);
  const fees = sigFees(txs);
  const cu = txs.map((t) => t.r.computeUnits);
  const top = txs.reduce((a, t) => (t.r.computeUnits > a.r.computeUnits ? t : a));
  const layer = run(m)[s.at];
  return {
    chain: env.label,
    scenario: s.name,
    layers: m.layers.length,
    'cheat layer': s.at,
    'layer bytes': layer.bytes.length,
    chunks: Math.max(1, Math.ceil(layer.bytes.length / P.CHUNK_BYTES)),
    txs: txs.length,
    'moves / buffer / one_step': `${moves} / ${writes.length} / ${steps.length}`,
    'total CU': sum(cu),
    'max CU/tx': `${top.r.computeUnits} ${top.name}`,
    'max bytes/tx': Math.max(...txs.map((t) => t.r.size)),
    'fees (lamports)': Number(fees),
    'dispute rent (never refunded)': Number(disputeRent),
    'proof buffer rent (refunded)': Number(bufferRent - leftInBuffer),
    'net spent (wallets Δ)': Number(spent),
    'Δ = fees + dispute rent': spent === fees + disputeRent ? 'yes' : `NO (${spent - fees - disputeRent})`,
    'wall ms': Math.round(wallMs),
  };
}

const LITE_SCENARIOS = (): Scenario[] => [
  { name: 'chain 8, cheat mid', modelName: CHAIN(8), model: chainModel(8), at: 4, chunk: 0 },
  { name: 'chain 64, cheat mid', modelName: CHAIN(64), model: chainModel(64), at: 32, chunk: 0 },
  { name: 'chain 512, cheat first', modelName: CHAIN(512), model: chainModel(512), at: 0, chunk: 0 },
  { name: 'chain 512, cheat mid', modelName: CHAIN(512), model: chainModel(512), at: 256, chunk: 0 },
  { name: 'chain 512, cheat last', modelName: CHAIN(512), model: chainModel(512), at: 511, chunk: 0 },
  {
    name: 'mlp 8, cheat layer 0 (MatMulInteger)',
    modelName: 'mlp 8 (matmul 8x32x32)',
    model: mlpModel(),
    at: 0,
    chunk: 0,
  },
  { name: 'wide 16 KiB, sparse opening', modelName: WIDE, model: wideModel(4096), at: 2, chunk: 37 },
  {
    name: 'wide 16 KiB, whole opening',
    modelName: WIDE,
    model: wideModel(4096),
    at: 2,
    chunk: 37,
    openings: 'whole',
  },
  { name: 'wide 64 KiB, sparse opening', modelName: WIDE, model: wideModel(16384), at: 2, chunk: 200 },
  { name: 'wide 256 KiB, sparse opening', modelName: WIDE, model: wideModel(65536), at: 2, chunk: 700 },
  {
    name: 'matmul K=2048 (128 KiB weights), sliced one-step',
    modelName: 'matmul 1x2048x64 + Relu',
    model: bigMatmulModel(2048),
    at: 0,
    chunk: 0,
    maxElements: 4,
  },
];
const RPC_SCENARIOS = (all: Scenario[]) =>
  all.filter((s) => /^chain (8|512), cheat mid|^wide 16 KiB, sparse/.test(s.name));

// ---- per executor ----------------------------------------------------------------------------

async function perOperator(env: Env): Promise<Row> {
  const c = env.client;
  // A fresh operator (the authority is none yet): bond, then everything back out.
  const fresh = env.authority;
  const b0 = await env.balance(fresh.publicKey);
  const bond = await c.bond(fresh, BOND);
  const b1 = await env.balance(fresh.publicKey);
  const pda = c.pdas.operator(fresh.publicKey);
  const held = await env.balance(pda);
  await rentOf(env, 'operator', pda, BOND);
  const op = (await c.fetchOperator(fresh.publicKey))!;
  await c.requestUnbond(fresh, op.bonded);
  await env.warp(Number((await c.config()).unbondingSlots) + 1);
  const w = await c.withdraw(fresh);
  const b2 = await env.balance(fresh.publicKey);
  return {
    chain: env.label,
    'bond CU': bond.computeUnits,
    'withdraw CU': w.computeUnits,
    'operator account lamports after bond': Number(held),
    'of which rent': Number(held - BOND),
    'rent left after full withdraw (never refunded)': Number(await env.balance(pda)),
    'owner Δ bond..withdraw': Number(b0 - b2),
    'Δ = 3 fees + rent': b0 - b2 === 3n * LAMPORTS_PER_SIGNATURE + (held - BOND) ? 'yes' : 'NO',
    'bond tx Δ (bond + rent + fee)': Number(b0 - b1),
  };
}

// ---- entry points ----------------------------------------------------------------------------

export interface OnchainRows {
  perJob: Row[];
  perOperator: Row[];
  perModel: Row[];
  perDispute: Row[];
  notes: string[];
}

/** One line per env: did every account balance read equal the rent-exempt minimum of its size? */
function rentNote(env: Env): string {
  const bad = env.rentChecks.filter((r) => !r.ok);
  const kinds = [...new Set(env.rentChecks.map((r) => r.what))].join(', ');
  return bad.length === 0
    ? `${env.label}: all ${env.rentChecks.length} account balances read equal the chain's rent-exempt minimum for their size (${kinds})`
    : `${env.label}: balance != rent-exempt minimum for ${bad.map((r) => r.what).join(', ')}`;
}

/**
 * Runs every measurement (LiteSVM, then the local validator over JSON-RPC when it is built;
 * `rpc: false` skips it). Progress goes to `log` (stderr by default).
 */
export async function onchainRows(
  o: { rpc?: boolean; log?: (m: string) => void } = {},
): Promise<OnchainRows> {
  const say = o.log ?? ((m: string) => process.stderr.write(`  … ${m}\n`));
  const out: OnchainRows = { perJob: [], perOperator: [], perModel: [], perDispute: [], notes: [] };
  say('LiteSVM: per job');
  const jobEnv = await liteEnv();
  out.perJob.push(...(await perJob(jobEnv, BATCH_SIZES, true)));
  out.perOperator.push(await perOperator(jobEnv));

  const lite = await liteEnv();
  const scenarios = LITE_SCENARIOS();
  for (const s of scenarios) {
    say(`LiteSVM: ${s.name}`);
    out.perDispute.push(await dispute(lite, s));
  }
  out.perModel.push(...[...lite.models.values()].map((r) => r.row));
  out.notes.push(rentNote(jobEnv), rentNote(lite));

  if (o.rpc !== false) {
    let rpc: Env | undefined;
    try {
      say(`local validator (${DEFAULT_VALIDATOR_BINARY}), ${RPC_SLOT_MS} ms slots`);
      rpc = await rpcEnv();
    } catch (e) {
      out.notes.push(`JSON-RPC rows skipped: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (rpc) {
      try {
        say('RPC: per job');
        // finalize_batch waits out the challenge window in real slots here (100 slots).
        out.perJob.push(...(await perJob(rpc, [1, 1024], false)));
        out.perOperator.push(await perOperator(rpc));
        for (const s of RPC_SCENARIOS(scenarios)) {
          say(`RPC: ${s.name}`);
          out.perDispute.push(await dispute(rpc, s));
        }
        out.perModel.push(...[...rpc.models.values()].map((r) => r.row));
        out.notes.push(rentNote(rpc));
      } finally {
        await rpc.close();
      }
    }
  }
  return out;
}

const NOTES = [
  'fees: 5000 lamports per signature (every transaction here has one signer), no priority fee; CU include the compute-budget instruction where the client adds one (one_step).',
  'commit_batch stores only the root and the job count: its CU and rent do not depend on jobs/batch; its CU varies with the batch index (PDA bump search), not with the job count. Dispute CU vary by a few hundred between runs for the same reason (fresh keys give other dispute and buffer PDA bumps).',
  'never refunded: Batch and Dispute accounts (no instruction closes them) and the Operator account (withdraw pays out the bond, the rent stays); refunded: the proof buffer, by close_proof_buffer (created with 9216 bytes of capacity, so even a small proof locks that much rent until closed).',
  `wall time: LiteSVM rows in-process (no network, no slots); JSON-RPC rows against chain/ local validator with ${RPC_SLOT_MS} ms slots, every transaction signed, sent, confirmed ('confirmed') and fetched by getTransaction, plus the client's account reads between moves.`,
  'per-dispute rows exclude the batch commit (per job table) and the model registration (per model table); stakes (slashed executor bond to the challenger and treasury) are transfers between bond accounts, not costs, and are excluded.',
];

export function printOnchain(r: OnchainRows): void {
  console.log(`optinfer on-chain cost (program ${DEFAULT_SO_PATH})\n`);
  console.log(
    'Per job: commit_batch + finalize_batch per batch, amortized over its jobs (sequencer wallet Δ read from balances; batch accounts are never closed):',
  );
  console.table(r.perJob);
  console.log(
    'Per executor, once: the Operator (bond) account (bond, request_unbond, withdraw of everything):',
  );
  console.table(r.perOperator);
  console.log('Per model, once: register_model + add_model_ops pages (authority wallet Δ):');
  console.table(r.perModel);
  console.log(
    'Per dispute: open_dispute .. moves .. proof buffer .. one_step .. close_proof_buffer, both parties (wallet Δ excludes stakes, which move between bond accounts and the treasury):',
  );
  console.table(r.perDispute);
  console.log('\nNotes:');
  for (const n of [...r.notes, ...NOTES]) console.log(`- ${n}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t = performance.now();
  printOnchain(await onchainRows());
  console.log(`\n(measured in ${((performance.now() - t) / 1000).toFixed(1)} s)`);
}
