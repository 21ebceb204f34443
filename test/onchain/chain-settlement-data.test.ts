// The sequencer answers data requests on its batches (LiteSVM): the record, opening and inputs posted in time, then the accounts closed once final.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair } from '@solana/web3.js';
import { minUnbondingSlots, connectLocal } from '../../settlement/index.ts';
import { decodeInputSet } from '../../state/input-set.ts';
import { ChainSettlement, DATA_POLL_MS } from '../../sequencer/chain-settlement.ts';
import { Batch, jobId, signResult } from '../../state/job.ts';
import { tensorSetDigest, type Tensor } from '../../state/tensor.ts';
import { asBatchIndex, type ExecutorId, type Hash32, type ModelId } from '../../state/types.ts';

const WINDOW = 300n;

test('honest sequencer node: a data request on its batch is answered from its ledger, readable on chain, and closed once the batch is final', async () => {
  const { client, sender } = connectLocal();
  const authority = Keypair.generate();
  const seq = Keypair.generate();
  const exec = Keypair.generate();
  const requester = Keypair.generate();
  for (const k of [authority, seq, requester]) sender.airdrop(k.publicKey, 20_000_000_000n);
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
  const inputs: Record<string, Tensor>[] = [0, 1].map((i) => ({
    x: { dtype: 'float32', dims: [1, 4], data: Buffer.alloc(16, i + 1) },
    mask: { dtype: 'bool', dims: [4], data: Buffer.from([1, 0, 1, i]) },
  }));
  const modelId = 'ab'.repeat(32) as ModelId;
  const records = inputs.map((t, i) =>
    signResult(
      {
        jobId: jobId(i, modelId, tensorSetDigest(t)),
        modelId,
        inputDigest: tensorSetDigest(t),
        outputDigest: 'cd'.repeat(32) as Hash32,
        executor: exec.publicKey.toBase58() as ExecutorId,
        fee: 1000n,
      },
      exec.secretKey,
    ),
  );
  const b = new Batch(asBatchIndex(0), records);
  const settlement = new ChainSettlement(client, seq);
  const header = { index: asBatchIndex(0), root: b.root, jobCount: 2, feeTotal: b.feeSum };
  await settlement.commitBatch(header);
  await client.requestData(requester, 0, 1);
  const serve = async (index: number, position: number) =>
    index === 0 ? { proof: b.proof(position), inputs: inputs[position] } : undefined;
  assert.equal(await settlement.answerDataRequests(DATA_POLL_MS, serve), 1);
  assert.equal(await settlement.answerDataRequests(DATA_POLL_MS + 1, serve), 0, 'throttled');
  const posted = await client.fetchDataAnswer(0, 1);
  assert.ok(posted, 'answered on chain');
  assert.equal(tensorSetDigest(decodeInputSet(posted.inputs)), records[1].inputDigest);
  assert.equal((await client.fetchBatch(0))?.openRequests, 0);
  // Nothing more to answer; once final, the sequencer closes the answered request (its buffer rent comes back).
  assert.equal(await settlement.answerDataRequests(2 * DATA_POLL_MS, serve), 0);
  assert.ok(await client.fetchDataRequest(0, 1), 'kept while the batch can be disputed');
  sender.warp(WINDOW);
  assert.equal(await settlement.canFinalize(header, 0, Date.now()), true);
  const before = await sender.getBalance(requester.publicKey);
  await settlement.answerDataRequests(3 * DATA_POLL_MS, serve);
  assert.equal(await client.fetchDataRequest(0, 1), null, 'closed');
  assert.ok((await sender.getBalance(requester.publicKey)) > before, 'request rent back to the requester');
});
