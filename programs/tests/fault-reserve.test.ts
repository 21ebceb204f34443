// Attacks on the sequencer's liability for its batches, stopped by each batch's fault reserve (one fault slash moved in at commit) and the short-escrow top-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair } from '@solana/web3.js';
import { World, PARAMS, attempt, claimOne, commitTree, holds, type TxResult } from './lib/game.ts';
import { mlpModel, run } from './lib/model.ts';
import * as P from './lib/protocol.ts';
import { DATA_ANSWER_SLOTS, minUnbondingSlots } from '../../settlement/instructions.ts';

const SOL = 1_000_000_000n;
const S = PARAMS.minExecutorBond;

async function setup() {
  const world = new World();
  await world.init();
  await world.registerModel(mlpModel());
  const honest = await world.operator(10n * SOL);
  return { world, honest };
}

const eventOf = <T>(r: TxResult, name: string): T => {
  const ev = r.events.find((e) => e.name === name);
  assert.ok(ev, `${name} emitted`);
  return ev.data as T;
};

test("fault reserve: commit_batch moves one fault slash from the sequencer's wallet into the batch, and close_batch returns it with the rent", async () => {
  const { world, honest } = await setup();
  const seq = world.sequencer.publicKey;
  // Bonded first, so the commit's transaction carries no bond top-up.
  world.must(await attempt(world.client.bond(world.sequencer, S)), 'bond');
  const wallet = world.balance(seq);
  const { b, res } = await commitTree(world, 0, [[honest, 1000n]], 1000n);
  world.must(res, 'commit_batch');
  assert.equal(eventOf<{ faultReserve: bigint }>(res, 'BatchCommitted').faultReserve, S);
  assert.equal((await world.client.fetchBatch(0))?.faultReserve, S);
  const rent = world.balance(b.address) - S - 1000n;
  assert.equal(
    world.balance(seq),
    wallet - rent - S - 1000n - 5000n,
    'rent, reserve and escrow from the wallet',
  );
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(honest, 0), 'finalize_batch');
  world.must(await claimOne(world, honest, b, 0), 'claim_fees');
  world.warp(PARAMS.challengeWindow);
  const before = world.balance(seq);
  world.must(await attempt(world.client.closeBatch(honest, 0)), 'close_batch');
  assert.equal(world.balance(seq) - before, rent + S, 'the reserve comes back with the rent');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('short escrow, one bond for many batches: a sequencer bonded one fault slash commits three batches escrowing nothing for an honest executor’s 2 SOL fees; every proof slashes one whole fault slash from its own batch’s reserve, the bond (one slash, kept for later faults) tops nothing up, and the executor, as prover, ends up by more than its fees', async () => {
  const { world, honest } = await setup();
  const seq = world.sequencer.publicKey;
  const FEE = 2n * SOL;
  const seqBefore = holds(world, seq);
  const batches = [];
  for (let i = 0; i < 3; i++) {
    const { b, res } = await commitTree(world, i, [[honest, FEE]], 0n);
    world.must(res, `commit_batch ${i}`);
    batches.push(b);
  }
  assert.equal((await world.operatorOf(seq)).bonded, S, 'the sequencer bonded exactly one fault slash');
  const before = holds(world, honest.publicKey);
  const feesBefore = world.sender.feesBurned;
  const slashes: bigint[] = [];
  const topUps: bigint[] = [];
  for (const b of batches) {
    const r = world.must(await world.proveShortEscrow(honest, b, 0), `prove_short_escrow ${b.index}`);
    topUps.push(eventOf<{ toppedUp: bigint }>(r, 'EscrowShortProven').toppedUp);
    slashes.push(eventOf<{ amount: bigint }>(r, 'Slashed').amount);
  }
  world.warp(PARAMS.challengeWindow);
  for (const [i, b] of batches.entries()) {
    world.must(await world.finalize(honest, b.index), `finalize_batch ${b.index}`);
    const r = await claimOne(world, honest, b, 0);
    assert.equal(r.ok, topUps[i] === FEE, `batch ${i} pays exactly when it was topped up`);
  }
  world.warp(PARAMS.challengeWindow);
  for (const b of batches) world.must(await attempt(world.client.closeBatch(honest, b.index)), 'close_batch');
  const fees = world.sender.feesBurned - feesBefore;
  const executorNet = holds(world, honest.publicKey) - before + fees;
  const seqNet = holds(world, seq) - seqBefore;
  console.log(
    `slashes ${slashes.join(', ')}; top-ups ${topUps.join(', ')}; honest executor owed ${3n * FEE}, net ${executorNet}; sequencer net ${seqNet}`,
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  // Each batch's own reserve backs its fault: the bond (one slash) no longer has to cover three.
  assert.deepEqual(slashes, [S, S, S], 'each fault slashes one whole fault slash');
  // The bond is one fault slash, which a top-up never takes (bond escape): nothing to top up from.
  assert.deepEqual(topUps, [0n, 0n, 0n]);
  assert.ok(executorNet >= 3n * FEE, 'the honest executor ends up by more than its fees (fees and bounties)');
  assert.ok(-seqNet > 3n * FEE, 'shorting cost the sequencer more than the fees it withheld');
});

test('short escrow, fees past the bounty: a sequencer bonded 15 SOL commits eight honest 1 SOL jobs escrowing nothing; its sybil proves the fault first to take the bounty back, yet the bond tops up all eight fees, and the sequencer loses more than it withheld', async () => {
  const { world, honest } = await setup();
  const seq = world.sequencer.publicKey;
  world.must(await attempt(world.client.bond(world.sequencer, 15n * SOL)), 'sequencer bond');
  const sybil = world.fund(SOL);
  const FEE = SOL;
  const N = 8;
  const side = () => holds(world, seq) + world.balance(sybil.publicKey);
  const seqBefore = side();
  const before = holds(world, honest.publicKey);
  const feesBefore = world.sender.feesBurned;
  const { b, res } = await commitTree(
    world,
    0,
    Array.from({ length: N }, () => [honest, FEE] as [Keypair, bigint]),
    0n,
  );
  world.must(res, 'commit_batch');
  const r = world.must(await world.proveShortEscrow(sybil, b, 0), 'prove_short_escrow by the sybil');
  assert.equal(eventOf<{ toppedUp: bigint }>(r, 'EscrowShortProven').toppedUp, BigInt(N) * FEE);
  const again = await world.proveShortEscrow(honest, b, 1);
  assert.notEqual(again.ok, true, 'proven once per batch');
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(honest, 0), 'finalize_batch');
  for (let j = 0; j < N; j++) world.must(await claimOne(world, honest, b, j), `claim_fees ${j}`);
  world.warp(PARAMS.challengeWindow);
  world.must(await attempt(world.client.closeBatch(honest, 0)), 'close_batch');
  // Transaction fees: the commit and the sybil's proof on the sequencer's side, the rest the honest executor's.
  const fees = world.sender.feesBurned - feesBefore - 10_000n;
  const executorNet = holds(world, honest.publicKey) - before + fees;
  const seqNet = side() - seqBefore + 10_000n;
  console.log(
    `withheld ${BigInt(N) * FEE}; honest executor net ${executorNet}; sequencer with its sybil net ${seqNet}`,
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(executorNet, BigInt(N) * FEE, 'the honest executor is paid every fee');
  assert.ok(
    -seqNet > BigInt(N) * FEE,
    'shorting the escrow costs the sequencer more than the fees it withheld',
  );
});

test("short escrow past the bond (bounded): a shortfall larger than the sequencer's bond tops nothing up, and the batch's reserve still pays one whole fault slash", async () => {
  const { world, honest } = await setup();
  const FEE = 20n * SOL;
  const { b, res } = await commitTree(world, 0, [[honest, FEE]], 0n);
  world.must(res, 'commit_batch');
  const r = world.must(await world.proveShortEscrow(honest, b, 0), 'prove_short_escrow');
  assert.equal(eventOf<{ toppedUp: bigint }>(r, 'EscrowShortProven').toppedUp, 0n, 'no partial top-up');
  assert.equal(eventOf<{ amount: bigint }>(r, 'Slashed').amount, S, 'one whole fault slash');
  assert.equal((await world.client.fetchBatch(0))?.faultReserve, 0n, 'taken from the reserve');
  assert.equal((await world.operatorOf(world.sequencer.publicKey)).bonded, S, 'the bond untouched');
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(honest, 0), 'finalize_batch');
  assert.notEqual((await claimOne(world, honest, b, 0)).ok, true, 'still short: no claim pays');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test("lock escape: with the CLI's default window and clock, the sequencer's sybil disputes the sequencer's own honest record in the commit's slot, locking its whole bond as executor stake; a record fault proven in the window still slashes one whole fault slash, from the batch's reserve", async () => {
  const world = new World();
  const window = 150n;
  const clock = 150n;
  await world.init({
    challengeWindow: window,
    clockSlots: clock,
    unbondingSlots: minUnbondingSlots(window, clock),
  });
  const m = mlpModel();
  await world.registerModel(m);
  const sybil = await world.operator(5n * SOL);
  const seqKey = world.sequencer;
  const trace = world.trace(run(m));
  const ghost = Keypair.generate();
  const { b, res } = await commitTree(
    world,
    0,
    [
      [seqKey, 1000n, world.outputDigest(trace)],
      [ghost, 1000n],
    ],
    2000n,
  );
  world.must(res, 'commit_batch');
  const { res: opened } = await world.openDispute(sybil, b, 0);
  world.must(opened, "open_dispute on the sequencer's own record");
  const op = await world.operatorOf(seqKey.publicKey);
  assert.equal(
    op.locked - op.challengerLocked,
    op.bonded,
    "the sequencer's whole bond is locked as executor stake",
  );
  const prover = world.fund(SOL);
  const r = world.must(await world.proveFault(prover, b, 1, 'unbondedExecutor'), 'prove_record_fault');
  assert.equal(eventOf<{ amount: bigint }>(r, 'Slashed').amount, S, 'one whole fault slash');
  assert.equal(
    eventOf<{ bounty: bigint }>(r, 'RecordFaultProven').bounty,
    S / 2n,
    'the bounty reaches the prover',
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('bond exhausted: a sequencer bonded one fault slash withholds two jobs of a batch; the first timeout is paid from the batch’s reserve and the second from the bond, so both requesters get the bounty', async () => {
  const { world, honest } = await setup();
  const b = await world.commitBatch(0, honest, P.sha(Buffer.from('honest output')));
  const first = world.fund(5n * SOL);
  const second = world.fund(5n * SOL);
  const before = [world.balance(first.publicKey), world.balance(second.publicKey)];
  world.must(await attempt(world.client.requestData(first, b.index, 0)), 'request_data job 0');
  world.must(await attempt(world.client.requestData(second, b.index, 2)), 'request_data job 2');
  world.warp(BigInt(Math.max(Number(PARAMS.clockSlots), DATA_ANSWER_SLOTS)));
  const slashes: bigint[] = [];
  for (const [who, j] of [
    [first, 0],
    [second, 2],
  ] as const) {
    const r = world.must(
      await attempt(world.client.claimDataTimeout(who, b.index, j)),
      `claim_data_timeout ${j}`,
    );
    slashes.push(eventOf<{ amount: bigint }>(r, 'Slashed').amount);
  }
  const nets = [world.balance(first.publicKey) - before[0], world.balance(second.publicKey) - before[1]];
  console.log(
    `slashes ${slashes.join(', ')}; requesters net ${nets.join(', ')} (before close_job's rent refund)`,
  );
  assert.deepEqual(slashes, [S, S], 'each timeout slashes one whole fault slash');
  assert.equal(
    (await world.operatorOf(world.sequencer.publicKey)).bonded,
    0n,
    'the second came from the bond',
  );
  for (const n of nets) assert.ok(n > 0n, `each requester gains (${n})`);
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test("reserve escape: the sequencer's sybil record carries an inflated fee of one fault slash and the sybil proves the short escrow; the batch's reserve goes to the slash (prover and vault), never into the escrow the sybil claims, and the sequencer's side ends down", async () => {
  const { world, honest } = await setup();
  const seq = world.sequencer.publicKey;
  const sybil = await world.operator(SOL);
  // Bonded two fault slashes: a top-up leaves one bonded.
  world.must(await attempt(world.client.bond(world.sequencer, 2n * S)), 'sequencer bond');
  const side = () => holds(world, seq) + holds(world, sybil.publicKey);
  const before = side();
  const { b, res } = await commitTree(
    world,
    0,
    [
      [sybil, S],
      [honest, 1000n],
    ],
    1000n,
  );
  world.must(res, 'commit_batch');
  const vault = world.balance(world.client.pdas.vault());
  const r = world.must(await world.proveShortEscrow(sybil, b, 0), 'prove_short_escrow by the sybil');
  assert.equal(eventOf<{ amount: bigint }>(r, 'Slashed').amount, S, 'one whole fault slash');
  assert.equal(world.balance(world.client.pdas.vault()) - vault, S / 2n, "the vault's half of the reserve");
  assert.equal((await world.client.fetchBatch(0))?.faultReserve, 0n, 'the reserve went to the slash');
  assert.equal(
    eventOf<{ toppedUp: bigint }>(r, 'EscrowShortProven').toppedUp,
    S,
    'the top-up came from the bond',
  );
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(honest, 0), 'finalize_batch');
  world.must(await claimOne(world, sybil, b, 0), "the sybil's claim");
  world.must(await claimOne(world, honest, b, 1), "the honest executor's claim");
  world.warp(PARAMS.challengeWindow);
  world.must(await attempt(world.client.closeBatch(honest, 0)), 'close_batch');
  const net = side() - before;
  console.log(`reserve escape: the sequencer with its sybil net ${net}`);
  assert.ok(net <= -S / 2n, `the maneuver costs the sequencer's side at least half a slash (${net})`);
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test("bond escape: a sequencer with faulty records in one batch commits a second whose only record is its sybil's, with a fee of all its bond but one fault slash, escrowing nothing, and has the sybil prove the short escrow; the top-up leaves that slash bonded, so the first batch's second fault is still slashed in full", async () => {
  const { world } = await setup();
  const seq = world.sequencer.publicKey;
  world.must(await attempt(world.client.bond(world.sequencer, 10n * S)), 'sequencer bond');
  const ghosts = [Keypair.generate(), Keypair.generate()];
  const { b: b0, res: r0 } = await commitTree(
    world,
    0,
    ghosts.map((g) => [g, 1000n] as [Keypair, bigint]),
    2000n,
  );
  world.must(r0, 'commit_batch 0 (two records of keys that never bonded)');
  const sybil = await world.operator(SOL);
  const bond = (await world.operatorOf(seq)).bonded;
  const { b: b1, res: r1 } = await commitTree(world, 1, [[sybil, bond - S]], 0n);
  world.must(r1, 'commit_batch 1 (the sybil record claims the bond above one slash)');
  const r = world.must(await world.proveShortEscrow(sybil, b1, 0), 'prove_short_escrow by the sybil');
  assert.equal(eventOf<{ toppedUp: bigint }>(r, 'EscrowShortProven').toppedUp, bond - S);
  assert.equal((await world.operatorOf(seq)).bonded, S, 'one fault slash stays bonded');
  const prover = world.fund(SOL);
  const slashes: bigint[] = [];
  for (const j of [0, 1]) {
    const f = world.must(
      await world.proveFault(prover, b0, j, 'unbondedExecutor'),
      `prove_record_fault ${j}`,
    );
    slashes.push(eventOf<{ amount: bigint }>(f, 'Slashed').amount);
  }
  assert.deepEqual(slashes, [S, S], "batch 0's reserve, then the bond");
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});
