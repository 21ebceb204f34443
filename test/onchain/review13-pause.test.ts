// Review 13: a pause must not make the challenger drop a wrong result it found (it would then finalize).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair, type PublicKey } from '@solana/web3.js';
import {
  minUnbondingSlots,
  connectLocal,
  type SettlementClient,
  type LiteSvmSender,
} from '../../settlement/index.ts';
import { createMemoryBus } from '../../bus/memory.ts';
import type { Bus } from '../../bus/bus.ts';
import { ModelRegistry } from '../../executor/model.ts';
import { runModel } from '../../executor/run.ts';
import { ExecutorWorker, DEFAULT_EXECUTOR_CONFIG } from '../../executor/worker.ts';
import {
  challengerPolicy,
  executorPolicy,
  type ChallengerCheat,
  type CheatConfig,
} from '../../adversary/index.ts';
import { loadOrCreateKeypair } from '../../common/keys.ts';
import { Challenger } from '../../challenger/challenger.ts';
import { SequencerSource } from '../../challenger/source.ts';
import { DEMO_MODEL_PATH } from '../../cli/roles.ts';
import { Sequencer, DEFAULT_SEQUENCER_CONFIG, type JobView } from '../../sequencer/sequencer.ts';
import { OrtInspector, programModelSource } from '../../executor/sequencer-adapters.ts';
import { ChainSettlement } from '../../sequencer/chain-settlement.ts';
import type { ModelInfo } from '../../sequencer/ports.ts';
import type { JobId } from '../../state/types.ts';
import { createLogger, silentLogger } from '../../common/log.ts';
import { waitFor } from '../helpers/node-process.ts';

const log = process.env.OPTINFER_TEST_LOG ? createLogger('e2e') : silentLogger;
const SLOT_MS = 40;
const BOND = 2_000_000_000n;
const CHALLENGER_BOND = 1_000_000_000n;
const BOUNTY_BPS = 5000;

interface World {
  client: SettlementClient;
  sender: LiteSvmSender;
  seq: Sequencer;
  executors: ExecutorWorker[];
  challenger: Challenger;
  registry: ModelRegistry;
  model: ModelInfo;
  treasury: PublicKey;
  /** Pauses or unpauses the program at once (a synchronous transaction by the authority). */
  setPaused(paused: boolean): void;
  /** Stops executor i and starts it again on the same data dir and key (a restart). */
  restartExecutor(i: number): Promise<ExecutorWorker>;
  close(): Promise<void>;
}

async function startWorld(cheats: CheatConfig[], challengerCheat: ChallengerCheat = 'none'): Promise<World> {
  const { client, sender } = connectLocal();
  const fund = (k: Keypair) => sender.airdrop(k.publicKey, 50_000_000_000n);
  const authority = Keypair.generate();
  const sequencerKey = Keypair.generate();
  const treasury = Keypair.generate().publicKey;
  fund(authority);
  fund(sequencerKey);
  const params = {
    sequencer: sequencerKey.publicKey,
    treasury,
    challengeWindow: 250n,
    clockSlots: 150n,
    minExecutorBond: BOND,
    minChallengerBond: CHALLENGER_BOND,
    unbondingSlots: minUnbondingSlots(250n, 150n),
    bountyBps: BOUNTY_BPS,
  };
  await client.initialize(authority, params);
  const stopClock = sender.startSlotClock(SLOT_MS);
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-e2e-chain-'));
  const bus: Bus = createMemoryBus();
  const registry = new ModelRegistry();
  const chain = { client, bondLamports: BOND };
  const seq = await Sequencer.start({
    config: { ...DEFAULT_SEQUENCER_CONFIG, dataDir: dir, batchMaxJobs: 4, batchMaxAgeMs: 50 },
    bus,
    inspector: new OrtInspector(registry),
    settlement: new ChainSettlement(client, sequencerKey, SLOT_MS, {
      authority,
      compile: programModelSource(registry),
    }),
    logger: log.child({ role: 'sequencer' }),
  });
  const executors: ExecutorWorker[] = [];
  const startExecutor = (i: number) =>
    ExecutorWorker.start({
      config: {
        ...DEFAULT_EXECUTOR_CONFIG,
        dataDir: join(dir, `ex${i}`),
        keypairPath: join(dir, `ex${i}.json`),
        // A cheater bonds one stake (its first lost dispute takes it all); honest ones bond eight, since the
        // sequencer gives an executor only as many unfinalized jobs as its free bond covers.
        chain: { ...chain, bondLamports: cheats[i].mode === 'none' ? 8n * BOND : BOND },
      },
      bus,
      registry,
      policy: executorPolicy(cheats[i]),
      logger: log.child({ role: `executor${i}` }),
    });
  for (const i of cheats.keys()) {
    fund(loadOrCreateKeypair(join(dir, `ex${i}.json`)));
    executors.push(await startExecutor(i));
  }
  // The challenger bonds on start-up, so its key is funded first.
  const challengerKeyPath = join(dir, 'chal.json');
  fund(loadOrCreateKeypair(challengerKeyPath));
  const challenger = await Challenger.start({
    config: {
      dataDir: join(dir, 'chal'),
      id: 'c1',
      sampleRate: 1,
      chain,
      keypairPath: challengerKeyPath,
    },
    bus,
    source: new SequencerSource(seq),
    registry,
    policy: challengerPolicy(challengerCheat),
    logger: log.child({ role: 'challenger' }),
  });
  const model = await seq.registerModel(new Uint8Array(readFileSync(DEMO_MODEL_PATH)), 'demo');
  return {
    client,
    sender,
    seq,
    executors,
    challenger,
    registry,
    model,
    treasury,
    setPaused: (paused) => {
      sender.sendSync(
        [client.ix.updateConfig({ authority: authority.publicKey, params, paused })],
        [authority],
      );
    },
    restartExecutor: async (i) => {
      await executors[i].close();
      executors[i] = await startExecutor(i);
      return executors[i];
    },
    close: async () => {
      stopClock();
      await challenger.close();
      for (const w of executors) await w.close();
      await seq.close();
      await bus.close();
      await registry.close();
    },
  };
}

function input(i: number): Uint8Array {
  return new Uint8Array(16).map((_, k) => (k * 11 + i * 3) & 0xff);
}

async function submitAndFinalize(w: World, n: number): Promise<{ inputs: Uint8Array[]; jobs: JobView[] }> {
  const inputs = Array.from({ length: n }, (_, i) => input(i));
  const ids: JobId[] = [];
  for (const data of inputs) {
    ids.push(
      (
        await w.seq.submit({
          modelId: w.model.modelId,
          inputs: { x: { dtype: 'int8', dims: [1, 16], data } },
        })
      ).jobId,
    );
  }
  const jobs = await waitFor(
    'every job finalized',
    async () => {
      const js = await Promise.all(ids.map((id) => w.seq.getJob(id)));
      return js.every((j) => j?.status === 'finalized') && (js as JobView[]);
    },
    150_000,
    200,
  );
  return { inputs, jobs };
}

test(
  'paused audit: a wrong result the challenger finds while the program is paused is still disputed after unpause',
  { timeout: 240_000 },
  async () => {
    const w = await startWorld([
      { mode: 'wrong-output', rate: 1 },
      { mode: 'none', rate: 0 },
    ]);
    const [cheater] = w.executors;
    try {
      // The authority pauses (an upgrade, say) just as the challenger finds the first wrong result,
      // and unpauses a moment later: every batch window still has all its game time left.
      let paused = false;
      w.challenger.onFinding(() => {
        if (paused) return;
        paused = true;
        w.setPaused(true);
        setTimeout(() => w.setPaused(false), 1000);
      });
      const { inputs, jobs } = await submitAndFinalize(w, 4);
      assert.ok(paused, 'a wrong result was found');
      const loaded = w.registry.get(w.model.modelId)!;
      const disputes = await w.client.listDisputes({ party: cheater.keypair.publicKey });
      for (const [i, j] of jobs.entries()) {
        const want = await runModel(loaded, { x: { dtype: 'int8', dims: [1, 16], data: inputs[i] } });
        assert.equal(
          j.outputDigest,
          want.outputDigest,
          `job ${i} finalized with the cheater's wrong result (${disputes.length} disputes opened on the cheater)`,
        );
      }
    } finally {
      await w.close();
    }
  },
);
