// Review 13e attacks (fifth review): a short-stake top-up that drains the vault, a slash timed into the commit slot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypair } from '@solana/web3.js';
import { World, Player, PARAMS, SIDE, attempt, cheatLayers } from './lib/game.ts';
import { mlpModel, run } from './lib/model.ts';
import * as P from './lib/protocol.ts';

const SOL = 1_000_000_000n;

/** A key's own lamports plus its Operator account's: everything it holds. */
const holding = (w: World, k: Keypair) =>
  w.balance(k.publicKey) + w.balance(w.client.pdas.operator(k.publicKey));

// A colluding trio: the sequencer S commits records its accomplice X signed (X keeps 1 lamport bonded, so
// no record is a kind-0 fault and S is never slashed), and X's sybil C disputes each. X never moves; C wins
// every game on time. X's stake is 1 lamport, so each win is "short" and resolve tops C up to the Job rent
// it paid plus the 5,000,000 fee margin from the vault's spare lamports. C's real costs are 3 signatures
// per game (open, claim_timeout, close_dispute) and the Dispute rent, which comes back. Each record nets
// the trio ~5,000,000 lamports of the treasury; a 8192-job batch takes ~41 SOL. Once drained, an honest
// challenger that later wins a short stake is no longer repaid. The vault should never pay a coalition
// more than the coalition's own slashes put in.
test('vault drain: a colluding sequencer, executor and sybil challenger cannot take the treasury through the short-stake top-up', async () => {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  const vault = world.client.pdas.vault();
  // The treasury holds the share of an earlier honest slash: a cheater lost 5 SOL, half went to the vault.
  const cheater = await world.operator(PARAMS.minExecutorBond);
  const honestChal = await world.operator(5n * SOL);
  const lie = await world.commitBatch(
    0,
    cheater,
    world.outputDigest(world.trace(cheatLayers(m, 3, 1))),
    3,
    1,
  );
  const g0 = await world.openDispute(honestChal, lie, 1);
  world.must(g0.res, 'honest open_dispute');
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(honestChal, g0.dispute), 'honest claim_timeout');
  const vaultBefore = world.balance(vault);
  assert.ok(vaultBefore > 2n * SOL, `the vault holds the treasury's share (${vaultBefore})`);

  // The trio. S is the configured sequencer (world.sequencer); X bonds 1 lamport; C a challenger bond.
  const x = await world.operator(1n);
  const c = await world.operator(10n * PARAMS.minChallengerBond);
  const jobs = 8;
  const coalition = () => holding(world, world.sequencer) + holding(world, x) + holding(world, c);
  const before = coalition();
  const b = await world.commitBatch(1, x, P.sha(Buffer.from('anything')), jobs, 0);
  const games = [];
  for (let j = 0; j < jobs; j++) {
    const g = await world.openDispute(c, b, j);
    world.must(g.res, `sybil open_dispute ${j}`);
    games.push(g.dispute);
  }
  world.warp(PARAMS.clockSlots + 1n);
  for (const d of games) world.must(await world.claimTimeout(c, d), 'sybil claim_timeout');
  for (const d of games) assert.equal((await world.dispute(d)).winner, SIDE.CHALLENGER);
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(c, 1), 'finalize_batch 1');
  for (const d of games) world.must(await attempt(world.client.closeDispute(c, d)), 'close_dispute');
  world.warp(PARAMS.challengeWindow);
  world.must(await attempt(world.client.closeBatch(world.sequencer, 1)), 'close_batch');

  const gained = coalition() - before;
  const vaultLoss = vaultBefore - world.balance(vault);
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.ok(
    vaultLoss <= 0n && gained <= 0n,
    `the vault lost ${vaultLoss} lamports over ${jobs} records (${vaultLoss / BigInt(jobs)} each); the colluding trio gained ${gained}`,
  );
});

// The cheating executor E signs a result (assigned under the honest sequencer's cap: bond 6 SOL, one 5 SOL
// stake) and, before the result is batched, spends its bond as a challenger on three games against its
// accomplice Y's honest jobs, which Y plays. Y claims two timeouts at once and holds the third. The honest
// sequencer commits E's record while E still has 2 SOL bonded; in the same slot Y claims the third timeout,
// taking E's bond to 0. resolve marks emptied_slot = now = the batch's commit_slot, and prove_record_fault's
// kind 0 accepts emptied_slot <= commit_slot: E's sybil Z proves a "record fault" and the honest sequencer,
// whose commit saw a bonded executor, loses a 5 SOL fault slash, half of it to Z. PROTOCOL.md: "A bond that
// empties after the commit, by slashes the executor courted, is no fault of the sequencer's."
test('same-slot empty: a slash landing in the commit slot cannot turn an executor bonded at commit into a record fault against the honest sequencer', async () => {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  world.must(await world.bond(world.sequencer, 10n * SOL), 'sequencer bond');
  const cStake = PARAMS.minChallengerBond;
  const e = await world.operator(PARAMS.minExecutorBond + cStake / 2n); // 6 SOL: one job under the cap
  const y = await world.operator(3n * PARAMS.minExecutorBond);
  const z = world.fund();
  const honestTrace = world.trace(run(m));
  const yb = [];
  for (const i of [0, 1, 2]) yb.push(await world.commitBatch(i, y, world.outputDigest(honestTrace), 1, 0));
  const drain = [];
  for (const b of yb) {
    const g = await world.openDispute(e, b, 0);
    world.must(g.res, `E opens a game on Y's batch ${b.index}`);
    drain.push(g.dispute);
  }
  const yp = new Player(world, y, honestTrace);
  for (const d of drain) world.must(await yp.commitTrace(d), 'Y commit_trace');
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(y, drain[0]), 'Y claim_timeout 0');
  world.must(await world.claimTimeout(y, drain[1]), 'Y claim_timeout 1');
  const atCommit = await world.operatorOf(e.publicKey);
  assert.ok(atCommit.bonded > 0n, `E is bonded (${atCommit.bonded}) when the honest sequencer commits`);

  const seqBefore = (await world.operatorOf(world.sequencer.publicKey)).bonded;
  const lie = await world.commitBatch(3, e, world.outputDigest(world.trace(cheatLayers(m, 3, 1))), 3, 1);
  // Same slot, after the commit.
  world.must(await world.claimTimeout(y, drain[2]), 'Y claim_timeout 2, in the commit slot');
  const op = await world.operatorOf(e.publicKey);
  const b = await world.batch(3);
  assert.equal(op.bonded, 0n, 'E emptied');
  const fault = await world.proveFault(z, lie, 1);
  // Its bond, not the batch rent and commit fee it pays either way (close_batch returns the rent).
  const seqLoss = seqBefore - (await world.operatorOf(world.sequencer.publicKey)).bonded;
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.ok(
    !fault.ok && seqLoss <= 0n,
    `record fault ${fault.ok ? 'proven' : `refused (${fault.error})`}: emptied_slot ${op.emptiedSlot}, commit_slot ${b.commitSlot}; the honest sequencer lost ${seqLoss} lamports (Z got ${world.balance(z.publicKey) - 100_000_000_000n})`,
  );
});
