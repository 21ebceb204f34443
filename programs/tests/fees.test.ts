// Executor pay (issue 14): the sequencer escrows a batch's fees at commit; each executor claims its valid jobs' fees after finalization.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair, Transaction, type PublicKey } from '@solana/web3.js';
import { World, PARAMS, attempt, type CommittedBatch, type TxResult } from './lib/game.ts';
import { mlpModel } from './lib/model.ts';
import * as P from './lib/protocol.ts';
import { pino } from 'pino';
import { claimsPerTransaction, type FeeClaim } from '../../settlement/instructions.ts';
import { feeClaimed } from '../../settlement/accounts.ts';
import { FeeClaimer } from '../../executor/fees.ts';
import type { InclusionProof } from '../../state/job.ts';
import type { JobId } from '../../state/types.ts';

const SOL = 1_000_000_000n;
const FEE = 1000n;
/** Bytes of a Batch account before its claim bitmap: discriminator and fields (state/batch.rs CLAIM_BITS_OFFSET). */
const BATCH_HEADER_BYTES = 173;
/** Rent-exempt minimum of an account of `bytes` data bytes (the runtime's default rent). */
const rentFor = (bytes: number) => BigInt(128 + bytes) * 6960n;
/** Rent of a 3-job batch: its header and a one-byte claim bitmap. */
const BATCH3_RENT = rentFor(BATCH_HEADER_BYTES + 1);
/** The batch's fault reserve: one fault slash the sequencer moves in at commit, back at close_batch. */
const RESERVE = PARAMS.minExecutorBond;
/** Game slots from commit until close_batch is accepted: the window, then one more (CLOSE_GRACE_WINDOWS). */
const CLOSE_AFTER = 2n * PARAMS.challengeWindow;

/**
 * Commits batch `index` of `executors.length` records, record j signed by executors[j] with fee `fees[j]`
 * (FEE by default); the sequencer escrows `feeTotal` (by default the sum of the fees).
 */
async function commitRecords(
  world: World,
  index: number,
  executors: Keypair[],
  opts: { fees?: bigint[]; feeTotal?: bigint } = {},
): Promise<CommittedBatch> {
  const fees = opts.fees ?? executors.map(() => FEE);
  const records = executors.map((e, j) =>
    P.jobRecord({
      jobId: P.sha(Buffer.from([7]), P.u64(index * 100 + j)),
      modelId: world.modelId,
      inputDigest: world.inputDigest(),
      outputDigest: P.sha(Buffer.from(`out ${j}`)),
      executor: e.publicKey.toBytes(),
      fee: fees[j],
    }),
  );
  const signatures = records.map((r, j) => P.signRecord(r, executors[j].secretKey));
  const levels = P.recordTree(records, signatures);
  const feeTotal = opts.feeTotal ?? fees.reduce((s, f) => s + f, 0n);
  const res = world.must(
    await attempt(
      world.client.commitBatch(world.sequencer, {
        index,
        root: P.batchRoot(levels),
        jobCount: records.length,
        feeTotal,
      }),
    ),
    'commit_batch',
  );
  return { index, address: world.client.pdas.batch(index), records, signatures, levels, res };
}

/** The claims of jobs `jobs` of `b`, with their own records, signatures and proofs. */
const claimsOf = (b: CommittedBatch, jobs: number[]): FeeClaim[] =>
  jobs.map((j) => ({
    jobIndex: j,
    record: b.records[j],
    signature: b.signatures[j],
    ...P.batchProof(b.levels, j),
  }));

const claim = (world: World, by: Keypair, b: CommittedBatch, jobs: number[]): Promise<TxResult> =>
  attempt(world.client.claimFees(by, b.index, claimsOf(b, jobs)));

/** Passes the window and finalizes batch `index`. */
async function finalize(world: World, index: number) {
  world.warp(PARAMS.challengeWindow);
  world.must(await world.finalize(world.fund(), index), 'finalize_batch');
}

/** A world with the mlp model registered and an executor with 10 SOL bonded. */
async function setup() {
  const world = new World();
  await world.init();
  await world.registerModel(mlpModel());
  const e = await world.operator(10n * SOL);
  return { world, e };
}

/** What `k` gained from a transaction it paid the fee of (5000 lamports per signature). */
const gained = (world: World, k: PublicKey, before: bigint) => world.balance(k) - before + 5000n;

test('honest pay: the executor claims its three jobs in one transaction; escrow, rent and lamports add up to the lamport', async () => {
  const { world, e } = await setup();
  const seqBefore = world.balance(world.sequencer.publicKey);
  const b = await commitRecords(world, 0, [e, e, e]);
  const rent = BATCH3_RENT;
  assert.equal(
    world.sender.accountData(b.address)?.length,
    BATCH_HEADER_BYTES + 1,
    'batch sized for 3 claim bits',
  );
  assert.equal(
    world.balance(b.address),
    rent + 3n * FEE + RESERVE,
    'batch holds its rent, the escrow and the reserve',
  );
  assert.equal((await world.batch(0)).feeTotal, 3n * FEE);
  await finalize(world, 0);
  const before = world.balance(e.publicKey);
  const r = world.must(await claim(world, e, b, [0, 1, 2]), 'claim_fees');
  console.log(`claim_fees, 3 jobs of a 3-job batch: ${r.cu} CU, ${r.size} bytes`);
  assert.equal(gained(world, e.publicKey, before), 3n * FEE, 'executor paid every fee');
  assert.equal(world.balance(b.address), rent + RESERVE, 'escrow spent, rent and reserve left');
  const op = await world.operatorOf(e.publicKey);
  assert.equal(op.feesEarned, 3n * FEE);
  assert.equal(op.bonded, 10n * SOL, 'bond untouched');
  assert.equal((await world.batch(0)).feesClaimed, 3n * FEE);
  const ev = r.events.find((x) => x.name === 'FeesClaimed');
  assert.ok(ev, 'FeesClaimed event');
  assert.equal(world.unaccountedLamports(), 0n);
  // close_batch after the grace returns the rent and the reserve: the sequencer spent exactly the fees (and tx fees).
  world.warp(CLOSE_AFTER);
  world.must(await attempt(world.client.closeBatch(world.fund(), 0)), 'close_batch');
  const seqSpent = seqBefore - world.balance(world.sequencer.publicKey);
  const seqOp = await world.operatorOf(world.sequencer.publicKey);
  const opRent = rentFor(
    world.sender.accountData(world.client.pdas.operator(world.sequencer.publicKey))!.length,
  );
  // The sequencer's commit also bonded one fault slash (its Operator's bond and rent).
  assert.equal(
    seqSpent,
    3n * FEE + seqOp.bonded + opRent + 5000n,
    'sequencer paid the fees, nothing else kept',
  );
  assert.equal(world.unaccountedLamports(), 0n);
});

test('double claim: a job whose fee was paid is refused, in a later transaction and twice in one', async () => {
  const { world, e } = await setup();
  const b = await commitRecords(world, 0, [e, e, e]);
  await finalize(world, 0);
  world.must(await claim(world, e, b, [0]), 'claim job 0');
  const before = world.balance(e.publicKey);
  assert.equal((await claim(world, e, b, [0])).error, 'FeeAlreadyClaimed');
  assert.equal((await claim(world, e, b, [1, 2, 1])).error, 'FeeAlreadyClaimed');
  assert.ok(world.balance(e.publicKey) <= before, 'nothing paid twice');
  assert.equal((await world.batch(0)).feesClaimed, FEE);
  assert.equal((await world.operatorOf(e.publicKey)).feesEarned, FEE);
  world.must(await claim(world, e, b, [1, 2]), 'the other jobs still pay');
  assert.equal(world.balance(b.address), BATCH3_RENT + RESERVE);
  assert.equal(world.unaccountedLamports(), 0n);
});

test('invalidated job: its fee is refused to its executor and goes back to the sequencer at close', async () => {
  const { world, e } = await setup();
  // Job 1 names a key that never bonded: a record fault, proven inside the window, invalidates it.
  const ghost = world.fund();
  const prover = await world.operator(5n * SOL);
  const b = await commitRecords(world, 0, [e, ghost, e]);
  world.must(await world.proveFault(prover, b, 1), 'prove_record_fault');
  await finalize(world, 0);
  assert.equal((await claim(world, ghost, b, [1])).error, 'JobInvalidated');
  // Leaving the Job account out (or naming another job's) does not get around it.
  const bare = world.client.ix.claimFees({
    executor: ghost.publicKey,
    batchIndex: 0,
    claims: claimsOf(b, [1]),
    withJobs: false,
  });
  assert.equal((await world.sendRaw([bare], [ghost])).error, 'ClaimJobAccounts');
  const wrong = world.client.ix.claimFees({
    executor: ghost.publicKey,
    batchIndex: 0,
    claims: claimsOf(b, [1]),
    withJobs: true,
  });
  wrong.keys[wrong.keys.length - 1].pubkey = world.client.pdas.job(b.address, 0);
  assert.equal((await world.sendRaw([wrong], [ghost])).error, 'ClaimJobAccounts');
  // The honest executor's valid jobs still pay (their Job addresses hold no account).
  const before = world.balance(e.publicKey);
  world.must(await claim(world, e, b, [0, 2]), 'claim the valid jobs');
  assert.equal(gained(world, e.publicKey, before), 2n * FEE);
  // close_batch returns the rent and the invalidated job's fee to the sequencer.
  const rent = BATCH3_RENT;
  assert.equal(world.balance(b.address), rent + FEE);
  world.warp(CLOSE_AFTER);
  const seq = world.balance(world.sequencer.publicKey);
  world.must(await attempt(world.client.closeBatch(world.fund(), 0)), 'close_batch');
  assert.equal(world.balance(world.sequencer.publicKey) - seq, rent + FEE);
  assert.equal(world.unaccountedLamports(), 0n);
});

test("claim theft: a key that is not the record's executor is refused, with the record as committed or rewritten", async () => {
  const { world, e } = await setup();
  const thief = await world.operator(10n * SOL);
  const b = await commitRecords(world, 0, [e, e, e]);
  await finalize(world, 0);
  assert.equal((await claim(world, thief, b, [0])).error, 'NotRecordExecutor');
  // The record rewritten to name the thief no longer opens the root.
  const forged = Buffer.from(b.records[0]);
  thief.publicKey.toBuffer().copy(forged, 128);
  const res = await attempt(
    world.client.claimFees(thief, 0, [
      { jobIndex: 0, record: forged, signature: b.signatures[0], ...P.batchProof(b.levels, 0) },
    ]),
  );
  assert.equal(res.error, 'InvalidProof');
  // Another job's proof for this index does not open it either.
  const swapped = await attempt(
    world.client.claimFees(e, 0, [
      { jobIndex: 2, record: b.records[0], signature: b.signatures[0], ...P.batchProof(b.levels, 0) },
    ]),
  );
  assert.equal(swapped.error, 'InvalidProof');
  assert.equal((await world.batch(0)).feesClaimed, 0n);
  assert.equal((await world.operatorOf(thief.publicKey)).feesEarned, 0n);
  const before = world.balance(e.publicKey);
  world.must(await claim(world, e, b, [0, 1, 2]), 'the executor is still paid');
  assert.equal(gained(world, e.publicKey, before), 3n * FEE);
  assert.equal(world.unaccountedLamports(), 0n);
});

test('early claim: claim_fees before finalization is refused, in the window and after it', async () => {
  const { world, e } = await setup();
  const b = await commitRecords(world, 0, [e, e, e]);
  assert.equal((await claim(world, e, b, [0])).error, 'BatchNotFinalized');
  world.warp(PARAMS.challengeWindow);
  assert.equal((await claim(world, e, b, [0])).error, 'BatchNotFinalized');
  world.must(await world.finalize(world.fund(), 0), 'finalize_batch');
  world.must(await claim(world, e, b, [0]), 'claim once final');
  assert.equal(world.unaccountedLamports(), 0n);
});

test("short escrow: a batch tree summing past the escrow pays no executor (EscrowShort, nothing marked claimed); proven once, after finalization too, the sequencer is slashed one fault slash (the batch's reserve), the shortfall is topped up from its bond (every claim then pays), a bounty to the prover, and no job is invalidated", async () => {
  const { world, e } = await setup();
  // Bonded one fault slash and a little more: a top-up never takes the last slash.
  world.must(
    await attempt(world.client.bond(world.sequencer, PARAMS.minExecutorBond + SOL)),
    'sequencer bond',
  );
  const b = await commitRecords(world, 0, [e, e, e], { fees: [FEE, 5n * FEE, FEE], feeTotal: FEE });
  const seqBefore = await world.operatorOf(world.sequencer.publicKey);
  await finalize(world, 0);
  const before = world.balance(e.publicKey);
  const refused = await claim(world, e, b, [2]);
  assert.equal(refused.error, 'EscrowShort', 'no claim on a short batch');
  assert.equal(world.balance(e.publicKey), before - 5000n, 'nothing paid but the transaction fee');
  assert.equal(feeClaimed((await world.sender.getAccountData(b.address))!, 2), false, 'the bit stays unset');
  // The executor proves it after finalization, from any job's opening.
  const r = world.must(await world.proveShortEscrow(e, b, 2), 'prove_short_escrow');
  const ev = r.events.find((x) => x.name === 'EscrowShortProven')?.data as
    { bounty: bigint; feeSum: bigint; feeTotal: bigint; toppedUp: bigint } | undefined;
  assert.equal(ev?.feeSum, 7n * FEE);
  assert.equal(ev?.feeTotal, FEE);
  assert.equal(ev?.toppedUp, 6n * FEE, 'the shortfall, from the reserve');
  const slashed = r.events.find((x) => x.name === 'Slashed')?.data as { amount: bigint };
  assert.equal(slashed.amount, PARAMS.minExecutorBond, 'one fault slash');
  const seq = await world.operatorOf(world.sequencer.publicKey);
  // The reserve covered the shortfall and most of the slash; the bond gave what it no longer held.
  assert.equal(seq.bonded, seqBefore.bonded - 6n * FEE, 'the rest of the slash from the bond');
  assert.equal((await world.batch(0)).faultReserve, 0n);
  assert.equal((await world.batch(0)).feeTotal, 7n * FEE, 'the escrow reaches the sum');
  assert.ok(ev!.bounty > 7n * FEE, 'the bounty is more than the fees the batch left unpaid');
  assert.equal(world.balance(e.publicKey) - before + 10_000n, ev!.bounty, 'the prover is paid it');
  assert.equal((await world.batch(0)).escrowShort, 1);
  assert.equal((await world.batch(0)).invalidated, 0, 'no job is invalidated: the results stand');
  assert.equal((await world.proveShortEscrow(e, b, 0)).error, 'NoRecordFault', 'topped up: no longer short');
  assert.equal(world.balance(b.address), BATCH3_RENT + 7n * FEE, 'the escrow is whole');
  const paid = world.balance(e.publicKey);
  world.must(await claim(world, e, b, [0, 1]), 'claims pay once topped up');
  world.must(await claim(world, e, b, [2]), 'claim job 2');
  assert.equal(world.balance(e.publicKey) - paid + 10_000n, 7n * FEE, 'every fee paid');
  assert.equal(world.unaccountedLamports(), 0n);
});

test("short escrow, none: a batch escrowing its tree's whole fee sum is no fault (NoRecordFault), and one escrowing more pays every claim", async () => {
  const { world, e } = await setup();
  const prover = await world.operator(SOL);
  const b = await commitRecords(world, 0, [e, e, e]);
  assert.equal((await world.proveShortEscrow(prover, b, 0)).error, 'NoRecordFault');
  const over = await commitRecords(world, 1, [e, e, e], { feeTotal: 4n * FEE });
  assert.equal((await world.proveShortEscrow(prover, over, 0)).error, 'NoRecordFault');
  await finalize(world, 1);
  const before = world.balance(e.publicKey);
  world.must(await claim(world, e, over, [0, 1]), 'claim jobs 0 and 1');
  world.must(await claim(world, e, over, [2]), 'claim job 2');
  assert.equal(world.balance(e.publicKey) - before + 10000n, 3n * FEE, 'paid in full');
  assert.equal(
    world.balance(over.address),
    BATCH3_RENT + FEE + RESERVE,
    'the extra escrow waits for close_batch',
  );
  assert.equal(world.unaccountedLamports(), 0n);
});

test('late claim: after close_batch the batch pays nothing (executors claim within the grace)', async () => {
  const { world, e } = await setup();
  const b = await commitRecords(world, 0, [e, e, e]);
  await finalize(world, 0);
  world.must(await claim(world, e, b, [0]), 'claim job 0 in time');
  world.warp(CLOSE_AFTER);
  const seq = world.balance(world.sequencer.publicKey);
  world.must(await attempt(world.client.closeBatch(world.fund(), 0)), 'close_batch');
  const rent = BATCH3_RENT;
  assert.equal(
    world.balance(world.sequencer.publicKey) - seq,
    rent + 2n * FEE + RESERVE,
    'unclaimed fees and the reserve back to the sequencer',
  );
  const ix = world.client.ix.claimFees({
    executor: e.publicKey,
    batchIndex: 0,
    claims: claimsOf(b, [1]),
    withJobs: false,
  });
  const before = world.balance(e.publicKey);
  const res = await world.sendRaw([ix], [e]);
  assert.equal(res.ok, false, 'claim on a closed batch refused');
  console.log(`claim after close_batch: refused with ${res.error}`);
  assert.ok(world.balance(e.publicKey) <= before);
  assert.equal(world.unaccountedLamports(), 0n);
});

/** Bytes of a one-signature transaction of `ix` (the 1232-byte limit applies to it). */
function txBytes(world: World, ix: ReturnType<World['client']['ix']['claimFees']>, payer: Keypair): number {
  const tx = new Transaction().add(ix);
  tx.feePayer = payer.publicKey;
  tx.recentBlockhash = Keypair.generate().publicKey.toBase58();
  tx.sign(payer);
  return tx.serialize({ requireAllSignatures: false, verifySignatures: false }).length;
}

test('claims per transaction: how many jobs one claim_fees fits in 1232 bytes, by batch size', async () => {
  const { world, e } = await setup();
  const rows: Record<string, string | number>[] = [];
  let index = 0;
  for (const jobs of [8, 64, 512, 1024]) {
    const b = await commitRecords(
      world,
      index,
      Array.from({ length: jobs }, () => e),
    );
    for (const withJobs of [false, true]) {
      let fit = 0;
      for (let k = 1; k <= 8; k++) {
        let size = Infinity;
        try {
          const ix = world.client.ix.claimFees({
            executor: e.publicKey,
            batchIndex: index,
            claims: claimsOf(b, [...Array(k).keys()]),
            withJobs,
          });
          size = txBytes(world, ix, e);
        } catch {
          // past the coder's 1000-byte data buffer, or web3.js refuses to serialize past the limit
        }
        if (size > 1232) break;
        fit = k;
      }
      rows.push({ jobs, 'Job accounts passed': withJobs ? 'yes' : 'no', 'claims per tx': fit });
      assert.equal(
        claimsPerTransaction(jobs, withJobs),
        fit,
        `client's claimsPerTransaction(${jobs}, ${withJobs})`,
      );
    }
    if (jobs === 64) {
      // Figures for one full transaction on a 64-job batch.
      world.warp(PARAMS.challengeWindow);
      world.must(await world.finalize(world.fund(), index), 'finalize');
      const r = world.must(await claim(world, e, b, [0, 1]), 'claim 2 jobs');
      console.log(`claim_fees of 2 jobs (64-job batch): ${r.cu} CU, ${r.size} bytes`);
    }
    index++;
  }
  console.table(rows);
  const rent = (n: number) => rentFor(BATCH_HEADER_BYTES + Math.ceil(n / 8));
  console.log(
    `claim bitmap rent: ${rent(64) - rent(0)} lamports per 64-job batch (${Number(rent(1024) - rent(0)) / 1024} per job at 1024), returned by close_batch`,
  );
  assert.ok(
    rows.every((r) => Number(r['claims per tx']) >= 1),
    'every batch size fits one claim',
  );
});

test("auto-claim: the executor role claims its finalized jobs, skips claimed, invalidated and others' jobs, and logs what it earns", async () => {
  const { world, e } = await setup();
  const ghost = world.fund();
  const prover = await world.operator(5n * SOL);
  const b = await commitRecords(world, 0, [e, e, ghost, e, e]);
  // Job 2 names an unbonded key: proven a record fault, so invalidated.
  world.must(await world.proveFault(prover, b, 2), 'prove_record_fault');
  const ids = b.records.map((_, j) => `job-${j}` as JobId);
  const proofs = new Map<JobId, InclusionProof>(
    ids.map((id, j) => [
      id,
      {
        batchIndex: 0 as never,
        batchRoot: P.batchRoot(b.levels).toString('hex') as never,
        jobCount: b.records.length,
        index: j,
        record: b.records[j].toString('hex'),
        signature: b.signatures[j].toString('hex'),
        siblings: P.batchProof(b.levels, j).siblings.map((x) => x.toString('hex') as never),
        siblingFees: P.batchProof(b.levels, j).siblingFees.map(String),
        feeSum: P.batchFees(b.levels).toString(),
      },
    ]),
  );
  const logs: { msg: string; lamports?: string }[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const claimer = new FeeClaimer({
    client: world.client,
    keypair: e,
    jobIds: async () => ids,
    proofs: async (id) => proofs.get(id),
    log,
  });
  assert.equal(await claimer.pass(), 0n, 'nothing to claim before finalization');
  await finalize(world, 0);
  world.must(await claim(world, e, b, [0]), 'job 0 claimed by hand first');
  const before = world.balance(e.publicKey);
  const txs = world.txs.length;
  assert.equal(await claimer.pass(), 3n * FEE, 'jobs 1, 3 and 4');
  const sent = world.txs.length - txs;
  assert.equal(sent, Math.ceil(3 / claimsPerTransaction(5, true)), 'claims batched per transaction');
  assert.equal(world.balance(e.publicKey) - before, 3n * FEE - 5000n * BigInt(sent));
  const data = world.sender.accountData(b.address)!;
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((j) => feeClaimed(data, j)),
    [true, true, false, true, true],
    'claim bitmap as the client reads it',
  );
  const claimedLogs = logs.filter((l) => l.msg === 'fees claimed');
  assert.equal(
    claimedLogs.reduce((s, l) => s + BigInt(l.lamports ?? 0), 0n),
    3n * FEE,
    'every payment logged',
  );
  assert.equal(await claimer.pass(), 0n, 'a second pass claims nothing');
  assert.equal(world.txs.length - txs, sent, 'and sends nothing');
  assert.equal(claimer.earned, 3n * FEE);
  assert.equal((await world.operatorOf(e.publicKey)).feesEarned, 4n * FEE);
  assert.equal(world.unaccountedLamports(), 0n);
});
