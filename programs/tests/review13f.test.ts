// Review 13f attacks (sixth review): a vault-funded top-up of short stakes, laundered by a cheater's sybil or emptied by a sweep.
// Stopped by never drawing on the vault: a short stake's winner is topped up only from that stake's own vault share.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypair } from '@solana/web3.js';
import { World, PARAMS, SIDE, attempt, cheatLayers, loseChallengerGames } from './lib/game.ts';
import { mlpModel, run } from './lib/model.ts';
import * as P from './lib/protocol.ts';

/** A key's own lamports plus its Operator account's: everything it holds. */
const holding = (w: World, k: Keypair) =>
  w.balance(k.publicKey) + w.balance(w.client.pdas.operator(k.publicKey));

/**
 * A colluding trio: the sequencer S commits one batch of 1 + `extra` records signed by the cheater X,
 * whose bond is one stake. X's sybil C disputes every record; X never moves. The first game C wins takes
 * X's whole stake: C gets the bounty (bounty_bps) and the vault the rest. X is now at 0 bonded, so each
 * further game stakes 0 and is "short". Were short games topped up from the vault (a credit the loser's
 * earlier losses put there, as a candidate rule did), C would draw back the vault's share of X's slash,
 * ~6.5M lamports a record, until the slash was free: the "at least half its stake" bound of self-challenge
 * laundering (config.rs MAX_BOUNTY_BPS) would not hold.
 */
async function launder(over: Partial<typeof PARAMS>, extra: number) {
  const m = mlpModel();
  const world = new World();
  await world.init(over);
  await world.registerModel(m);
  const params = { ...PARAMS, ...over };
  const vault = world.client.pdas.vault();
  const x = await world.operator(params.minExecutorBond);
  const c = await world.operator(BigInt(2 + extra) * params.minChallengerBond);
  const coalition = () => holding(world, world.sequencer) + holding(world, x) + holding(world, c);
  const before = coalition();
  const vaultBefore = world.balance(vault);
  const jobs = 1 + extra;
  const b = await world.commitBatch(0, x, P.sha(Buffer.from('a lie')), jobs, 0);
  const games = [];
  for (let j = 0; j < jobs; j++) {
    const g = await world.openDispute(c, b, j);
    world.must(g.res, `sybil open_dispute ${j}`);
    games.push(g.dispute);
  }
  world.warp(params.clockSlots + 1n);
  for (const d of games) world.must(await world.claimTimeout(c, d), 'sybil claim_timeout');
  for (const d of games) assert.equal((await world.dispute(d)).winner, SIDE.CHALLENGER);
  world.warp(params.challengeWindow);
  world.must(await world.finalize(c, 0), 'finalize_batch');
  for (const d of games) world.must(await attempt(world.client.closeDispute(c, d)), 'close_dispute');
  world.warp(params.challengeWindow * 3n);
  world.must(await attempt(world.client.closeBatch(world.sequencer, 0)), 'close_batch');

  const stake = params.minExecutorBond;
  const bounty = (stake * BigInt(params.bountyBps)) / 10_000n;
  const lost = before - coalition();
  const vaultGain = world.balance(vault) - vaultBefore;
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  return { lost, vaultGain, floor: stake - bounty, stake, jobs };
}

test('credit laundering: a cheater whose sybil wins its games cannot draw its own slash back out of the vault through the short-stake top-up (shipped parameters)', async () => {
  const r = await launder({}, 12);
  assert.ok(
    r.lost >= r.floor && r.vaultGain >= r.floor,
    `X lost a ${r.stake} stake; the coalition lost only ${r.lost} (the bound is ${r.floor}) and the vault kept ${r.vaultGain}: ` +
      `${r.jobs - 1} extra records drew ${r.floor - r.vaultGain} back, ${(r.floor - r.vaultGain) / BigInt(r.jobs - 1)} each`,
  );
});

test('credit laundering: at the least stake the bounds accept, three extra records make the slash free', async () => {
  // bps_of(min_executor_bond, 5000) >= Dispute rent + Job rent + 5,000,000 (config.rs check): 30,000,000 passes (costs 14,166,320).
  const r = await launder({ minExecutorBond: 30_000_000n, minChallengerBond: 15_000_000n }, 3);
  assert.ok(
    r.lost >= r.floor && r.vaultGain >= r.floor,
    `X lost a ${r.stake} stake; the coalition lost only ${r.lost} lamports (fees and rent; the bound is ${r.floor}), the vault kept ${r.vaultGain}`,
  );
});

// The dust drain of review13d (the cheater E loses its bond as challenger to X before its lie is batched,
// keeping 1 lamport), under the honest sequencer, with one routine authority action in between: the
// authority sweeps the vault to the treasury. Nothing the honest challenger H is owed sits in the vault, so
// the sweep changes nothing for it: H is out at most the Job rent it paid (kept as the verdict record) and
// its fees, the bounded cost of a drain that burned half of E's bond (PROTOCOL.md, the dust-drain row).
test('treasury sweep: a sweep of the vault does not change what the honest challenger of a dust-drained cheater is out (at most the Job rent and its fees)', async () => {
  const SOL = 1_000_000_000n;
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  const cStake = PARAMS.minChallengerBond;
  const e = await world.operator(3n * cStake + 1n);
  const x = await world.operator(3n * PARAMS.minExecutorBond);
  const honestTrace = world.trace(run(m));
  const xb = [];
  for (const i of [0, 1, 2]) xb.push(await world.commitBatch(i, x, world.outputDigest(honestTrace), 1, 0));
  await loseChallengerGames(world, e, x, xb, honestTrace);
  const lie = await world.commitBatch(3, e, world.outputDigest(world.trace(cheatLayers(m, 3, 1))), 3, 1);
  const h = await world.operator(5n * SOL);
  const hBefore = holding(world, h);
  const feesBefore = world.sender.feesBurned;
  const g = await world.openDispute(h, lie, 1);
  world.must(g.res, 'honest open_dispute');
  // The authority's routine sweep of the treasury's share.
  const vault = world.client.pdas.vault();
  const vaultData = await world.sender.getAccountData(vault);
  const spare =
    world.balance(vault) - BigInt(world.sender.svm.minimumBalanceForRentExemption(BigInt(vaultData!.length)));
  world.must(await attempt(world.client.withdrawTreasury(world.authority, spare)), 'withdraw_treasury');
  world.warp(PARAMS.clockSlots + 1n);
  world.must(await world.claimTimeout(h, g.dispute), 'honest claim_timeout');
  assert.equal((await world.dispute(g.dispute)).winner, SIDE.CHALLENGER, 'the lie is invalidated');
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(h, 3), 'finalize_batch 3');
  world.must(await attempt(world.client.closeDispute(h, g.dispute)), 'close_dispute');
  const hLoss = hBefore - holding(world, h);
  const jobRent = world.balance(world.client.pdas.job(lie.address, 1));
  const fees = world.sender.feesBurned - feesBefore; // every fee since H opened (H's and the authority's sweep)
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.ok(
    hLoss > 0n && hLoss <= jobRent + fees,
    `the honest challenger is out ${hLoss} lamports: at most the Job rent ${jobRent} and fees ${fees} (the sweep took ${spare})`,
  );
});
