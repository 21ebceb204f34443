// review16: the short-escrow top-up as an instant bond withdrawal that shields the bond from faults the sequencer committed in another batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair } from '@solana/web3.js';
import { World, PARAMS, attempt, claimOne, commitTree, holds, type TxResult } from './lib/game.ts';
import { mlpModel } from './lib/model.ts';

const SOL = 1_000_000_000n;
const S = PARAMS.minExecutorBond;

const eventOf = <T>(r: TxResult, name: string): T | undefined =>
  r.events.find((e) => e.name === name)?.data as T | undefined;

test("bond escape: the sequencer commits batch 0 with four records of never-bonded keys (record faults), then batch 1 whose only record is its bonded sybil's with a fee equal to its whole bond, escrowing 0; its sybil proves batch 1's short escrow, which moves the whole bond into batch 1's escrow at once; the honest prover's faults 2..4 on batch 0 (still in its window) must each still slash one whole fault slash", async () => {
  const world = new World();
  await world.init();
  await world.registerModel(mlpModel());
  const seq = world.sequencer.publicKey;
  world.must(await attempt(world.client.bond(world.sequencer, 50n * SOL)), 'sequencer bond');
  const sybil = await world.operator(SOL);
  const prover = world.fund(10n * SOL);
  const side = () => holds(world, seq) + holds(world, sybil.publicKey);
  const before = side();
  const feesBefore = world.sender.feesBurned;

  // Batch 0: four records of keys that never bonded: each is a provable record fault (kind 0).
  const ghosts = Array.from({ length: 4 }, () => Keypair.generate());
  const { b: b0, res: r0 } = await commitTree(
    world,
    0,
    ghosts.map((k) => [k, 1000n] as [Keypair, bigint]),
    4000n,
  );
  world.must(r0, 'commit_batch 0');
  const bonded = (await world.operatorOf(seq)).bonded;
  console.log(`sequencer bonded ${bonded} when batch 0 (four faults) was committed`);

  // Batch 1: the sybil's record claims the whole bond as its fee; nothing escrowed.
  const { b: b1, res: r1 } = await commitTree(world, 1, [[sybil, bonded]], 0n);
  world.must(r1, 'commit_batch 1');
  const p = world.must(await world.proveShortEscrow(sybil, b1, 0), 'prove_short_escrow by the sybil');
  const toppedUp = eventOf<{ toppedUp: bigint }>(p, 'EscrowShortProven')?.toppedUp;
  console.log(`short-escrow top-up moved ${toppedUp} of the bond into batch 1's escrow; bond now ${(await world.operatorOf(seq)).bonded}`);

  // The honest prover proves batch 0's faults, inside batch 0's window.
  const slashes: bigint[] = [];
  const proverBefore = world.balance(prover.publicKey);
  for (let j = 0; j < 4; j++) {
    const r = world.must(await world.proveFault(prover, b0, j), `prove_record_fault ${j}`);
    slashes.push(eventOf<{ amount: bigint }>(r, 'Slashed')?.amount ?? 0n);
  }
  const proverNet = world.balance(prover.publicKey) - proverBefore;

  // The coalition takes the bond back: batch 1 finalizes, the sybil claims its "fee".
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(prover, 1), 'finalize_batch 1');
  world.must(await claimOne(world, sybil, b1, 0), "the sybil's claim of the top-up");
  world.must(await world.finalize(prover, 0), 'finalize_batch 0');
  world.warp(PARAMS.challengeWindow);
  world.must(await attempt(world.client.closeBatch(prover, 0)), 'close_batch 0');
  world.must(await attempt(world.client.closeBatch(prover, 1)), 'close_batch 1');
  const fees = world.sender.feesBurned - feesBefore;
  const net = side() - before;
  console.log(
    `slashes on batch 0's four faults: ${slashes.join(', ')}; honest prover net ${proverNet} (4 Job rents, fees); coalition net ${net} (tx fees burned overall ${fees})`,
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  // What should hold: the bond that stood behind batch 0 when it was committed (50 SOL, enough for
  // every fault past the reserve) was not withdrawable before batch 0's window closed, so each fault
  // slashes one whole fault slash.
  assert.deepEqual(slashes, [S, S, S, S], 'every fault on batch 0 slashes one whole fault slash');
});
