// The sequencer settling on the real SBF program (LiteSVM in-process): roots committed, finalized from chain state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import { minUnbondingSlots, connectLocal } from '../../settlement/index.ts';
import { createMemoryBus } from '../../bus/memory.ts';
import { ModelRegistry } from '../../executor/model.ts';
import { ExecutorWorker, DEFAULT_EXECUTOR_CONFIG } from '../../executor/worker.ts';
import { loadOrCreateKeypair } from '../../common/keys.ts';
import { DEMO_MODEL_PATH } from '../../cli/roles.ts';
import { Sequencer, DEFAULT_SEQUENCER_CONFIG } from '../../sequencer/sequencer.ts';
import { OrtInspector } from '../../executor/sequencer-adapters.ts';
import { ChainSettlement } from '../../sequencer/chain-settlement.ts';
import { capJobs } from '../../sequencer/dispatch.ts';
import { verifyInclusion } from '../../state/job.ts';
import { toHex } from '../../state/hash.ts';
import type { JobId } from '../../state/types.ts';
import { waitFor } from '../helpers/node-process.ts';

const WINDOW_SLOTS = 20n;

test(
  'batches are committed to the program, finalize only after the on-chain window, and re-commits are idempotent',
  { timeout: 120_000 },
  async () => {
    const { client, sender } = connectLocal();
    const authority = Keypair.generate();
    const sequencerKey = Keypair.generate();
    sender.airdrop(authority.publicKey, 10_000_000_000n);
    sender.airdrop(sequencerKey.publicKey, 10_000_000_000n);
    await client.initialize(authority, {
      sequencer: sequencerKey.publicKey,
      treasury: Keypair.generate().publicKey,
      challengeWindow: WINDOW_SLOTS,
      clockSlots: 10n,
      minExecutorBond: 1_000_000_000n,
      minChallengerBond: 1_000_000_000n,
      unbondingSlots: minUnbondingSlots(WINDOW_SLOTS, 10n),
      bountyBps: 5000,
    });
    const settlement = new ChainSettlement(client, sequencerKey);
    const dir = mkdtempSync(join(tmpdir(), 'optinfer-onchain-'));
    const bus = createMemoryBus();
    const registry = new ModelRegistry();
    const seq = await Sequencer.start({
      config: { ...DEFAULT_SEQUENCER_CONFIG, dataDir: dir, batchMaxJobs: 3, batchMaxAgeMs: 50 },
      bus,
      inspector: new OrtInspector(registry),
      settlement,
    });
    // The sequencer assigns jobs only to executors bonded on chain: this one bonds on start-up.
    const keypairPath = join(dir, 'ex.json');
    sender.airdrop(loadOrCreateKeypair(keypairPath).publicKey, 10_000_000_000n);
    const worker = await ExecutorWorker.start({
      config: {
        ...DEFAULT_EXECUTOR_CONFIG,
        dataDir: join(dir, 'ex'),
        keypairPath,
        // Five stakes: the sequencer gives an executor only as many unfinalized jobs as its free bond covers.
        chain: { client, bondLamports: 5_000_000_000n },
      },
      bus,
      registry,
    });
    try {
      const model = await seq.registerModel(new Uint8Array(readFileSync(DEMO_MODEL_PATH)), 'demo');
      const ids: JobId[] = [];
      for (let i = 0; i < 5; i++) {
        const data = new Uint8Array(16).map((_, k) => (k * 9 + i) & 0xff);
        ids.push(
          (
            await seq.submit({
              modelId: model.modelId,
              inputs: { x: { dtype: 'int8', dims: [1, 16], data } },
            })
          ).jobId,
        );
      }
      const jobs = await waitFor('all jobs batched', async () => {
        const js = await Promise.all(ids.map((id) => seq.getJob(id)));
        return js.every((j) => j?.status === 'batched') && js;
      });
      // Every root the node serves is the one on chain, at the same index, with the same job count.
      for (const j of jobs) {
        assert.ok(j!.proof && verifyInclusion(j!.proof));
        const onChain = await client.fetchBatch(BigInt(j!.batch!.index));
        assert.ok(onChain, `batch ${j!.batch!.index} is on chain`);
        assert.equal(toHex(onChain.root), j!.batch!.root);
        assert.equal(onChain.jobCount, j!.proof!.jobCount);
      }
      // 5 jobs in batches of at most 3 (two batches, or more when jobs trickle in on a loaded machine), indexed 0..n-1.
      const indices = [...new Set(jobs.map((j) => j!.batch!.index))].sort((a, b) => a - b);
      assert.ok(indices.length >= 2, `batches ${indices.join(', ')}`);
      assert.deepEqual(
        indices,
        indices.map((_, i) => i),
      );
      assert.equal((await client.config()).nextBatchIndex, BigInt(indices.length));

      // Inside the window nothing finalizes, however long the node waits.
      await new Promise((r) => setTimeout(r, 500));
      assert.ok((await Promise.all(ids.map((id) => seq.getJob(id)))).every((j) => j?.status === 'batched'));
      assert.equal((await client.fetchBatch(0n))!.finalized, 0);

      sender.warp(WINDOW_SLOTS + 1n);
      await waitFor('all jobs finalized', async () =>
        (await Promise.all(ids.map((id) => seq.getJob(id)))).every((j) => j?.status === 'finalized'),
      );
      for (const i of indices) assert.equal((await client.fetchBatch(BigInt(i)))!.finalized, 1, `batch ${i}`);

      // A re-commit after a crash is accepted for the same root and refused for another (batch 0's job: the first
      // job submitted may land in a later batch when the executor answers out of order).
      const first = jobs.find((j) => j!.batch!.index === 0)!;
      await settlement.commitBatch({
        index: 0 as never,
        root: first.batch!.root,
        jobCount: first.proof!.jobCount,
      });
      await assert.rejects(
        settlement.commitBatch({ index: 0 as never, root: 'ab'.repeat(32) as never, jobCount: 1 }),
        /batch 0 is committed on chain with root/,
      );
      assert.deepEqual(
        await settlement.invalidatedJobs({
          index: 0 as never,
          root: first.batch!.root,
          jobCount: first.proof!.jobCount,
        }),
        [],
      );
    } finally {
      await worker.close();
      await seq.close();
      await bus.close();
      await registry.close();
    }
  },
);

test('stake lowered: the exposure cap counts a batch not yet final at the stake it was committed with, after the authority lowers min_executor_bond', async () => {
  const { client, sender } = connectLocal();
  const authority = Keypair.generate();
  const sequencerKey = Keypair.generate();
  const executor = Keypair.generate();
  for (const k of [authority, sequencerKey, executor]) sender.airdrop(k.publicKey, 20_000_000_000n);
  const high = 2_000_000_000n;
  await client.initialize(authority, {
    sequencer: sequencerKey.publicKey,
    treasury: Keypair.generate().publicKey,
    challengeWindow: WINDOW_SLOTS,
    clockSlots: 10n,
    minExecutorBond: high,
    minChallengerBond: 1_000_000_000n,
    unbondingSlots: minUnbondingSlots(WINDOW_SLOTS, 10n),
    bountyBps: 5000,
  });
  await client.bond(executor, 10_000_000_000n);
  const settlement = new ChainSettlement(client, sequencerKey);
  settlement.configTtlMs = 0; // read the lowered minimum at once
  const header = { index: 0 as never, root: 'cd'.repeat(32) as never, jobCount: 1 };
  const { windowEndsAt } = await settlement.commitBatch(header);
  // The authority lowers the stake: new batches carry 1 SOL, batch 0 still slashes 2 SOL per job.
  await client.updateConfig(authority, { params: { minExecutorBond: high / 2n } });
  assert.equal((await client.config()).minExecutorBond, high / 2n);
  const before = await settlement.executorBond(executor.publicKey.toBase58() as never);
  assert.equal(before.stake, high, 'batch 0 is not final: its 2 SOL stake counts');
  assert.equal(capJobs(before), 5, '10 SOL free covers five 2 SOL stakes, not ten 1 SOL ones');
  // Once batch 0 is final, the lower stake applies.
  sender.warp(WINDOW_SLOTS + 1n);
  assert.equal(await settlement.canFinalize(header, windowEndsAt, windowEndsAt), true);
  const after = await settlement.executorBond(executor.publicKey.toBase58() as never);
  assert.equal(after.stake, high / 2n, 'no batch left at the old stake');
});
