// Review 28: attacks on the data-request money flows (answer_pay, review 24's "withhold and answer" closed) against
// the shipped SBF program and the honest sequencer node that answers demands on it (LiteSVM). Each test states what
// must hold; a failing test is an attack that succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair } from '@solana/web3.js';
import { minUnbondingSlots, connectLocal } from '../../settlement/index.ts';
import type { SendOptions } from '../../settlement/sender.ts';
import { encodeInputSet } from '../../state/input-set.ts';
import { ChainSettlement, DATA_POLL_MS } from '../../sequencer/chain-settlement.ts';
import { Batch, jobId, signResult } from '../../state/job.ts';
import { fromHex } from '../../state/hash.ts';
import { tensorSetDigest, type Tensor } from '../../state/tensor.ts';
import { asBatchIndex, type ExecutorId, type Hash32, type ModelId } from '../../state/types.ts';

const WINDOW = 300n;

test("rev28 sybil answer strands the sequencer's buffer: a requester demands a job's data and, once the honest sequencer node has created and filled its answer buffer, answers first through a sybil (anyone but the requester may answer; the sybil's pay comes out of the requester's own deposit, so the pair is out only its fees); the sequencer's answer_data is refused and its buffer, never frozen, is never closed by the node, its rent (and write fees) lost; once the batch is final the honest sequencer must have its buffer rent back", async () => {
  const { client, sender } = connectLocal();
  const authority = Keypair.generate();
  const seq = Keypair.generate();
  const exec = Keypair.generate();
  const requester = Keypair.generate();
  const sybil = Keypair.generate();
  for (const k of [authority, seq, requester, sybil]) sender.airdrop(k.publicKey, 20_000_000_000n);
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
  // Job 1's input: about 8 KiB posted, as an honest sequencer accepts (well under MAX_DATA_BYTES).
  const inputs: Record<string, Tensor>[] = [0, 1].map((i) => ({
    x: { dtype: 'uint8', dims: [8000], data: Buffer.alloc(8000, i + 1) },
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
  const proof = b.proof(1);
  const answer = {
    record: fromHex(proof.record),
    signature: fromHex(proof.signature),
    siblings: proof.siblings.map((s) => fromHex(s, 32)),
    siblingFees: proof.siblingFees.map(BigInt),
    inputs: encodeInputSet(inputs[1]),
  };

  // The sybil's answer lands between the sequencer's last write and its answer_data.
  const send = sender.send.bind(sender);
  let raced = false;
  let seqWrites = 0;
  sender.send = async (ixs, signers, opts?: SendOptions) => {
    if (
      signers[0].publicKey.equals(seq.publicKey) &&
      /^(init_data_buffer|write_proof_buffer)/.test(opts?.label ?? '')
    )
      seqWrites++;
    if (!raced && opts?.label?.startsWith('answer_data') && signers[0].publicKey.equals(seq.publicKey)) {
      raced = true;
      await client.answerData(sybil, 0, 1, answer);
    }
    return send(ixs, signers, opts);
  };
  const seqBefore = await sender.getBalance(seq.publicKey);
  const seqAnswer = await settlement.answerDataRequests(DATA_POLL_MS, serve).then(
    (n) => `answered ${n}`,
    (e: Error) => `refused: ${e.message.split('\n')[0]}`,
  );
  assert.ok(raced, "the sybil answered while the sequencer's answer was in flight");
  const request = client.pdas.dataRequest(client.pdas.batch(0), 1);
  const r = await client.fetchDataRequest(0, 1);
  assert.ok(r && r.answered !== 0 && r.answerer.equals(sybil.publicKey), 'the sybil answered');
  const seqBuffer = client.pdas.proof(request, seq.publicKey);
  assert.ok(seqWrites >= 2, "the sequencer's buffer was created and filled");

  // The batch becomes final; the honest node runs its passes (answers, closes, reclaims) and the requester closes.
  sender.warp(WINDOW);
  assert.equal(await settlement.canFinalize(header, 0, Date.now()), true);
  await settlement.answerDataRequests(3 * DATA_POLL_MS, serve);
  await client.closeDataRequest(requester, 0, 1);
  await settlement.answerDataRequests(5 * DATA_POLL_MS, serve);
  await settlement.reclaimRent(Date.now() + 10 * 60_000).catch(() => 0n);
  const stranded = await sender.getBalance(seqBuffer);
  const seqAfter = await sender.getBalance(seq.publicKey);
  console.log(
    `sequencer's answer: ${seqAnswer}; its buffer holds ${stranded} lamports after the batch is final; sequencer balance ${seqBefore} -> ${seqAfter}`,
  );
  assert.equal(
    stranded,
    0n,
    `the honest sequencer's data buffer still holds ${stranded} lamports of rent once the batch is final and every pass has run: a sybil answer strands it (the node closes only buffers of requests it answered)`,
  );
});
