// The whole node on the real program (LiteSVM in-process): a lying executor is disputed, slashed, and its job re-run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import { connectLocal } from '../../settlement/index.ts';
import { createMemoryBus } from '../../bus/memory.ts';
import { ModelRegistry } from '../../executor/model.ts';
import { runModel } from '../../executor/run.ts';
import { ExecutorWorker, DEFAULT_EXECUTOR_CONFIG } from '../../executor/worker.ts';
import { Challenger } from '../../challenger/challenger.ts';
import { SequencerSource } from '../../challenger/source.ts';
import { DEMO_MODEL_PATH } from '../../cli/roles.ts';
import { Sequencer, DEFAULT_SEQUENCER_CONFIG } from '../../sequencer/sequencer.ts';
import { OrtInspector } from '../../sequencer/inspector.ts';
import { ChainSettlement } from '../../sequencer/chain-settlement.ts';
import { verifyInclusion } from '../../state/job.ts';
import type { JobId } from '../../state/types.ts';
import { waitFor } from '../helpers/node-process.ts';
import { createLogger, silentLogger } from '../../common/log.ts';

const log = process.env.OPTINFER_TEST_LOG ? createLogger('e2e') : silentLogger;

const SLOT_MS = 40;
const BOND = 2_000_000_000n;

test(
  'a wrong-output executor loses its dispute by timeout, is slashed, and its jobs finalize with the right result',
  { timeout: 180_000 },
  async () => {
    const { client, sender } = connectLocal();
    const fund = (k: Keypair) => sender.airdrop(k.publicKey, 50_000_000_000n);
    const authority = Keypair.generate();
    const sequencerKey = Keypair.generate();
    fund(authority);
    fund(sequencerKey);
    await client.initialize(authority, {
      sequencer: sequencerKey.publicKey,
      treasury: Keypair.generate().publicKey,
      challengeWindow: 150n,
      clockSlots: 25n,
      minExecutorBond: BOND,
      minChallengerBond: 1_000_000_000n,
      unbondingSlots: 10n,
      bountyBps: 5000,
    });
    const stopClock = sender.startSlotClock(SLOT_MS);
    const dir = mkdtempSync(join(tmpdir(), 'optinfer-e2e-chain-'));
    const bus = createMemoryBus();
    const registry = new ModelRegistry();
    const chain = { client, bondLamports: BOND };
    const seq = await Sequencer.start({
      config: { ...DEFAULT_SEQUENCER_CONFIG, dataDir: dir, batchMaxJobs: 4, batchMaxAgeMs: 50 },
      bus,
      inspector: new OrtInspector(registry),
      settlement: new ChainSettlement(client, sequencerKey, SLOT_MS, { authority, registry }),
      logger: log.child({ role: 'sequencer' }),
    });
    const executors: ExecutorWorker[] = [];
    for (const [i, cheat] of [
      [0, { mode: 'wrong-output', rate: 1 }],
      [1, { mode: 'none', rate: 0 }],
    ] as const) {
      const kp = join(dir, `ex${i}.json`);
      const w = await ExecutorWorker.start({
        config: {
          ...DEFAULT_EXECUTOR_CONFIG,
          dataDir: join(dir, `ex${i}`),
          keypairPath: kp,
          cheat: { ...cheat },
          chain: undefined,
        },
        bus,
        registry,
      });
      await w.close();
      // The keypair exists now: fund it, then start for real with settlement.
      sender.airdrop(w.keypair.publicKey, 50_000_000_000n);
      executors.push(
        await ExecutorWorker.start({
          config: {
            ...DEFAULT_EXECUTOR_CONFIG,
            dataDir: join(dir, `ex${i}`),
            keypairPath: kp,
            cheat: { ...cheat },
            chain,
          },
          bus,
          registry,
          logger: log.child({ role: `executor${i}` }),
        }),
      );
    }
    const challenger = await Challenger.start({
      config: { dataDir: join(dir, 'chal'), id: 'c1', sampleRate: 1, chain },
      bus,
      source: new SequencerSource(seq),
      registry,
      logger: log.child({ role: 'challenger' }),
    });
    fund(challenger.keypair);
    const [cheater, honest] = executors;
    try {
      const model = await seq.registerModel(new Uint8Array(readFileSync(DEMO_MODEL_PATH)), 'demo');
      assert.ok(
        await client.fetchModel(Buffer.from(model.modelId, 'hex')),
        'the demo model is registered on chain',
      );
      const bondedBefore = (await client.fetchOperator(cheater.keypair.publicKey))!.bonded;
      const inputs = Array.from({ length: 4 }, (_, i) =>
        new Uint8Array(16).map((_, k) => (k * 11 + i * 3) & 0xff),
      );
      const ids: JobId[] = [];
      for (const data of inputs) {
        ids.push(
          (
            await seq.submit({
              modelId: model.modelId,
              inputs: { x: { dtype: 'int8', dims: [1, 16], data } },
            })
          ).jobId,
        );
      }
      const done = await waitFor(
        'every job finalized',
        async () => {
          const js = await Promise.all(ids.map((id) => seq.getJob(id)));
          return js.every((j) => j?.status === 'finalized') && js;
        },
        150_000,
        200,
      );
      const loaded = registry.get(model.modelId)!;
      for (const [i, j] of done.entries()) {
        // Every job ends with the honest executor's result, in a batch finalized on chain.
        assert.equal(j!.executor, honest.id);
        const want = await runModel(loaded, { x: { dtype: 'int8', dims: [1, 16], data: inputs[i] } });
        assert.equal(j!.outputDigest, want.outputDigest);
        assert.ok(j!.proof && verifyInclusion(j!.proof));
        assert.equal((await client.fetchBatch(BigInt(j!.batch!.index)))!.finalized, 1);
      }
      const disputes = await client.listDisputes({ party: cheater.keypair.publicKey });
      assert.ok(disputes.length > 0, 'the cheater was disputed');
      for (const { dispute } of disputes) assert.equal(dispute.winner, 1, 'the challenger won');
      const bondedAfter = (await client.fetchOperator(cheater.keypair.publicKey))!.bonded;
      assert.ok(bondedAfter < bondedBefore, `the cheater was slashed (${bondedBefore} → ${bondedAfter})`);
      const hon = await client.fetchOperator(honest.keypair.publicKey);
      assert.equal(hon!.locked, 0n);
    } finally {
      stopClock();
      await challenger.close();
      for (const w of executors) await w.close();
      await seq.close();
      await bus.close();
      await registry.close();
    }
  },
);
