// The challenger's retry policy for findings: which refusals keep a finding pending, and the pass that opens it once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair, PublicKey } from '@solana/web3.js';
import { createMemoryBus } from '../bus/memory.ts';
import { ModelRegistry } from '../executor/model.ts';
import { Store } from '../state/store.ts';
import type { BatchIndex, ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';
import type { DisputeAccount, SettlementClient } from '../settlement/index.ts';
import * as rules from '../dispute/rules.ts';
import { label, toyBatch, toyConfig, toyDispute, toyModel, toyOperator } from '../dispute/testkit.ts';
import { Challenger } from './challenger.ts';
import type { Finding } from './findings.ts';
import { UNCOMMITTED_GRACE_MS, afterAttempt, pendingKey, type PendingFinding } from './pending.ts';
import type { JobSource } from './source.ts';

const ME = Keypair.generate().publicKey;
const job = {
  batch: PublicKey.default,
  payer: PublicKey.default,
  executorStake: 5n,
  jobIndex: 1,
  openGames: 0,
  invalidated: 0,
  bump: 255,
};

/** The refusal a rule gives, asserting it refused. */
function refusal(v: rules.Verdict): rules.Refusal {
  assert.equal(v.ok, false, 'expected a refusal');
  return v as rules.Refusal;
}

test('retry policy: refusals for now keep the finding pending, with the reason', () => {
  const paused = refusal(rules.windowIsOpen(toyBatch(), toyConfig({ paused: 1 }), 1050n, 0));
  assert.deepEqual(afterAttempt(paused, 5_000), {
    retry: true,
    why: 'the program is paused: batch 0 cannot be disputed until it resumes',
  });
  const loading = refusal(rules.modelIsLoaded(toyModel({ opsLoaded: 7 }), 'ab'));
  assert.equal(afterAttempt(loading, 5_000).retry, true);
  assert.equal(afterAttempt(refusal(rules.modelIsLoaded(null, 'ab')), 5_000).retry, true);
  const lagging = refusal(rules.batchIsCommitted(null, { batchIndex: 3, batchRoot: 'aa' }));
  assert.equal(afterAttempt(lagging, 5_000).retry, true);
  // RPC errors, a failed bond deposit, a failed or unconfirmed open transaction: all retried.
  for (const e of ['fetch failed', 'insufficient funds for the bond deposit', 'block height exceeded'])
    assert.deepEqual(afterAttempt(new Error(e), 5_000), { retry: true, why: e });
});

test('retry policy: final refusals end the finding', () => {
  const final: rules.Refusal[] = [
    refusal(rules.refereeCanDecide({ provable: false, modelId: 'ab' })),
    refusal(rules.batchIsCommitted(toyBatch({ root: label('other') }), { batchIndex: 0, batchRoot: 'aa' })),
    // The window closed in game time, and a finalized batch (paused or not).
    refusal(rules.windowIsOpen(toyBatch(), toyConfig(), 1100n, 0)),
    refusal(rules.windowIsOpen(toyBatch({ finalized: 1 }), toyConfig({ paused: 1 }), 1050n, 0)),
    // This challenger's own game already exists: a second open is never sent, and the role does not spin.
    refusal(rules.notDisputedYet(toyDispute())),
    refusal(rules.jobNotInvalidated({ ...job, invalidated: 1 })),
    refusal(rules.neverCounterYourself(ME.toBase58(), ME)),
  ];
  for (const r of final) assert.deepEqual(afterAttempt(r, 5_000), { retry: false, why: r.reason }, r.rule);
});

test('retry policy: a batch never seen on chain is given up after the grace period', () => {
  const lagging = refusal(rules.batchIsCommitted(null, { batchIndex: 3, batchRoot: 'aa' }));
  assert.equal(afterAttempt(lagging, UNCOMMITTED_GRACE_MS - 1).retry, true);
  const gone = afterAttempt(lagging, UNCOMMITTED_GRACE_MS);
  assert.equal(gone.retry, false);
  assert.match(gone.why, /batch 3 is not committed on chain after 600 s/);
});

// ---- the pass, against a toy chain ----------------------------------------------------------------

/** The chain as the challenger reads it: one batch (0, open until slot 1100), one job, its own game if opened. */
class ToyChain {
  paused = 0;
  slot = 1050n;
  invalidated = 0;
  mine: DisputeAccount | null = null;
  opens = 0;
  /** The next open lands on chain but its confirmation is lost (the client throws). */
  loseConfirmation = false;
  /** Keys with no Operator account (a record naming one is a record fault). */
  unbonded = new Set<string>();
  faults: { jobIndex: number; kind: string }[] = [];

  client(): SettlementClient {
    const c = {
      sender: { getSlot: async () => this.slot },
      config: async () => toyConfig({ paused: this.paused, pauseStart: this.paused ? 1040n : 0n }),
      fetchBatch: async () => toyBatch(),
      listBatches: async () => [{ address: Keypair.generate().publicKey, batch: toyBatch() }],
      fetchModel: async () => toyModel(),
      fetchDispute: async () => this.mine,
      fetchJob: async () => ({ ...job, invalidated: this.invalidated }),
      fetchOperator: async (owner: PublicKey) =>
        this.unbonded.has(owner.toBase58()) ? null : toyOperator({ owner, bonded: 10n }),
      proveRecordFault: async (_: unknown, p: { jobIndex: number; kind: string }) => {
        this.faults.push({ jobIndex: p.jobIndex, kind: p.kind });
        this.invalidated = 1;
        return { events: [{ name: 'RecordFaultProven', data: { bounty: 5n } }] };
      },
      bond: async () => {},
      listDisputes: async () => [],
      openDispute: async () => {
        this.opens++;
        this.mine = toyDispute();
        if (this.loseConfirmation) {
          this.loseConfirmation = false;
          throw new Error('block height exceeded: the open was not confirmed');
        }
        return { dispute: Keypair.generate().publicKey };
      },
    };
    return c as unknown as SettlementClient;
  }
}

function toyFinding(jobId: string): PendingFinding {
  const finding: Finding = {
    jobId: jobId as JobId,
    batchIndex: 0,
    batchRoot: label('batch').toString('hex') as Hash32,
    position: 1,
    modelId: label('model').toString('hex') as ModelId,
    executor: Keypair.generate().publicKey.toBase58() as ExecutorId,
    claimedOutputDigest: label('claimed').toString('hex') as Hash32,
    ourOutputDigest: label('ours').toString('hex') as Hash32,
    provable: true,
    location: {
      ourTraceRoot: label('our trace').toString('hex') as Hash32,
      theirTraceRoot: null,
      layerCount: 8,
      firstDivergentLayer: 3,
      firstDivergentChunk: 0,
    },
    foundAt: Date.now(),
  };
  const proof = {
    batchIndex: 0 as BatchIndex,
    batchRoot: finding.batchRoot,
    jobCount: 4,
    index: 1,
    record: '00'.repeat(168),
    signature: '00'.repeat(64),
    siblings: [],
    siblingFees: [],
    feeSum: '0',
  };
  return { finding, proof, attempts: 0 };
}

const noSource = {} as JobSource;

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A challenger over `dir`, whose LevelDB already holds `pending` (a finding left by a previous run). */
async function startWith(dir: string, chain: ToyChain, pending: PendingFinding[]): Promise<Challenger> {
  const store = await Store.open(join(dir, 'challenger-c1.db'));
  const table = store.table<PendingFinding>('pending');
  await store.write(pending.map((p) => table.put(pendingKey(p.finding), p)));
  await store.close();
  return Challenger.start({
    config: {
      dataDir: dir,
      id: 'c1',
      sampleRate: 1,
      sandbox: false,
      retryMs: 20,
      chain: { client: chain.client(), bondLamports: 10n },
    },
    bus: createMemoryBus(),
    source: noSource,
    registry: new ModelRegistry(),
  });
}

test('paused audit: a finding left pending by a restart waits out the pause and opens once, even when its confirmation is lost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-pending-'));
  const chain = new ToyChain();
  chain.paused = 1;
  chain.loseConfirmation = true;
  const c = await startWith(dir, chain, [toyFinding('j1')]);
  try {
    // Paused: nothing opens, and the finding stays, saying why.
    await until(
      async () => ((await c.pendingFindings())[0]?.attempts ?? 0) >= 3,
      'three passes while paused',
    );
    assert.equal(chain.opens, 0);
    assert.match((await c.pendingFindings())[0].lastReason!, /paused/);

    // Unpaused (the window still has game time): the open lands, its confirmation is lost, and the next pass
    // finds this challenger's own game and stops there instead of sending a second open.
    chain.paused = 0;
    await until(async () => (await c.pendingFindings()).length === 0, 'the finding settled');
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(chain.opens, 1, 'opened more than once');
  } finally {
    await c.close();
  }
});

test('paused audit: final refusals (job invalidated, window closed in game time) drop the finding without an open', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-pending-'));
  const chain = new ToyChain();
  chain.invalidated = 1;
  const c = await startWith(dir, chain, [toyFinding('j2')]);
  try {
    await until(async () => (await c.pendingFindings()).length === 0, 'the invalidated job dropped');
    assert.equal(chain.opens, 0);
  } finally {
    await c.close();
  }
  // The window closed in game time while the finding waited: dropped too.
  const later = new ToyChain();
  later.slot = 1100n;
  const d = await startWith(mkdtempSync(join(tmpdir(), 'optinfer-pending-')), later, [toyFinding('j3')]);
  try {
    await until(async () => (await d.pendingFindings()).length === 0, 'the closed window dropped');
    assert.equal(later.opens, 0);
  } finally {
    await d.close();
  }
});

test("record fault: a finding on a record whose executor never bonded is proven the sequencer's fault once, no game opened", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-pending-'));
  const chain = new ToyChain();
  const p = toyFinding('j4');
  chain.unbonded.add(p.finding.executor);
  const c = await startWith(dir, chain, [p]);
  try {
    await until(async () => (await c.pendingFindings()).length === 0, 'the fault proven');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(chain.faults, [{ jobIndex: 1, kind: 'unbondedExecutor' }]);
    assert.equal(chain.opens, 0, 'no dispute opened on an undisputable record');
  } finally {
    await c.close();
  }
});
