// The sequencer's settlement after its batch account is closed (LiteSVM): rent reclaimed, the batch still read as committed and final.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair } from '@solana/web3.js';
import { minUnbondingSlots, connectLocal } from '../../settlement/index.ts';
import { ChainSettlement, RECLAIM_POLL_MS } from '../../sequencer/chain-settlement.ts';
import { asBatchIndex, type Hash32 } from '../../state/types.ts';

const WINDOW = 20n;

test('a closed batch: the sequencer reclaims its rent, then reads it as finalized, never re-commits it, and finds no invalidation', async () => {
  const { client, sender } = connectLocal();
  const authority = Keypair.generate();
  const seq = Keypair.generate();
  sender.airdrop(authority.publicKey, 10_000_000_000n);
  sender.airdrop(seq.publicKey, 10_000_000_000n);
  await client.initialize(authority, {
    sequencer: seq.publicKey,
    treasury: Keypair.generate().publicKey,
    challengeWindow: WINDOW,
    clockSlots: 10n,
    minExecutorBond: 1_000_000_000n,
    minChallengerBond: 1_000_000_000n,
    unbondingSlots: minUnbondingSlots(WINDOW, 10n),
    bountyBps: 5000,
  });
  const settlement = new ChainSettlement(client, seq);
  const header = { index: asBatchIndex(0), root: 'ab'.repeat(32) as Hash32, jobCount: 4 };
  await settlement.commitBatch(header);
  const start = await sender.getBalance(seq.publicKey);
  const rent = await sender.getBalance(client.pdas.batch(0));
  sender.warp(WINDOW);
  assert.equal(await settlement.canFinalize(header, 0, Date.now()), true);
  // Inside the grace nothing is closed; the sweep is throttled to one pass per RECLAIM_POLL_MS.
  assert.equal(await settlement.reclaimRent(RECLAIM_POLL_MS), 0n);
  sender.warp(WINDOW);
  assert.equal(await settlement.reclaimRent(RECLAIM_POLL_MS + 1), 0n, 'throttled');
  assert.equal(await settlement.reclaimRent(2 * RECLAIM_POLL_MS), rent);
  // Fees: finalize_batch and close_batch, both signed by the sequencer.
  assert.equal((await sender.getBalance(seq.publicKey)) - start, rent - 10_000n);
  assert.deepEqual(await client.batchState(0), { state: 'closed', index: 0n });
  assert.equal(await settlement.canFinalize(header, 0, Date.now()), true);
  assert.deepEqual(await settlement.invalidatedJobs(header), []);
  assert.equal(await settlement.readBatch(0), undefined);
  // A re-commit after a crash is a no-op, not a second batch 0 nor a conflict.
  await settlement.commitBatch(header);
  assert.equal((await client.config()).nextBatchIndex, 1n);
  assert.equal(await settlement.batchCount(), 1);
});
