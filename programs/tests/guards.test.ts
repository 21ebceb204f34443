// Attacks on the rules around the game (treasury, pause, parameters, authority, unbonding): each fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PublicKey } from '@solana/web3.js';
import { World, Player, PARAMS, PHASE, SIDE, attempt, cheatLayers, playToOneStep } from './lib/game.ts';
import { mlpModel, run } from './lib/model.ts';

/** A world with the mlp model, a cheating executor and an honest challenger, and `job` 1 of batch 0 cheating. */
async function cheated(over: Partial<typeof PARAMS> = {}, execBond = 10_000_000_000n) {
  const world = new World();
  await world.init(over);
  const m = mlpModel();
  await world.registerModel(m);
  const e = await world.operator(execBond);
  const c = await world.operator(5_000_000_000n);
  const exec = new Player(world, e, world.trace(cheatLayers(m, 2, 0)));
  const chal = new Player(world, c, world.trace(run(m)));
  const batch = await world.commitBatch(0, e, world.outputDigest(exec.trace));
  return { world, m, e, c, exec, chal, batch };
}

/** Lamports of `keys`' wallets plus their operator accounts. */
function holdings(world: World, keys: PublicKey[]): bigint {
  return keys.reduce((s, k) => s + world.balance(k) + world.balance(world.client.pdas.operator(k)), 0n);
}

const pause = (world: World, paused: boolean) =>
  attempt(world.client.updateConfig(world.authority, { paused }));

test('treasury starvation: a treasury holding 0 lamports cannot make the honest challenger lose', async () => {
  // A stake whose treasury share (half of 0.001 SOL) is below the rent-exempt minimum: the bounds
  // refuse so small a min_executor_bond (BountyBelowCosts), but an executor bonded only 0.001 SOL stakes that.
  const s = await cheated({}, 1_000_000n);
  const { dispute, res } = await s.world.openDispute(s.c, s.batch, 1);
  s.world.must(res, 'open_dispute');
  assert.equal(s.world.balance(s.world.treasury), 0n, 'the treasury address holds nothing');
  const vault = s.world.client.pdas.vault();
  const v0 = s.world.balance(vault);
  await playToOneStep({ world: s.world, exec: s.exec, chal: s.chal, dispute });
  const c0 = await s.world.operatorOf(s.c.publicKey);
  let failure = '';
  await s.chal.submitOneStep(dispute).catch((e: unknown) => (failure = String(e)));
  assert.equal(failure, '', 'the winning one-step lands');
  const d = await s.world.dispute(dispute);
  assert.equal(d.phase, PHASE.RESOLVED);
  assert.equal(d.winner, SIDE.CHALLENGER);
  assert.equal(d.byTimeout, 0, 'the one-step decided it');
  // The stake (0.001 SOL) is below the winner's costs (Job rent + fee margin): its bounty is topped up with the
  // vault's share, so the whole stake goes to the winner and the vault (with no spare lamports) pays nothing more.
  assert.equal(
    (await s.world.operatorOf(s.c.publicKey)).bonded,
    c0.bonded + 1_000_000n,
    'bounty and top-up paid',
  );
  assert.equal(s.world.balance(vault), v0, "the vault's share went to the short winner");
  assert.equal(s.world.balance(s.world.treasury), 0n, 'the treasury address was not needed');
  assert.equal(s.world.unaccountedLamports(), 0n);
});

test('treasury vault: only the authority withdraws, and only lamports above the vault rent', async () => {
  const s = await cheated();
  const { dispute, res } = await s.world.openDispute(s.c, s.batch, 1);
  s.world.must(res, 'open_dispute');
  s.world.warp(PARAMS.clockSlots + 1n);
  s.world.must(await s.world.claimTimeout(s.c, dispute), 'claim_timeout');
  assert.equal((await s.world.dispute(dispute)).byTimeout, 1, 'a claimed timeout decided it');
  const share = PARAMS.minExecutorBond - (PARAMS.minExecutorBond * BigInt(PARAMS.bountyBps)) / 10_000n;
  const vault = s.world.client.pdas.vault();
  const v0 = s.world.balance(vault);
  const take = (who: typeof s.c, amount: bigint) => attempt(s.world.client.withdrawTreasury(who, amount));
  assert.equal((await take(s.c, share)).error, 'NotAuthority');
  assert.equal((await take(s.world.authority, share + 1n)).error, 'VaultInsufficient');
  assert.equal((await take(s.world.authority, 0n)).error, 'ZeroAmount');
  s.world.must(await take(s.world.authority, share), 'withdraw_treasury');
  assert.equal(s.world.balance(s.world.treasury), share, 'paid to the configured treasury');
  assert.equal(s.world.balance(vault), v0 - share, 'the vault keeps its rent');
  assert.equal((await take(s.world.authority, 1n)).error, 'VaultInsufficient');
  assert.equal(s.world.unaccountedLamports(), 0n);
});

test('pause: a bad batch finalizes while paused', async () => {
  const s = await cheated();
  s.world.must(await pause(s.world, true), 'pause');
  s.world.warp(PARAMS.challengeWindow + 1n);
  assert.equal((await s.world.finalize(s.c, 0)).error, 'Paused', 'no finalization while paused');
  s.world.must(await pause(s.world, false), 'unpause');
  // The paused slots did not count: the window is still open and the honest challenger disputes.
  const { dispute, res } = await s.world.openDispute(s.c, s.batch, 1);
  s.world.must(res, 'open_dispute');
  await playToOneStep({ world: s.world, exec: s.exec, chal: s.chal, dispute });
  await s.chal.submitOneStep(dispute);
  s.world.warp(PARAMS.challengeWindow);
  const fin = s.world.must(await s.world.finalize(s.c, 0), 'finalize');
  assert.ok(fin.events.some((e) => e.name === 'BatchFinalized' && e.data.invalidated === 1));
  assert.ok((await s.world.operatorOf(s.c.publicKey)).bonded > 5_000_000_000n, 'challenger gained');
  assert.equal(s.world.unaccountedLamports(), 0n);
});

test('pause: a side loses on time while paused', async () => {
  const s = await cheated();
  const { dispute, res } = await s.world.openDispute(s.c, s.batch, 1);
  s.world.must(res, 'open_dispute');
  const g = { world: s.world, exec: s.exec, chal: s.chal, dispute };
  s.world.must(await s.exec.move(dispute), 'executor commit_trace');
  s.world.warp(PARAMS.clockSlots / 2n);
  s.world.must(await pause(s.world, true), 'pause');
  s.world.warp(PARAMS.clockSlots * 10n);
  assert.equal((await s.world.claimTimeout(s.e, dispute)).error, 'Paused', 'no timeout while paused');
  assert.equal((await s.chal.move(dispute)).error, 'Paused', 'no move while paused');
  s.world.must(await pause(s.world, false), 'unpause');
  assert.equal(
    (await s.world.claimTimeout(s.e, dispute)).error,
    'ClockNotExpired',
    'paused slots not charged',
  );
  await playToOneStep(g);
  await s.chal.submitOneStep(dispute);
  assert.equal((await s.world.dispute(dispute)).winner, SIDE.CHALLENGER);
  assert.equal(s.world.unaccountedLamports(), 0n);
});

test('bounds: initialize and update_config refuse parameters the game cannot hold with, naming them', async () => {
  const world = new World();
  const bad: [Partial<typeof PARAMS>, string][] = [
    [{ minExecutorBond: 0n }, 'ZeroBond'],
    [{ minChallengerBond: 1000n }, 'ChallengerBondBelowRent'],
    [{ bountyBps: 5001 }, 'BountyTooHigh'],
    [{ challengeWindow: 0n }, 'ZeroDuration'],
    [{ clockSlots: 0n }, 'ZeroDuration'],
    [{ unbondingSlots: PARAMS.challengeWindow + 2n * PARAMS.clockSlots }, 'UnbondingTooShort'],
  ];
  for (const [over, error] of bad) {
    assert.equal((await attempt(world.client.initialize(world.authority, world.params(over)))).error, error);
  }
  await world.init();
  for (const [over, error] of bad) {
    const r = await attempt(world.client.updateConfig(world.authority, { params: over }));
    assert.equal(
      r.error,
      error,
      JSON.stringify(over, (_k, v: unknown) => String(v)),
    );
  }
  assert.equal((await world.client.config()).bountyBps, PARAMS.bountyBps, 'nothing changed');
});

test('retroactive window: shortening the window does not finalize a committed batch early', async () => {
  const s = await cheated();
  const short = { challengeWindow: 100n, unbondingSlots: PARAMS.unbondingSlots };
  s.world.must(await attempt(s.world.client.updateConfig(s.world.authority, { params: short })), 'update');
  s.world.warp(200);
  assert.equal(
    (await s.world.finalize(s.c, 0)).error,
    'WindowOpen',
    'batch keeps the window it was committed with',
  );
  const { dispute, res } = await s.world.openDispute(s.c, s.batch, 1);
  s.world.must(res, 'open_dispute');
  await playToOneStep({ world: s.world, exec: s.exec, chal: s.chal, dispute });
  await s.chal.submitOneStep(dispute);
  assert.equal((await s.world.dispute(dispute)).winner, SIDE.CHALLENGER);
  assert.equal(s.world.unaccountedLamports(), 0n);
});

test('retroactive bounty: lowering the bounty during a dispute does not cut the winner’s share', async () => {
  const s = await cheated();
  const { dispute, res } = await s.world.openDispute(s.c, s.batch, 1);
  s.world.must(res, 'open_dispute');
  s.world.must(
    await attempt(s.world.client.updateConfig(s.world.authority, { params: { bountyBps: 100 } })),
    'update',
  );
  const c0 = await s.world.operatorOf(s.c.publicKey);
  await playToOneStep({ world: s.world, exec: s.exec, chal: s.chal, dispute });
  await s.chal.submitOneStep(dispute);
  const bounty = (PARAMS.minExecutorBond * BigInt(PARAMS.bountyBps)) / 10_000n;
  assert.equal((await s.world.operatorOf(s.c.publicKey)).bonded, c0.bonded + bounty, 'bounty as at open');
  assert.equal(s.world.unaccountedLamports(), 0n);
});

test('authority handover: a mistyped or unsigned handover leaves the old authority in control', async () => {
  const world = new World();
  await world.init();
  const typo = world.fund();
  const next = world.fund();
  const proposeAs = (signer: typeof typo, to: PublicKey) =>
    attempt(world.client.proposeAuthority(signer, to));
  const accept = (signer: typeof typo) => attempt(world.client.acceptAuthority(signer));
  const authority = async () => (await world.client.config()).authority;
  assert.equal((await proposeAs(typo, typo.publicKey)).error, 'NotAuthority', 'only the authority proposes');
  world.must(await proposeAs(world.authority, typo.publicKey), 'propose (mistyped)');
  assert.ok((await authority()).equals(world.authority.publicKey), 'a proposal alone hands nothing over');
  assert.equal((await accept(next)).error, 'NotPendingAuthority', 'only the proposed key accepts');
  // The old authority is still in control: it fixes the proposal, and the right key takes over.
  world.must(await pause(world, true), 'old authority still updates the config');
  world.must(await proposeAs(world.authority, next.publicKey), 'propose (corrected)');
  assert.equal((await accept(typo)).error, 'NotPendingAuthority', 'the replaced proposal is void');
  world.must(await accept(next), 'accept');
  assert.ok((await authority()).equals(next.publicKey));
  assert.ok((await world.client.config()).pendingAuthority.equals(PublicKey.default), 'proposal consumed');
  assert.equal((await pause(world, false)).error, 'NotAuthority', 'the old authority is out');
  world.must(await attempt(world.client.updateConfig(next, { paused: false })), 'new authority updates');
  assert.equal(world.unaccountedLamports(), 0n);
});

test('self-challenge laundering: a cheater disputing itself from a second key loses at least half its stake', async () => {
  const probe = new World();
  assert.equal(
    (await attempt(probe.client.initialize(probe.authority, probe.params({ bountyBps: 10_000 })))).error,
    'BountyTooHigh',
    'a bounty of the whole stake is refused',
  );
  // The highest bounty accepted; the cheater's second key holds the honest trace and wins.
  const s = await cheated({ bountyBps: 5000 });
  const keys = [s.e.publicKey, s.c.publicKey];
  const before = holdings(s.world, keys);
  const { dispute, res } = await s.world.openDispute(s.c, s.batch, 1);
  s.world.must(res, 'open_dispute');
  await playToOneStep({ world: s.world, exec: s.exec, chal: s.chal, dispute });
  await s.chal.submitOneStep(dispute);
  const after = holdings(s.world, keys);
  assert.ok(after < before, 'the two keys end with strictly less');
  assert.ok(before - after >= PARAMS.minExecutorBond / 2n, `lost ${before - after}: at least half the stake`);
  assert.equal(s.world.unaccountedLamports(), 0n);
});

test('unbonding escape: a cheater that requests an unbond right after its batch commits cannot withdraw before the window closes', async () => {
  const s = await cheated();
  s.world.must(await attempt(s.world.client.requestUnbond(s.e, 10_000_000_000n)), 'request_unbond');
  s.world.warp(PARAMS.challengeWindow - 1n);
  assert.equal((await attempt(s.world.client.withdraw(s.e))).error, 'UnbondingNotReady');
  const { dispute, res } = await s.world.openDispute(s.c, s.batch, 1);
  s.world.must(res, 'open_dispute');
  assert.equal((await s.world.dispute(dispute)).executorStake, PARAMS.minExecutorBond, 'full stake');
  await playToOneStep({ world: s.world, exec: s.exec, chal: s.chal, dispute });
  await s.chal.submitOneStep(dispute);
  assert.equal((await s.world.operatorOf(s.e.publicKey)).bonded, 10_000_000_000n - PARAMS.minExecutorBond);
  assert.ok((await s.world.operatorOf(s.c.publicKey)).bonded > 5_000_000_000n, 'challenger gained');
  assert.equal(s.world.unaccountedLamports(), 0n);
});

test('unbonding escape: a cheater that requested an unbond before its job is disputed is still slashed the full stake', async () => {
  const world = new World();
  await world.init();
  const m = mlpModel();
  await world.registerModel(m);
  const e = await world.operator(10_000_000_000n);
  const c = await world.operator(5_000_000_000n);
  world.must(await attempt(world.client.requestUnbond(e, 10_000_000_000n)), 'request_unbond');
  const exec = new Player(world, e, world.trace(cheatLayers(m, 2, 0)));
  const chal = new Player(world, c, world.trace(run(m)));
  const batch = await world.commitBatch(0, e, world.outputDigest(exec.trace));
  const { dispute, res } = await world.openDispute(c, batch, 1);
  world.must(res, 'open_dispute');
  assert.equal(
    (await world.dispute(dispute)).executorStake,
    PARAMS.minExecutorBond,
    'unbonding lamports staked',
  );
  await playToOneStep({ world, exec, chal, dispute });
  await chal.submitOneStep(dispute);
  const after = await world.operatorOf(e.publicKey);
  assert.equal(after.bonded, 10_000_000_000n - PARAMS.minExecutorBond, 'slashed the full stake');
  assert.equal(after.unbonding, after.bonded, 'what is left still unbonds');
  assert.equal(world.unaccountedLamports(), 0n);
});
