// Data availability (issue 14): a sequencer that withholds a job's record or inputs is slashed on chain; an honest one answers and is paid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Keypair } from '@solana/web3.js';
import { World, PARAMS, answerData, attempt, type CommittedBatch, type TxResult } from './lib/game.ts';
import { mlpModel } from './lib/model.ts';
import * as P from './lib/protocol.ts';
import {
  MAX_BATCH_JOBS,
  DATA_ANSWER_SLOTS,
  DATA_REQUEST_DEPOSIT,
  PROOF_WRITE_BYTES,
  answerPay,
} from '../../settlement/instructions.ts';

const SOL = 1_000_000_000n;
const bounty = (stake: bigint) => (stake * BigInt(PARAMS.bountyBps)) / 10_000n;
/** The answer time a request gets: max(clock_slots, DATA_ANSWER_SLOTS). */
const ANSWER_SLOTS = BigInt(Math.max(Number(PARAMS.clockSlots), DATA_ANSWER_SLOTS));

/** A world with the mlp model, an honest bonded executor's batch 0 of three jobs, and a funded requester. */
async function setup() {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  const executor = await world.operator(10n * SOL);
  const requester = world.fund(5n * SOL);
  const b = await world.commitBatch(0, executor, P.sha(Buffer.from('honest output')));
  const inputs = P.postInputs(m.inputs);
  return { m, world, executor, requester, b, inputs };
}

function request(world: World, by: Keypair, b: CommittedBatch, job: number): Promise<TxResult> {
  return attempt(world.client.requestData(by, b.index, job));
}

/** Answers the request on job `job` with `inputs` and (unless forged) the committed record and proof; the last tx's result. */
async function answer(
  world: World,
  by: Keypair,
  b: CommittedBatch,
  job: number,
  inputs: Buffer,
  forged: { record?: Buffer; signature?: Buffer; proof?: { siblings: Buffer[]; siblingFees: bigint[] } } = {},
): Promise<{ res: TxResult; txs: number }> {
  const before = world.txs.length;
  const res = await answerData(world, by, b, job, inputs, forged);
  return { res, txs: world.txs.length - before };
}

function timeout(world: World, by: Keypair, b: CommittedBatch, job: number): Promise<TxResult> {
  return attempt(world.client.claimDataTimeout(by, b.index, job));
}

test('withheld data: the sequencer never answers a request; the timeout invalidates the job and slashes the sequencer, bounty and deposit to the requester', async () => {
  const { world, requester, b } = await setup();
  const seq = world.sequencer.publicKey;
  const seqBefore = (await world.operatorOf(seq)).bonded;
  const reqBefore = world.balance(requester.publicKey);
  const vaultBefore = world.balance(world.client.pdas.vault());
  const feesBefore = world.sender.feesBurned;
  const r = world.must(await request(world, requester, b, 1), 'request_data');
  console.log(`request_data: ${r.cu} CU, ${r.size} bytes`);
  assert.ok(r.events.some((e) => e.name === 'DataRequested'));
  const reqAddr = world.client.pdas.dataRequest(b.address, 1);
  const reqRent = world.balance(reqAddr) - DATA_REQUEST_DEPOSIT;
  assert.equal((await world.batch(0)).openRequests, 1);
  // The timeout is refused before the deadline, and the batch cannot finalize past its window.
  assert.equal((await timeout(world, requester, b, 1)).error, 'DataRequestNotExpired');
  world.warp(PARAMS.challengeWindow);
  assert.equal(
    (await world.finalize(requester, 0)).error,
    'DataRequestOpen',
    'no finalizing around an open request',
  );
  world.warp(ANSWER_SLOTS);
  const t = world.must(await timeout(world, requester, b, 1), 'claim_data_timeout');
  console.log(`claim_data_timeout: ${t.cu} CU, ${t.size} bytes; request rent ${reqRent}`);
  const slash = PARAMS.minExecutorBond;
  assert.equal((await world.batch(0)).faultReserve, 0n, "one fault slash, from the batch's fault reserve");
  assert.equal((await world.operatorOf(seq)).bonded, seqBefore, 'the bond stays for later faults');
  const jobRent = world.balance(world.client.pdas.job(b.address, 1));
  const fees = world.sender.feesBurned - feesBefore;
  assert.equal(
    world.balance(requester.publicKey) - reqBefore,
    bounty(slash) - jobRent - fees,
    'requester: bounty, its rent and deposit back; it paid the Job account and its fees',
  );
  assert.ok(world.balance(requester.publicKey) > reqBefore, 'the requester ends richer');
  assert.equal(
    world.balance(world.client.pdas.vault()) - vaultBefore,
    slash - bounty(slash),
    'the rest to the vault',
  );
  assert.equal(world.balance(reqAddr), 0n, 'request account closed');
  assert.equal((await world.job(0, 1)).invalidated, 1, 'job invalidated');
  const batch = await world.batch(0);
  assert.equal(batch.invalidated, 1);
  assert.equal(batch.openRequests, 0);
  const names = t.events.map((e) => e.name);
  for (const n of ['Slashed', 'JobInvalidated', 'DataTimedOut']) assert.ok(names.includes(n as never), n);
  // Nothing more: a second claim finds no request, a new request finds the job invalidated (and the window closed).
  assert.equal(
    (await timeout(world, requester, b, 1).catch(() => ({ error: 'NOT_FOUND' }))).error,
    'NOT_FOUND',
  );
  world.must(await world.finalize(requester, 0), 'finalize_batch after the timeout');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('answer after timeout: an answer landing at the deadline is refused, and the timeout still pays', async () => {
  const { world, requester, b, inputs } = await setup();
  world.must(await request(world, requester, b, 2), 'request_data');
  world.warp(ANSWER_SLOTS);
  const late = await answer(world, world.sequencer, b, 2, inputs);
  assert.equal(late.res.error, 'DataRequestExpired');
  world.must(await timeout(world, requester, b, 2), 'claim_data_timeout');
  assert.equal((await world.job(0, 2)).invalidated, 1);
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('honest answer: the sequencer posts the record and inputs within the clock; they are readable on chain, the deposit pays it, and a timeout is refused', async () => {
  const { m, world, requester, b, inputs } = await setup();
  const seq = world.sequencer;
  world.must(await request(world, requester, b, 1), 'request_data');
  const seqBefore = world.balance(seq.publicKey);
  const feesBefore = world.sender.feesBurned;
  const { res, txs } = await answer(world, seq, b, 1, inputs);
  world.must(res, 'answer_data');
  console.log(
    `answer_data: ${res.cu} CU, ${res.size} bytes; ${inputs.length} input bytes in ${txs} transactions`,
  );
  const reqAddr = world.client.pdas.dataRequest(b.address, 1);
  const bufAddr = world.client.pdas.proof(reqAddr, seq.publicKey);
  const bufRent = world.balance(bufAddr);
  const fees = world.sender.feesBurned - feesBefore;
  assert.equal(
    world.balance(seq.publicKey) - seqBefore,
    answerPay(inputs.length) - fees - bufRent,
    "the deposit pays the sequencer its answer's fees; its buffer rent is held until close",
  );
  assert.ok(answerPay(inputs.length) > fees, 'the pay covers the answer fees');
  // Anyone reads the answer.
  const posted = await world.client.fetchDataAnswer(0, 1);
  assert.ok(posted);
  assert.deepEqual(posted.record, b.records[1]);
  assert.deepEqual(posted.signature, b.signatures[1]);
  assert.deepEqual(
    { siblings: posted.siblings, siblingFees: posted.siblingFees },
    P.batchProof(b.levels, 1),
    'the opening is kept: a challenger can open a dispute from it',
  );
  assert.deepEqual(posted.inputs, P.postInputs(m.inputs));
  const ev = res.events.find((e) => e.name === 'DataAnswered');
  assert.ok(ev, 'DataAnswered');
  // The buffer is frozen: no rewrite, no close, and no second answer.
  assert.equal(
    (await attempt(world.client.writeProofBuffer(seq, reqAddr, { offset: 0, data: Buffer.alloc(4) }))).error,
    'BufferFrozen',
  );
  assert.equal((await attempt(world.client.closeProofBuffer(seq, reqAddr))).error, 'BufferFrozen');
  assert.equal((await answer(world, seq, b, 1, inputs)).res.error, 'DataRequestAnswered');
  world.warp(ANSWER_SLOTS + PARAMS.challengeWindow);
  assert.equal((await timeout(world, requester, b, 1)).error, 'DataRequestAnswered');
  assert.equal(
    (await attempt(world.client.closeDataRequest(requester, 0, 1))).error,
    'BatchNotFinalized',
    'the answer stays readable while the batch can be disputed',
  );
  world.must(await world.finalize(requester, 0), 'finalize_batch');
  assert.equal((await world.batch(0)).invalidated, 0, 'the answered job stands');
  const reqBefore = world.balance(requester.publicKey);
  const reqRent = world.balance(reqAddr);
  const seqMid = world.balance(seq.publicKey);
  world.must(await attempt(world.client.closeDataRequest(seq, 0, 1)), 'close_data_request');
  assert.equal(world.balance(requester.publicKey) - reqBefore, reqRent, 'request rent back to the requester');
  // The Job account request_data created for the job closes too, its rent to the requester.
  const jobRent = world.balance(world.client.pdas.job(b.address, 1));
  world.must(await attempt(world.client.closeJob(seq, 0, 1)), 'close_job');
  assert.equal(world.balance(requester.publicKey) - reqBefore, reqRent + jobRent, 'job rent back too');
  // The sequencer signed both closes (two 5,000-lamport fees).
  assert.equal(world.balance(seq.publicKey) - seqMid, bufRent - 10_000n, 'buffer rent back to the answerer');
  assert.equal(world.balance(bufAddr), 0n);
  assert.equal(world.balance(reqAddr), 0n);
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('forged answer: another job record, a tampered opening, inputs off the digest, unsorted or garbled inputs are refused; the real answer lands', async () => {
  const { m, world, requester, b, inputs } = await setup();
  const seq = world.sequencer;
  world.must(await request(world, requester, b, 1), 'request_data');
  // A record committed at another index.
  const other = await answer(world, seq, b, 1, inputs, {
    record: b.records[0],
    signature: b.signatures[0],
    proof: P.batchProof(b.levels, 0),
  });
  assert.equal(other.res.error, 'InvalidProof', 'wrong record');
  // The right record with a tampered sibling (hash or fee sum).
  const proof = P.batchProof(b.levels, 1);
  const badFees = { siblings: proof.siblings, siblingFees: proof.siblingFees.map((f) => f + 1n) };
  assert.equal(
    (await answer(world, seq, b, 1, inputs, { proof: badFees })).res.error,
    'InvalidProof',
    'wrong fee sum',
  );
  const flipped = proof.siblings.map((s, i) => (i === 0 ? Buffer.from(s.map((x) => x ^ 1)) : s));
  assert.equal(
    (await answer(world, seq, b, 1, inputs, { proof: { siblings: flipped, siblingFees: proof.siblingFees } }))
      .res.error,
    'InvalidProof',
    'wrong opening',
  );
  // A forged signature: the Ed25519 program refuses it before answer_data runs (InvalidSignature, custom 2).
  assert.equal(
    (await answer(world, seq, b, 1, inputs, { signature: Buffer.alloc(64, 7) })).res.error,
    'Custom2',
  );
  // Inputs that are not the record's: one byte off.
  const wrong = Buffer.from(inputs);
  wrong[wrong.length - 1] ^= 1;
  assert.equal(
    (await answer(world, seq, b, 1, wrong)).res.error,
    'InputDigestMismatch',
    'inputs off the digest',
  );
  assert.equal(
    (await answer(world, seq, b, 1, inputs.subarray(0, inputs.length - 1))).res.error,
    'BadInputSet',
  );
  // An extra input 'zz' after the real one: a different set; the same two tensors out of name order: unsorted.
  const extra: [string, P.Tensor][] = [m.inputs[0], ['zz', m.inputs[0][1]]];
  assert.equal(
    (await answer(world, seq, b, 1, P.postInputs(extra))).res.error,
    'InputDigestMismatch',
    'an extra input',
  );
  const one = (t: [string, P.Tensor]) => P.postInputs([t]).subarray(4);
  const swapped = Buffer.concat([P.u32(2), one(extra[1]), one(extra[0])]);
  assert.equal((await answer(world, seq, b, 1, swapped)).res.error, 'InputSetUnsorted');
  // The requester cannot collect its own deposit back.
  assert.equal((await answer(world, requester, b, 1, inputs)).res.error, 'SelfAnswer');
  // The honest answer, over the refused writes (the client rewrites the buffer from scratch).
  world.must((await answer(world, seq, b, 1, inputs)).res, 'answer_data');
  assert.equal((await world.client.fetchDataRequest(b.address, 1))?.answered, 1);
  // Close the requester's own unanswered buffer (not frozen) to keep the books simple.
  world.must(
    await attempt(world.client.closeProofBuffer(requester, world.client.pdas.dataRequest(b.address, 1))),
    'close the refused buffer',
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('unsigned record: the sequencer commits a result its bonded executor never signed; open_dispute is refused, the sequencer cannot answer a data request on it (answer_data checks the signature), and the timeout invalidates the job and slashes the sequencer, the bounty to the requester', async () => {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  const executor = await world.operator(10n * SOL);
  const requester = world.fund(5n * SOL);
  const challenger = await world.operator(5n * SOL);
  // Every record of the batch carries a signature by another key: none verifies for its executor.
  const forger = world.fund(SOL);
  const b = await world.commitBatch(0, executor, P.sha(Buffer.from('a result nobody computed')), 3, 1, (r) =>
    P.signRecord(r, forger.secretKey),
  );
  const { res: opened } = await world.openDispute(challenger, b, 1);
  assert.equal(opened.ok, false, 'open_dispute refuses a record whose signature does not verify');
  world.must(await request(world, requester, b, 1), 'request_data');
  const refused = await answer(world, world.sequencer, b, 1, P.postInputs(m.inputs));
  assert.equal(refused.res.ok, false, 'the committed record cannot be answered');
  console.log(`unsigned record: answer_data refused with ${refused.res.error}`);
  world.warp(ANSWER_SLOTS);
  const t = world.must(await timeout(world, requester, b, 1), 'claim_data_timeout');
  const slashed = t.events.find((e) => e.name === 'Slashed')?.data as { amount: bigint } | undefined;
  assert.equal(slashed?.amount, PARAMS.minExecutorBond, 'the sequencer is slashed one fault slash');
  const timedOut = t.events.find((e) => e.name === 'DataTimedOut')?.data as { bounty: bigint } | undefined;
  assert.equal(timedOut?.bounty, bounty(PARAMS.minExecutorBond), 'the bounty to the requester');
  assert.equal(
    (await world.job(0, 1)).invalidated,
    1,
    'job invalidated: the unsigned result never finalizes',
  );
  assert.equal((await world.operatorOf(executor.publicKey)).slashed, 0n, 'the named executor loses nothing');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('seventeen inputs: a colluding sequencer commits a lie on a job of 17 inputs (the one-step opens at most 16, so no game can convict it); answer_data refuses any posting of 17 tensors, so a request on it times out: the job is invalidated and the sequencer slashed, the bounty to the requester', async () => {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  const executor = await world.operator(10n * SOL);
  const requester = world.fund(5n * SOL);
  // The model's input, then 16 more the referee would never read (names after it in byte order).
  const [name, t] = m.inputs[0];
  const seventeen: [string, P.Tensor][] = [
    [name, t],
    ...Array.from({ length: 16 }, (_, i): [string, P.Tensor] => [`~extra${String(i).padStart(2, '0')}`, t]),
  ];
  world.inputDigest = () => P.tensorSetDigest(seventeen.map(([n, x]) => [n, P.tensorDigest(x)]));
  const b = await world.commitBatch(0, executor, P.sha(Buffer.from('a lie on 17 inputs')));
  world.must(await request(world, requester, b, 1), 'request_data');
  // The committed inputs themselves, posted as they are: too many tensors.
  const posted = P.postInputs(seventeen);
  const refused = await answer(world, world.sequencer, b, 1, posted);
  assert.equal(refused.res.error, 'InputSetTooLarge', `17 tensors answered (${posted.length} bytes)`);
  // Sixteen of them hash to another set.
  assert.equal(
    (await answer(world, world.sequencer, b, 1, P.postInputs(seventeen.slice(0, 16)))).res.error,
    'InputDigestMismatch',
  );
  world.warp(ANSWER_SLOTS);
  const out = world.must(await timeout(world, requester, b, 1), 'claim_data_timeout');
  const slashed = out.events.find((e) => e.name === 'Slashed')?.data as { amount: bigint } | undefined;
  assert.equal(slashed?.amount, PARAMS.minExecutorBond, 'the sequencer is slashed one fault slash');
  assert.equal((await world.job(0, 1)).invalidated, 1, 'the lie on 17 inputs never finalizes');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('deepest answer: answer_data with its Ed25519 signature check, on the last job of a batch at the 2^10 cap (ten 40-byte siblings), fits one transaction', async () => {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  const executor = await world.operator(10n * SOL);
  const requester = world.fund(5n * SOL);
  const b = await world.commitBatch(0, executor, P.sha(Buffer.from('honest output')), MAX_BATCH_JOBS, 1);
  const last = MAX_BATCH_JOBS - 1;
  world.must(await request(world, requester, b, last), 'request_data');
  const { res } = await answer(world, world.sequencer, b, last, P.postInputs(m.inputs));
  world.must(res, 'answer_data on the deepest job');
  console.log(`deepest answer_data: ${res.size} bytes (limit 1232), ${res.cu} CU`);
  assert.ok(res.size <= 1232);
});

test('request spam on an honest sequencer: every request costs the requester its deposit, which pays the answer; one request per job', async () => {
  const { world, requester, b, inputs } = await setup();
  const seq = world.sequencer;
  const seqBefore = world.balance(seq.publicKey);
  const reqBefore = world.balance(requester.publicKey);
  for (const j of [0, 1, 2]) world.must(await request(world, requester, b, j), `request_data ${j}`);
  // One request per job: a second on the same job is refused (its account exists).
  assert.equal((await request(world, requester, b, 1)).ok, false, 'duplicate request refused');
  assert.equal((await request(world, requester, b, 3)).error, 'JobIndexOutOfRange');
  let seqFees = 0n;
  for (const j of [0, 1, 2]) {
    const f = world.sender.feesBurned;
    world.must((await answer(world, seq, b, j, inputs)).res, `answer_data ${j}`);
    seqFees += world.sender.feesBurned - f;
  }
  assert.equal((await world.batch(0)).openRequests, 0);
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(requester, 0), 'finalize_batch');
  for (const j of [0, 1, 2])
    world.must(await attempt(world.client.closeDataRequest(seq, 0, j)), `close ${j}`);
  const seqNet = world.balance(seq.publicKey) - seqBefore;
  // The close fees were the sequencer's too (it signed them).
  assert.ok(seqNet > 0n, `the honest sequencer gains from answering spam (${seqNet} lamports)`);
  assert.ok(3n * answerPay(inputs.length) - seqFees > 0n);
  for (const j of [0, 1, 2]) world.must(await attempt(world.client.closeJob(seq, 0, j)), `close_job ${j}`);
  const reqCost = reqBefore - world.balance(requester.publicKey);
  // Its six transactions: three requests, the two refused, and the finalize.
  assert.equal(
    reqCost,
    3n * answerPay(inputs.length) + 6n * 5000n,
    `the spammer paid the answers' pay and its fees, the rest of its deposits returned at close (${reqCost} lamports)`,
  );
  console.log(
    `spam of 3 requests: requester paid ${reqCost}, sequencer netted ${seqNet} (answer fees ${seqFees})`,
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test("withhold and answer: a sequencer that serves nothing off chain and answers every demand is paid its answer's transaction fees (with headroom), not the whole deposit; the rest goes back to the requester at close", async () => {
  const { world, requester, b, inputs } = await setup();
  const seq = world.sequencer;
  const seqBefore = world.balance(seq.publicKey);
  const reqBefore = world.balance(requester.publicKey);
  world.must(await request(world, requester, b, 1), 'request_data');
  const fees0 = world.sender.feesBurned;
  const { res, txs } = await answer(world, seq, b, 1, inputs);
  world.must(res, 'answer_data');
  const answerFees = world.sender.feesBurned - fees0;
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(requester, 0), 'finalize_batch');
  world.must(await attempt(world.client.closeDataRequest(requester, 0, 1)), 'close_data_request');
  world.must(await attempt(world.client.closeJob(requester, 0, 1)), 'close_job');
  const seqGain = world.balance(seq.publicKey) - seqBefore;
  const reqCost = reqBefore - world.balance(requester.publicKey);
  const ev = res.events.find((e) => e.name === 'DataAnswered');
  const paid = ev?.name === 'DataAnswered' ? BigInt(ev.data.paid.toString()) : undefined;
  console.log(
    `withhold and answer (${inputs.length} input bytes, ${txs} transactions): sequencer netted ${seqGain} after ${answerFees} in fees; requester paid ${reqCost}; answer pay ${paid}`,
  );
  assert.equal(paid, answerPay(inputs.length), 'the answer is paid by its size (DataAnswered.paid)');
  assert.ok(paid! >= answerFees, `the pay (${paid}) covers the answer's fees (${answerFees})`);
  assert.ok(
    seqGain <= answerFees,
    `answering a demand it could have served off chain nets the sequencer at most its fees again (${seqGain} > ${answerFees}), not the ${DATA_REQUEST_DEPOSIT}-lamport deposit`,
  );
  // Three transactions of its own (request, finalize, two closes: four), and the pay.
  assert.equal(
    reqCost,
    paid! + 4n * 5000n,
    'the requester is out the pay and its own fees, the rest returned',
  );
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('late request: after the window, after finalization, or on an invalidated job, request_data is refused', async () => {
  const { world, requester, b, inputs } = await setup();
  world.warp(PARAMS.challengeWindow);
  assert.equal((await request(world, requester, b, 0)).error, 'WindowClosed');
  world.must(await world.finalize(requester, 0), 'finalize_batch');
  assert.equal((await request(world, requester, b, 0)).error, 'AlreadyFinalized');
  // Batch 1: job 1 invalidated by a timeout; a fresh request on it is refused.
  const executor = await world.operator(10n * SOL);
  const b1 = await world.commitBatch(1, executor, P.sha(Buffer.from('x')));
  world.must(await request(world, requester, b1, 1), 'request_data');
  world.warp(ANSWER_SLOTS);
  // The window of batch 1 (PARAMS.challengeWindow) is still open if longer than the answer time.
  world.must(await timeout(world, requester, b1, 1), 'claim_data_timeout');
  const again = await request(world, requester, b1, 1);
  assert.ok(again.error === 'JobInvalidated' || again.error === 'WindowClosed', String(again.error));
  void inputs;
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('posting bound: the largest input set (MAX_DATA_BYTES) is posted and checked within the answer time at 4 slots per transaction', async () => {
  const { world, executor, requester } = await setup();
  // Batch 1: one job whose input is a single uint8 tensor 'x' posting exactly 32 KiB.
  const n = 32 * 1024 - 17;
  const x: P.Tensor = { dtype: 2, dims: [n], bytes: Buffer.alloc(n, 5) };
  const big = P.postInputs([['x', x]]);
  assert.equal(big.length, 32 * 1024);
  const record = P.jobRecord({
    jobId: P.sha(Buffer.from('big job')),
    modelId: world.modelId,
    inputDigest: P.tensorSetDigest([['x', P.tensorDigest(x)]]),
    outputDigest: P.sha(Buffer.from('big output')),
    executor: executor.publicKey.toBytes(),
    fee: 1000n,
  });
  const signatures = [P.signRecord(record, executor.secretKey)];
  const levels = P.recordTree([record], signatures);
  world.must(
    await attempt(
      world.client.commitBatch(world.sequencer, {
        index: 1,
        root: P.batchRoot(levels),
        jobCount: 1,
        feeTotal: 1000n,
      }),
    ),
    'commit_batch',
  );
  const b: CommittedBatch = {
    index: 1,
    address: world.client.pdas.batch(1),
    records: [record],
    signatures,
    levels,
    res: world.txs[world.txs.length - 1],
  };
  world.must(await request(world, requester, b, 0), 'request_data');
  const before = world.sender.feesBurned;
  const { res, txs } = await answer(world, world.sequencer, b, 0, big);
  world.must(res, 'answer_data (32 KiB)');
  const fees = world.sender.feesBurned - before;
  const writes = Math.ceil(big.length / PROOF_WRITE_BYTES);
  const sizes = world.txs.slice(-txs).map((t) => t.size);
  console.log(
    `32 KiB answer: ${txs} transactions (init, ${writes} writes of ${PROOF_WRITE_BYTES} bytes, answer), largest ${Math.max(...sizes)} bytes; answer_data ${res.cu} CU; fees ${fees} lamports`,
  );
  assert.equal(txs, writes + 2);
  assert.ok(
    4 * txs <= DATA_ANSWER_SLOTS,
    `${txs} transactions at 4 slots each fit ${DATA_ANSWER_SLOTS} slots`,
  );
  assert.ok(fees < answerPay(big.length), `the pay (${answerPay(big.length)}) covers the answer fees`);
  assert.ok(answerPay(big.length) <= DATA_REQUEST_DEPOSIT, 'the deposit covers the largest answer');
  assert.ok(res.cu < 200_000, 'the check fits the default compute budget');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});
