// Prints real compute units and transaction counts of the SBF program in LiteSVM (npm run program:cu).
import { readFileSync } from 'node:fs';
import type { PublicKey } from '@solana/web3.js';
import path from 'node:path';
import { World, Player, attempt, cheatLayers, playToOneStep, PARAMS, PHASE } from './lib/game.ts';
import { bigMatmulModel, chainModel, mlpModel, run, wideModel, type ModelDef } from './lib/model.ts';
import { Harness, PROGRAMS } from './lib/svm.ts';
import { headerBytes, u32 } from './lib/protocol.ts';
import type { OpCase } from './lib/op-cases.ts';

const MAX_TX = 1232;
const MAX_CU = 1_400_000;
let violations = 0;

function summarize(txs: readonly { ok: boolean; cu: number; size: number }[]) {
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

/** A world with `m` registered, a batch whose job 1 cheats at layer `at` chunk `chunk`, and the dispute on it opened. */
async function opened(m: ModelDef, at: number, chunk: number) {
  const world = new World();
  await world.init();
  const reg = await world.registerModel(m);
  const e = await world.operator(10_000_000_000n);
  const c = await world.operator(5_000_000_000n);
  const exec = new Player(world, e, world.trace(cheatLayers(m, at, chunk)));
  const chal = new Player(world, c, world.trace(run(m)));
  const b = await world.commitBatch(0, e, world.outputDigest(exec.trace));
  const start = world.txs.length;
  const { dispute, res } = await world.openDispute(c, b, 1);
  world.must(res, 'open');
  return { world, exec, chal, dispute, reg, commit: b.res, start };
}

async function game(m: ModelDef, at: number, chunk: number, sparse = false) {
  const g = await opened(m, at, chunk);
  await playToOneStep(g);
  const { writes, steps } = await g.chal.submitOneStep(g.dispute, {
    openings: (_pos, t) => (sparse && t.bytes.length > 256 ? [chunk] : undefined),
  });
  g.world.must(await g.chal.closeBuffer(g.dispute), 'close');
  if ((await g.world.dispute(g.dispute)).phase !== PHASE.RESOLVED) throw new Error('not resolved');
  return {
    reg: summarize(g.reg.map((r) => ({ ok: true, cu: r.computeUnits, size: r.size }))),
    commit: g.commit,
    dispute: summarize(g.world.txs.slice(g.start)),
    buffer: writes.length,
    step: steps[0],
  };
}

const rows: Record<string, unknown>[] = [];
console.log('optinfer program: compute units and transaction counts (LiteSVM, real SBF bytecode)\n');
const so = path.join(PROGRAMS, 'target/deploy/optinfer.so');
console.log(`program: ${so} (${readFileSync(so).length} bytes)\n`);

for (const n of [8, 64, 512]) {
  const m = chainModel(n);
  const r = await game(m, Math.floor(n / 2) + 1, 0);
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
const mlp = await game(mlpModel(), 0, 3);
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
const wide = await game(wideModel(), 2, 37, true);
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

// Games per job: several challengers each open their own game on one job (a 1024-job batch, so
// open_dispute carries 10 Merkle siblings); the first to win invalidates the job, the others end as moot.
{
  const m = chainModel(8);
  const world = new World();
  await world.init();
  await world.registerModel(m);
  const e = await world.operator(10_000_000_000n);
  const exec = new Player(world, e, world.trace(cheatLayers(m, 4, 0)));
  const b = await world.commitBatch(0, e, world.outputDigest(exec.trace), 1024, 1);
  const gameRows: Record<string, unknown>[] = [];
  const row = (what: string, t: { ok: boolean; cu: number; size: number }) => {
    summarize([t]);
    gameRows.push({ instruction: what, CU: t.cu, 'tx bytes': t.size });
  };
  const games: { chal: Player; dispute: PublicKey }[] = [];
  for (let i = 0; i < 3; i++) {
    const chal = new Player(world, await world.operator(5_000_000_000n), world.trace(run(m)));
    const { dispute, res } = await world.openDispute(chal.key, b, 1);
    row(
      `open_dispute (game ${i + 1} on the job${i === 0 ? ', creates the Job account' : ''})`,
      world.must(res, 'open'),
    );
    games.push({ chal, dispute });
  }
  await playToOneStep({ world, exec, chal: games[0].chal, dispute: games[0].dispute });
  const { steps } = await games[0].chal.submitOneStep(games[0].dispute);
  row('one_step (winning game, takes the Job account)', steps[steps.length - 1]);
  for (const g of games.slice(1))
    row('end_moot_game', world.must(await world.endMootGame(e, g.dispute), 'moot'));
  console.log(
    '\nGames per job (1024-job batch): each challenger its own game, the first win ends the others:',
  );
  console.table(gameRows);

  // Rent recovery on the same world: the resolved game's Dispute once the batch is final, the batch after its grace.
  const rentRows: Record<string, unknown>[] = [];
  const closeRow = (what: string, t: { ok: boolean; cu: number; size: number }, lamports: bigint) => {
    summarize([t]);
    rentRows.push({ instruction: what, CU: t.cu, 'tx bytes': t.size, 'rent returned': lamports });
  };
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(e, 0), 'finalize');
  const won = games[0].dispute;
  let rent = world.balance(won);
  closeRow(
    'close_dispute',
    world.must(await attempt(world.client.closeDispute(e, won)), 'close_dispute'),
    rent,
  );
  world.warp(PARAMS.challengeWindow);
  rent = world.balance(b.address);
  closeRow(
    'close_batch (1024 jobs)',
    world.must(await attempt(world.client.closeBatch(e, 0)), 'close_batch'),
    rent,
  );
  const o = await world.operator(1_000_000_000n);
  world.must(await attempt(world.client.requestUnbond(o, 1_000_000_000n)), 'request_unbond');
  world.warp(PARAMS.unbondingSlots);
  rent = world.balance(world.client.pdas.operator(o.publicKey)) - 1_000_000_000n;
  closeRow(
    'withdraw + close_operator (one tx)',
    world.must(await attempt(world.client.withdraw(o, { close: true })), 'withdraw'),
    rent,
  );
  console.log('\nRent recovery (anyone may send the first two; the rent goes to whoever paid it):');
  console.table(rentRows);
}

// Lamports per job with the batch's rent recovered: commit, finalize and close, all paid by the sequencer.
{
  const perJob: Record<string, unknown>[] = [];
  for (const jobs of [1, 64, 1024]) {
    const world = new World();
    await world.init();
    await world.registerModel(chainModel(8));
    const e = await world.operator(10_000_000_000n);
    const seq = world.sequencer.publicKey;
    const start = world.balance(seq);
    const b = await world.commitBatch(0, e, Buffer.alloc(32, 1), jobs, 0);
    const rent = world.balance(b.address);
    world.warp(PARAMS.challengeWindow);
    world.must(await world.finalize(world.sequencer, 0), 'finalize');
    const open = start - world.balance(seq);
    world.warp(PARAMS.challengeWindow);
    world.must(await attempt(world.client.closeBatch(world.sequencer, 0)), 'close_batch');
    const closed = start - world.balance(seq);
    perJob.push({
      'jobs per batch': jobs,
      'batch rent': rent,
      'lamports per job, kept open': (Number(open) / jobs).toFixed(1),
      'lamports per job, closed': (Number(closed) / jobs).toFixed(1),
    });
  }
  console.log('\nSequencer cost per job (commit + finalize, then + close_batch after the grace):');
  console.table(perJob);
}

// A one-step too heavy for one transaction: MatMulInteger x[1,2048] x W[2048,64], sliced.
{
  const g = await opened(bigMatmulModel(2048), 0, 0);
  await playToOneStep(g);
  const { writes, steps: slices } = await g.chal.submitOneStep(g.dispute, { maxElements: 4 });
  if ((await g.world.dispute(g.dispute)).phase !== PHASE.RESOLVED) throw new Error('not resolved');
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
  const r = await game(mlpModel(), at, 0);
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
