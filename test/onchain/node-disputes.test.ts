// The whole node on the real program (LiteSVM in-process): the honest side wins every dispute, whichever side lies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair, type PublicKey } from '@solana/web3.js';
import {
  minUnbondingSlots,
  connectLocal,
  SIDE,
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
import { PHASE } from '../../dispute/phases.ts';
import type { ModelInfo } from '../../sequencer/ports.ts';
import { verifyInclusion } from '../../state/job.ts';
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
  await client.initialize(authority, {
    sequencer: sequencerKey.publicKey,
    treasury,
    challengeWindow: 250n,
    clockSlots: 150n,
    minExecutorBond: BOND,
    minChallengerBond: CHALLENGER_BOND,
    unbondingSlots: minUnbondingSlots(250n, 150n),
    bountyBps: BOUNTY_BPS,
  });
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
  'a wrong-output executor loses its disputes, is slashed, and its jobs finalize with the right result',
  { timeout: 180_000 },
  async () => {
    const w = await startWorld([
      { mode: 'wrong-output', rate: 1 },
      { mode: 'none', rate: 0 },
    ]);
    const [cheater, honest] = w.executors;
    try {
      assert.ok(
        await w.client.fetchModel(Buffer.from(w.model.modelId, 'hex')),
        'the demo model is registered on chain',
      );
      const bondedBefore = (await w.client.fetchOperator(cheater.keypair.publicKey))!.bonded;
      const { inputs, jobs } = await submitAndFinalize(w, 4);
      const loaded = w.registry.get(w.model.modelId)!;
      for (const [i, j] of jobs.entries()) {
        // Every job ends with the honest executor's result, in a batch finalized on chain.
        assert.equal(j.executor, honest.id);
        const want = await runModel(loaded, { x: { dtype: 'int8', dims: [1, 16], data: inputs[i] } });
        assert.equal(j.outputDigest, want.outputDigest);
        assert.ok(j.proof && verifyInclusion(j.proof));
        assert.equal((await w.client.fetchBatch(BigInt(j.batch!.index)))!.finalized, 1);
      }
      const disputes = await w.client.listDisputes({ party: cheater.keypair.publicKey });
      assert.ok(disputes.length > 0, 'the cheater was disputed');
      for (const { dispute } of disputes) assert.equal(dispute.winner, SIDE.CHALLENGER);
      const bondedAfter = (await w.client.fetchOperator(cheater.keypair.publicKey))!.bonded;
      // A dispute stakes min(minExecutorBond, free bond): here the whole bond went with the first one.
      assert.equal(bondedAfter, 0n, `the cheater was slashed (${bondedBefore} -> ${bondedAfter})`);
      // The bounty share of everything slashed went to the challenger's bond, the rest to the vault
      // (which holds its own rent-exempt minimum besides).
      const bounty = (bondedBefore * BigInt(BOUNTY_BPS)) / 10_000n;
      const vault = w.client.pdas.vault();
      const vaultRent = w.sender.svm.minimumBalanceForRentExemption(
        BigInt(w.sender.accountData(vault)!.length),
      );
      assert.equal(await w.sender.getBalance(vault), vaultRent + bondedBefore - bounty);
      const chal = (await w.client.fetchOperator(w.challenger.keypair.publicKey))!;
      assert.ok(
        chal.bonded >= CHALLENGER_BOND + bounty,
        `challenger bond ${chal.bonded} includes the bounty ${bounty}`,
      );
      assert.equal(chal.locked, 0n);
      assert.equal((await w.client.fetchOperator(honest.keypair.publicKey))!.locked, 0n);
    } finally {
      await w.close();
    }
  },
);

test(
  'a challenger that disputes correct results loses its bond to the honest executor, and the jobs stand',
  { timeout: 180_000 },
  async () => {
    const w = await startWorld([{ mode: 'none', rate: 0 }], 'false-alarm');
    const [honest] = w.executors;
    try {
      const execBefore = (await w.client.fetchOperator(honest.keypair.publicKey))!.bonded;
      const { jobs } = await submitAndFinalize(w, 2);
      const disputes = await waitFor('the false alarms resolved', async () => {
        const ds = await w.client.listDisputes({ party: w.challenger.keypair.publicKey });
        return ds.length > 0 && ds.every((d) => d.dispute.phase === PHASE.RESOLVED) && ds;
      });
      for (const { dispute } of disputes)
        assert.equal(dispute.winner, SIDE.EXECUTOR, 'the honest executor won');
      for (const j of jobs) {
        assert.equal(j.executor, honest.id);
        assert.equal((j as { invalidations?: unknown[] }).invalidations, undefined, 'no job was re-run');
      }
      const bounty = (CHALLENGER_BOND * BigInt(BOUNTY_BPS)) / 10_000n;
      const execAfter = (await w.client.fetchOperator(honest.keypair.publicKey))!.bonded;
      assert.equal(
        execAfter,
        execBefore + bounty * BigInt(disputes.length),
        'the executor earned the bounty',
      );
      const chal = (await w.client.fetchOperator(w.challenger.keypair.publicKey))!;
      assert.equal(chal.locked, 0n);
    } finally {
      await w.close();
    }
  },
);

test(
  'an honest executor restarted in the middle of a dispute resumes it from its stored results and wins',
  { timeout: 180_000 },
  async () => {
    const w = await startWorld([{ mode: 'none', rate: 0 }], 'false-alarm');
    try {
      const data = input(7);
      const { jobId } = await w.seq.submit({
        modelId: w.model.modelId,
        inputs: { x: { dtype: 'int8', dims: [1, 16], data } },
      });
      const [{ address }] = await waitFor('a dispute opened', async () => {
        const ds = await w.client.listDisputes({ open: true });
        return ds.length > 0 && ds;
      });
      // Down for a few slots while the game is on; its clock keeps running.
      await w.executors[0].close();
      const atStop = await w.client.dispute(address);
      assert.notEqual(atStop.phase, 6, 'the executor went down with the dispute still open');
      await new Promise((r) => setTimeout(r, 1_000));
      const restarted = await w.restartExecutor(0);
      const d = await waitFor('the dispute resolved', async () => {
        const x = await w.client.dispute(address);
        return x.phase === PHASE.RESOLVED && x;
      });
      assert.equal(d.winner, SIDE.EXECUTOR);
      assert.ok(d.moves > 2, `the restarted executor made moves (${d.moves})`);
      const job = await waitFor('the job finalized', async () => {
        const j = await w.seq.getJob(jobId);
        return j?.status === 'finalized' && j;
      });
      assert.equal(job.executor, restarted.id);
    } finally {
      await w.close();
    }
  },
);
