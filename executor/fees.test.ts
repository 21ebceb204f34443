// The executor's fee claimer against the real program (LiteSVM) and a real LevelDB: what it claimed or gave up on survives a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import { pino } from 'pino';
import { LocalWorld, PARAMS } from '../settlement/testkit.ts';
import { feeClaimed } from '../settlement/accounts.ts';
import { claimsPerTransaction } from '../settlement/instructions.ts';
import { fromHex } from '../state/hash.ts';
import { Batch, jobId, signResult, type InclusionProof } from '../state/job.ts';
import type { BatchIndex, ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';
import { claimTxCost, FeeClaimer, type ClaimStore, type FeeClaimerDeps } from './fees.ts';
import { ResultStore } from './results.ts';

const SOL = 1_000_000_000n;
const MODEL = 'ab'.repeat(32) as ModelId;
const INPUT = 'cd'.repeat(32) as Hash32;

/** A chain with the program initialized and `executor` bonded. */
async function chain() {
  const w = new LocalWorld();
  await w.client.initialize(w.authority, w.params());
  const executor = w.fund();
  await w.client.bond(executor, 10n * SOL);
  return { w, executor };
}

/** Commits batch `index`: job j signed by executors[j] with fee fees[j]; returns its proofs by job id. */
async function commit(w: LocalWorld, index: number, executors: Keypair[], fees: bigint[]) {
  const records = executors.map((e, j) =>
    signResult(
      {
        jobId: jobId(index * 100 + j, MODEL, INPUT),
        modelId: MODEL,
        inputDigest: INPUT,
        outputDigest: Buffer.alloc(32, j + 1).toString('hex') as Hash32,
        executor: e.publicKey.toBase58() as ExecutorId,
        fee: fees[j],
      },
      e.secretKey,
    ),
  );
  const b = new Batch(index as BatchIndex, records);
  await w.client.commitBatch(w.sequencer, {
    index,
    root: fromHex(b.root, 32),
    jobCount: records.length,
    feeTotal: b.feeSum,
  });
  return new Map<JobId, InclusionProof>(records.map((r, j) => [r.jobId, b.proof(j)]));
}

/** A claimer over `store`, counting its claim transactions and keeping its log lines. */
function claimer(
  w: LocalWorld,
  executor: Keypair,
  ids: JobId[],
  proofs: (id: JobId) => Promise<InclusionProof | undefined>,
  store: ClaimStore,
  over: Partial<FeeClaimerDeps> = {},
) {
  const logs: { msg: string; lamports?: string }[] = [];
  const sent = { txs: 0 };
  const client = Object.create(w.client) as typeof w.client;
  client.claimFees = (...a) => {
    sent.txs++;
    return w.client.claimFees(...a);
  };
  const c = new FeeClaimer({
    client,
    keypair: executor,
    jobIds: async () => ids,
    proofs,
    store,
    log: pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l)) }),
    ...over,
  });
  return { c, logs, sent };
}

test('restart: a restarted claimer sends no claim twice, reports nothing it was paid as lost, and claims what is due from its stored proofs after the sequencer is gone', async () => {
  const { w, executor } = await chain();
  const other = w.fund();
  const p0 = await commit(w, 0, [executor, executor, other, executor], [10_000n, 20_000n, 15_000n, 30_000n]);
  const p1 = await commit(w, 1, [executor, executor], [12_000n, 14_000n]);
  const proofs = new Map([...p0, ...p1]);
  const ids = [...proofs.keys()];
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-fees-'));

  // First run: learns every job before finalization, then claims batch 0 once it is final.
  let results = await ResultStore.open(dir);
  const a = claimer(w, executor, ids, async (id) => proofs.get(id), results.claimStore());
  assert.equal(await a.c.pass(), 0n, 'nothing to claim before finalization');
  assert.deepEqual(
    (await a.c.summary()).due,
    { jobs: 5, lamports: 86_000n },
    "the executor's five jobs are due; the other's is not counted",
  );
  w.sender.warp(PARAMS.challengeWindow);
  await w.client.finalizeBatch(w.sequencer, 0);
  const before = await w.sender.getBalance(executor.publicKey);
  assert.equal(await a.c.pass(), 60_000n, 'batch 0: jobs 0, 1 and 3');
  const txs = Math.ceil(3 / claimsPerTransaction(4, false));
  assert.equal(a.sent.txs, txs, 'claims batched per transaction');
  assert.equal(await w.sender.getBalance(executor.publicKey), before + 60_000n - BigInt(txs) * 5000n);
  await results.close();

  // While it is down: batch 0 closes (its rent and nothing else back to the sequencer), batch 1 finalizes.
  w.sender.warp(PARAMS.challengeWindow);
  await w.client.closeBatch(w.sequencer, 0);
  await w.client.finalizeBatch(w.sequencer, 1);
  assert.equal((await w.client.batchState(0)).state, 'closed');

  // Second run: the sequencer serves no proof any more.
  results = await ResultStore.open(dir);
  let asked = 0;
  const b = claimer(
    w,
    executor,
    ids,
    async () => {
      asked++;
      return undefined;
    },
    results.claimStore(),
  );
  assert.equal(await b.c.pass(), 26_000n, "batch 1's two jobs, from the stored proofs");
  assert.equal(b.sent.txs, 1, 'one transaction: nothing of batch 0 sent again');
  assert.equal(asked, 1, "only the other executor's job is asked again (a re-run could come back)");
  assert.deepEqual(
    b.logs.filter((l) => l.msg.startsWith('fees lost')),
    [],
    'the closed batch 0 was paid: nothing reported lost',
  );
  const s = await b.c.summary();
  assert.deepEqual(s.claimed, { jobs: 5, lamports: 86_000n });
  assert.deepEqual(s.due, { jobs: 0, lamports: 0n });
  assert.deepEqual(s.lost, { jobs: 0, lamports: 0n });
  assert.equal((await w.client.fetchOperator(executor.publicKey))!.feesEarned, 86_000n);
  assert.equal(await b.c.pass(), 0n, 'a further pass claims nothing');
  assert.equal(b.sent.txs, 1, 'and sends nothing');
  await results.close();
  assert.equal(w.unaccountedLamports(), 0n);
});

test('restart: a claim confirmed on chain whose write was lost is recorded claimed from the claim bitmap, never sent again', async () => {
  const { w, executor } = await chain();
  const proofs = await commit(w, 0, [executor, executor], [20_000n, 20_000n]);
  const ids = [...proofs.keys()];
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-fees-'));
  let results = await ResultStore.open(dir);
  const real = results.claimStore();
  // The process dies between the claim's confirmation and its write.
  const failing: ClaimStore = {
    load: real.load,
    save: async (list) => {
      if (list.some(([, e]) => e.state === 'claimed')) throw new Error('killed');
      return real.save(list);
    },
  };
  const a = claimer(w, executor, ids, async (id) => proofs.get(id), failing);
  await a.c.pass();
  w.sender.warp(PARAMS.challengeWindow);
  await w.client.finalizeBatch(w.sequencer, 0);
  assert.equal(await a.c.pass(), 40_000n);
  assert.equal(a.sent.txs, 1);
  assert.ok(a.logs.some((l) => l.msg.startsWith('claimed fees not recorded')));
  await results.close();

  results = await ResultStore.open(dir);
  const b = claimer(w, executor, ids, async (id) => proofs.get(id), results.claimStore());
  assert.equal((await b.c.summary()).due.jobs, 2, 'still due on disk');
  assert.equal(await b.c.pass(), 0n);
  assert.equal(b.sent.txs, 0, 'the bitmap shows them paid: nothing sent');
  const data = (await w.sender.getAccountData(w.client.pdas.batch(0)))!;
  assert.deepEqual([feeClaimed(data, 0), feeClaimed(data, 1)], [true, true]);
  assert.deepEqual((await b.c.summary()).claimed, { jobs: 2, lamports: 40_000n });
  await results.close();
  assert.equal(w.unaccountedLamports(), 0n);
});

test('uneconomic claim: jobs whose fees would not pay the claim transaction are skipped, logged with the figures, and stay skipped after a restart', async () => {
  const { w, executor } = await chain();
  const cost = claimTxCost(w.client);
  assert.equal(cost, 5000n, 'one signature, no priority fee');
  // Batch 0 at the old default fee: two 1,000-lamport jobs would cost 5,000 to claim.
  const p0 = await commit(w, 0, [executor, executor], [1_000n, 1_000n]);
  // Batch 1: the largest fees go first; the claims that pay are sent, the job left over alone is not.
  const fees1 = [1_000n, 9_000n, 1_000n, 1_000n];
  const p1 = await commit(w, 1, [executor, executor, executor, executor], fees1);
  const per = claimsPerTransaction(4, false);
  const proofs = new Map([...p0, ...p1]);
  const ids = [...proofs.keys()];
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-fees-'));
  let results = await ResultStore.open(dir);
  const a = claimer(w, executor, ids, async (id) => proofs.get(id), results.claimStore(), {
    txCost: () => cost,
  });
  w.sender.warp(PARAMS.challengeWindow);
  await w.client.finalizeBatch(w.sequencer, 0);
  await w.client.finalizeBatch(w.sequencer, 1);
  const before = await w.sender.getBalance(executor.publicKey);
  const sorted = [...fees1].sort((x, y) => Number(y - x));
  const claimed = sorted.slice(0, per).reduce((s, f) => s + f, 0n);
  const skipped = sorted.slice(per).reduce((s, f) => s + f, 0n);
  assert.ok(claimed >= cost && skipped < cost, 'the fixture: one claim pays, the rest does not');
  assert.equal(await a.c.pass(), claimed);
  assert.equal(a.sent.txs, 1, 'only the claim that pays for itself is sent');
  assert.equal(await w.sender.getBalance(executor.publicKey), before + claimed - cost, 'the executor gained');
  const skips = (a.logs as Record<string, unknown>[])
    .filter((l) => l.msg === 'fees not claimed: a claim transaction would cost more than the fees it carries')
    .map(({ batch, jobs, lamports, claimFees, txCost, claimsPerTx }) => ({
      batch,
      jobs,
      lamports,
      claimFees,
      txCost,
      claimsPerTx,
    }));
  assert.deepEqual(
    skips,
    [
      {
        batch: 0,
        jobs: 2,
        lamports: '2000',
        claimFees: '2000',
        txCost: '5000',
        claimsPerTx: claimsPerTransaction(2, false),
      },
      {
        batch: 1,
        jobs: 4 - per,
        lamports: skipped.toString(),
        claimFees: skipped.toString(),
        txCost: '5000',
        claimsPerTx: per,
      },
    ],
    'each skip logged once, with the fees and the cost',
  );
  assert.deepEqual((await a.c.summary()).skipped, { jobs: 2 + 4 - per, lamports: 2000n + skipped });
  await results.close();

  results = await ResultStore.open(dir);
  const b = claimer(w, executor, ids, async (id) => proofs.get(id), results.claimStore(), {
    txCost: () => cost,
  });
  assert.equal(await b.c.pass(), 0n);
  assert.equal(b.sent.txs, 0);
  assert.deepEqual(b.logs, [], 'a skip is decided once, not logged again at every pass');
  assert.deepEqual((await b.c.summary()).claimed, { jobs: per, lamports: claimed });
  await results.close();
  assert.equal(w.unaccountedLamports(), 0n);
});
