// Prints real compute units and transaction counts of the SBF program in LiteSVM (npm run program:cu).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  World,
  Player,
  Trace,
  cheatLayers,
  outputDigest,
  playToOneStep,
  PHASE,
  type Game,
} from './lib/game.ts';
import { bigMatmulModel, chainModel, mlpModel, run, wideModel, type ModelDef } from './lib/model.ts';
import { Harness, PROGRAMS, type TxResult } from './lib/svm.ts';
import { headerBytes, u32 } from './lib/protocol.ts';
import type { OpCase } from './lib/op-cases.ts';

const MAX_TX = 1232;
const MAX_CU = 1_400_000;
let violations = 0;

function summarize(txs: TxResult[]) {
  const cu = txs.map((t) => t.cu),
    size = txs.map((t) => t.size);
  for (const t of txs) if (t.size > MAX_TX || t.cu > MAX_CU || !t.ok) violations++;
  return {
    txs: txs.length,
    totalCu: cu.reduce((a, b) => a + b, 0),
    maxCu: Math.max(...cu),
    maxBytes: Math.max(...size),
  };
}

function game(m: ModelDef, at: number, chunk: number, sparse = false) {
  const world = new World();
  world.init();
  const reg = world.registerModel(m);
  const e = world.operator(10_000_000_000n);
  const c = world.operator(5_000_000_000n);
  const seed = world.seed(world.inputDigest());
  const exec = new Player(world, e, new Trace(cheatLayers(m, at, chunk), seed));
  const chal = new Player(world, c, new Trace(run(m), seed));
  const b = world.commitBatch(0, e.publicKey, outputDigest(m, exec.trace));
  const start = world.h.txs.length;
  const { dispute, res } = world.openDispute(c, e.publicKey, b, 1);
  world.must(res, 'open');
  const g: Game = { world, exec, chal, dispute, batch: b.batch, total0: 0n };
  playToOneStep(g);
  const bufTxs = chal.fillBuffer(
    dispute,
    chal.stepData(dispute, (_pos, t) => (sparse && t.bytes.length > 256 ? [chunk] : undefined)),
  );
  const step = world.must(chal.oneStep(dispute), 'one_step');
  world.must(chal.closeBuffer(dispute), 'close');
  if (world.dispute(dispute).phase !== PHASE.RESOLVED) throw new Error('not resolved');
  return {
    reg: summarize(reg),
    commit: b.res,
    dispute: summarize(world.h.txs.slice(start)),
    buffer: bufTxs.length,
    step,
  };
}

const rows: Record<string, unknown>[] = [];
console.log('optinfer program: compute units and transaction counts (LiteSVM, real SBF bytecode)\n');
const so = path.join(PROGRAMS, 'target/deploy/optinfer.so');
console.log(`program: ${so} (${readFileSync(so).length} bytes)\n`);

for (const n of [8, 64, 512]) {
  const m = chainModel(n);
  const r = game(m, Math.floor(n / 2) + 1, 0);
  rows.push({
    model: `chain ${n} layers`,
    'register txs': r.reg.txs,
    'commit_batch CU': r.commit.cu,
    'dispute txs': r.dispute.txs,
    'dispute CU total': r.dispute.totalCu,
    'max CU/tx': r.dispute.maxCu,
    'max bytes/tx': r.dispute.maxBytes,
    'one_step CU': r.step.cu,
  });
}
const mlp = game(mlpModel(), 0, 3);
rows.push({
  model: 'mlp 8 layers (matmul 8x32x32)',
  'register txs': mlp.reg.txs,
  'commit_batch CU': mlp.commit.cu,
  'dispute txs': mlp.dispute.txs,
  'dispute CU total': mlp.dispute.totalCu,
  'max CU/tx': mlp.dispute.maxCu,
  'max bytes/tx': mlp.dispute.maxBytes,
  'one_step CU': mlp.step.cu,
});
const wide = game(wideModel(), 2, 37, true);
rows.push({
  model: 'wide 4 layers, 16 KiB tensors (sparse opening)',
  'register txs': wide.reg.txs,
  'commit_batch CU': wide.commit.cu,
  'dispute txs': wide.dispute.txs,
  'dispute CU total': wide.dispute.totalCu,
  'max CU/tx': wide.dispute.maxCu,
  'max bytes/tx': wide.dispute.maxBytes,
  'one_step CU': wide.step.cu,
});
console.log('Whole disputes (open .. one-step .. close buffer), cheat in the middle layer:');
console.table(rows);

// A one-step too heavy for one transaction: MatMulInteger x[1,2048] x W[2048,64], sliced.
{
  const m = bigMatmulModel(2048);
  const world = new World();
  world.init();
  world.registerModel(m);
  const e = world.operator(10_000_000_000n);
  const c = world.operator(5_000_000_000n);
  const seed = world.seed(world.inputDigest());
  const exec = new Player(world, e, new Trace(cheatLayers(m, 0, 0), seed));
  const chal = new Player(world, c, new Trace(run(m), seed));
  const b = world.commitBatch(0, e.publicKey, outputDigest(m, exec.trace));
  const { dispute } = world.openDispute(c, e.publicKey, b, 1);
  playToOneStep({ world, exec, chal, dispute, batch: b.batch, total0: 0n });
  const writes = chal.fillBuffer(dispute);
  const slices: TxResult[] = [];
  while (world.dispute(dispute).phase !== PHASE.RESOLVED && slices.length < 64) {
    slices.push(world.must(chal.oneStep(dispute, 4), 'slice'));
  }
  const s = summarize([...writes, ...slices]);
  console.log(
    `\nResumable one-step, MatMulInteger K = 2048 (128 KiB weights opened whole): ${writes.length} buffer ` +
      `transactions, ${slices.length} one-step slices of 4 outputs, max ${Math.max(...slices.map((t) => t.cu))} CU per slice, ` +
      `max ${s.maxBytes} bytes per transaction`,
  );
}

// One-step per layer of the mlp model: the real one_step transaction (opening + recompute).
const stepRows: Record<string, unknown>[] = [];
const names = [
  'MatMulInteger int8 zp',
  'Add int32',
  'Relu int32',
  'Reshape',
  'Cast int32->f32',
  'Mul f32',
  'QuantizeLinear',
  'DequantizeLinear',
];
for (let at = 0; at < 8; at++) {
  const r = game(mlpModel(), at, 0);
  stepRows.push({
    layer: at,
    op: names[at],
    'one_step CU': r.step.cu,
    'one_step bytes': r.step.size,
    'buffer write txs': r.buffer,
  });
}
console.log(
  '\nOne-step transaction per layer of the mlp model (inputs opened from the proof buffer, chunk 0):',
);
console.table(stepRows);

// Recompute-only cost of each op for one 256-byte chunk (check instruction of the test build, same code path).
const h = new Harness('test');
const payer = h.fund();
const cases = JSON.parse(
  readFileSync(path.join(PROGRAMS, 'tests/fixtures/op-cases.json'), 'utf8'),
) as OpCase[];
const opRows: Record<string, unknown>[] = [];
for (const c of cases.filter((x) => x.name.endsWith('chunk 0'))) {
  const data = Buffer.concat([
    Buffer.from(c.entry, 'hex'),
    u32(c.chunk),
    Buffer.from([c.inputs.length]),
    ...c.inputs.map((t) => {
      const b = Buffer.from(t.bytes, 'hex');
      return Buffer.concat([headerBytes(t), u32(b.length), b]);
    }),
  ]);
  const r = h.send([h.ix('check', { kind: 4, data }, [])], [payer]);
  summarize([r]);
  opRows.push({
    case: c.name.replace(/ chunk 0$/, ''),
    'out bytes': c.out.length / 2,
    CU: r.cu,
    'tx bytes': r.size,
  });
}
console.log('\nRecompute of one output chunk per op (check instruction, includes instruction decoding):');
console.table(opRows);

console.log(
  `\nlimits: every transaction <= ${MAX_TX} bytes and <= ${MAX_CU} CU: ${violations === 0 ? 'yes' : `NO (${violations} violations)`}`,
);
if (violations) process.exit(1);
