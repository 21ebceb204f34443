// Starts the roles: all in one process on the in-process bus (dev), or one role per process over NATS.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { SystemProgram, type Keypair, type PublicKey } from '@solana/web3.js';
import { drawVouchers, PaymentGate } from '../sequencer/payments.ts';
import { LiteSvmSnapshot } from '../settlement/snapshot.ts';
import {
  connectLocal,
  connectRpc,
  DEFAULT_SO_PATH,
  DEFAULT_SLOT_MS,
  minUnbondingSlots,
  type ConfigAccount,
  type SettlementClient,
} from '../settlement/index.ts';
import { ChainSettlement } from '../sequencer/chain-settlement.ts';
import { OptinferError } from '../state/errors.ts';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Bus } from '../bus/bus.ts';
import { createMemoryBus } from '../bus/memory.ts';
import { connectNatsBus } from '../bus/nats.ts';
import { loadKeypair, loadOrCreateKeypair } from '../common/keys.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { createProgress, type Progress } from '../common/progress.ts';
import { PromMetrics } from '../common/metrics.ts';
import { assertRunnable, ModelRegistry } from '../executor/model.ts';
import { isCanonicalRun } from '../executor/run-config.ts';
import { SandboxPool } from '../executor/sandbox/pool.ts';
import { ExecutorWorker, DEFAULT_EXECUTOR_CONFIG } from '../executor/worker.ts';
import { claimsView } from '../executor/fees.ts';
import { challengerPolicy, executorPolicy } from '../adversary/index.ts';
import {
  DEFAULT_CLUSTER_SLOT_MS,
  type ApiAccessConfig,
  type ChallengerRoleConfig,
  type DevConfig,
  type ExecutorRoleConfig,
  type RoleChainConfig,
  type SequencerRoleConfig,
} from './config.ts';
import { Challenger } from '../challenger/challenger.ts';
import { HttpSource, SequencerSource } from '../challenger/source.ts';
import { ModelDirs, withModelDirs } from '../challenger/model-dirs.ts';
import type { JobId } from '../state/types.ts';
import { Sequencer, DEFAULT_SEQUENCER_CONFIG } from '../sequencer/sequencer.ts';
import { buildHttp, type HttpConfig } from '../sequencer/http.ts';
import { OrtInspector, programModelSource } from '../executor/sequencer-adapters.ts';
import { LocalSettlement } from '../sequencer/ports.ts';
import type { ModelInfo, Settlement } from '../sequencer/ports.ts';

/** The integer-only demo model (int8 x int8 MatMulInteger, exact on any hardware) the dev node registers. */
export const DEMO_MODEL_PATH = fileURLToPath(new URL('../models/demo-int8-mlp.onnx', import.meta.url));

export interface Running {
  close(): Promise<void>;
}

export interface DevNode extends Running {
  url: string;
  sequencer: Sequencer;
  executors: ExecutorWorker[];
  challenger: Challenger;
  demoModel: ModelInfo;
  http: FastifyInstance;
  /** The program the node settles on (in-process or a cluster's); absent on the local timer. */
  chain?: SettlementClient;
}

/** The sequencer with the demo model registered: shared by the all-in-one node and the sequencer role. */
async function openSequencer(o: {
  bus: Bus;
  registry: ModelRegistry;
  dataDir: string;
  batchMaxJobs: number;
  batchMaxAgeMs: number;
  maxAttempts?: number;
  durable?: boolean;
  challengeWindowMs: number;
  log: Logger;
  metrics: PromMetrics;
  settlement?: Settlement;
  maxModelBytes?: number;
  maxTensorBytes?: number;
  /** The program's dispute clock: a model whose games need longer is not provable (state/shapes.ts). */
  clockSlots?: () => Promise<bigint>;
}): Promise<{ sequencer: Sequencer; demoModel: ModelInfo }> {
  const sequencer = await Sequencer.start({
    config: {
      ...DEFAULT_SEQUENCER_CONFIG,
      maxModelBytes: o.maxModelBytes ?? DEFAULT_SEQUENCER_CONFIG.maxModelBytes,
      dataDir: o.dataDir,
      batchMaxJobs: o.batchMaxJobs,
      batchMaxAgeMs: o.batchMaxAgeMs,
      maxAttempts: o.maxAttempts ?? DEFAULT_SEQUENCER_CONFIG.maxAttempts,
      durable: o.durable,
    },
    bus: o.bus,
    inspector: new OrtInspector(o.registry, o.maxTensorBytes, o.clockSlots),
    settlement: o.settlement ?? new LocalSettlement(o.challengeWindowMs),
    logger: o.log.child({ role: 'sequencer' }),
    metrics: o.metrics,
  });
  try {
    const demoModel = await sequencer.registerModel(
      new Uint8Array(readFileSync(DEMO_MODEL_PATH)),
      'demo-int8-mlp',
    );
    return { sequencer, demoModel };
  } catch (e) {
    await sequencer.close();
    throw e;
  }
}

/** The API's keys and rate limit from a role's config; without keys and a limit the API is open. */
function httpAccess(o: ApiAccessConfig): Partial<HttpConfig> {
  return { apiKeys: o.apiKeys ?? [], rateLimit: o.rateLimit ?? 0 };
}

/** Sequencer, executors and a challenger in one process on the in-process bus. */
export async function startDev(o: DevConfig): Promise<DevNode> {
  const log = o.logger ?? createLogger('optinfer');
  const metrics = new PromMetrics();
  const bus = createMemoryBus({ logger: log.child({ part: 'bus' }) });
  const registry = new ModelRegistry();
  // With --executor-profile the executors get their own pool under that configuration; the challenger stays canonical.
  const run = o.executorRun && !isCanonicalRun(o.executorRun) ? o.executorRun : undefined;
  if (run) await assertRunnable(run, 'dev --executor-profile');
  // One pool of model-running child processes, sized to the cores, for every executor and the challenger.
  const sandbox = new SandboxPool(o.limits ?? {}, log.child({ part: 'sandbox' }));
  const execSandbox = run
    ? new SandboxPool({ ...o.limits, run }, log.child({ part: 'executor-sandbox' }))
    : sandbox;
  const opened: Running[] = [];
  const closeAll = async () => {
    for (const r of opened.reverse()) await r.close().catch(() => {});
    if (execSandbox !== sandbox) await execSandbox.close();
    await sandbox.close();
    await bus.close();
    await registry.close();
  };
  try {
    const chain = o.rpc
      ? await startRpcDevChain(o.rpc, registry, log)
      : o.chain === 'litesvm'
        ? await startDevChain(o, registry, log)
        : undefined;
    if (chain) opened.push(chain);
    const { sequencer, demoModel } = await openSequencer({
      dataDir: o.dataDir,
      batchMaxJobs: o.batchMaxJobs,
      batchMaxAgeMs: o.batchMaxAgeMs,
      maxAttempts: o.maxAttempts,
      durable: o.durable,
      challengeWindowMs: o.challengeWindowMs,
      maxTensorBytes: o.limits?.memoryBytes,
      bus,
      registry,
      log,
      metrics,
      settlement: chain?.settlement,
      clockSlots: chain && (async () => (await chain.client.config()).clockSlots),
      maxModelBytes: o.maxModelBytes,
    });
    opened.push(sequencer);
    const executors: ExecutorWorker[] = [];
    for (let i = 0; i < o.executors; i++) {
      const dataDir = join(o.dataDir, `executor-${i}`);
      const keypairPath = join(dataDir, 'executor-keypair.json');
      if (chain) {
        mkdirSync(dataDir, { recursive: true });
        await chain.fund(loadOrCreateKeypair(keypairPath).publicKey);
      }
      const w = await ExecutorWorker.start({
        config: {
          ...DEFAULT_EXECUTOR_CONFIG,
          dataDir,
          keypairPath,
          chain: chain && {
            client: chain.client,
            bondLamports: chain.executorBondLamports,
            // Fee claims read the jobs' inclusion proofs from the sequencer in this process.
            proofs: (id) => new SequencerSource(sequencer).proof(id),
          },
        },
        bus,
        registry,
        runner: execSandbox,
        policy: i === 0 ? executorPolicy(o.cheat) : undefined,
        logger: log.child({ role: 'executor' }),
        metrics,
      });
      executors.push(w);
      opened.push(w);
    }
    const challengerKey = join(o.dataDir, 'challenger', 'challenger-local-keypair.json');
    // The node's own keys, named in the API's bond views.
    const roles = new Map(executors.map((e) => [e.id as string, 'executor']));
    if (chain) {
      mkdirSync(join(o.dataDir, 'challenger'), { recursive: true });
      const key = loadOrCreateKeypair(challengerKey).publicKey;
      await chain.fund(key);
      roles.set(key.toBase58(), 'challenger');
    }
    const challenger = await Challenger.start({
      config: {
        dataDir: join(o.dataDir, 'challenger'),
        keypairPath: challengerKey,
        id: 'local',
        sampleRate: o.sampleRate,
        chain: chain && { client: chain.client, bondLamports: chain.bondLamports },
      },
      bus,
      source: new SequencerSource(sequencer),
      registry,
      runner: sandbox,
      logger: log.child({ role: 'challenger' }),
      metrics,
    });
    opened.push(challenger);
    // On the in-process chain every user has a funded default: jobs without a voucher are paid from its deposit.
    // On a cluster (--rpc) payments are the sequencer role's: each job needs its user's voucher, unless --payments off.
    const pay = !chain
      ? undefined
      : 'sequencerKey' in chain
        ? await startDevPayments(o, chain.client, chain.sequencerKey as Keypair, chain.fund, sequencer, log)
        : o.payments !== false
          ? { payments: await openPayments(chain.client, chain.key, sequencer) }
          : undefined;
    if (o.rpc && pay)
      log.info(
        { programId: pay.payments.programId.toBase58(), sequencer: pay.payments.sequencer.toBase58() },
        "payments on: each job needs its user's voucher on a deposit (HTTP 402 without); finalized fees are drawn",
      );
    else if (o.rpc)
      log.warn('payments off (--payments off): jobs are taken unpaid, their fees escrowed from this wallet');
    const http = buildHttp({
      sequencer,
      config: httpAccess(o),
      logger: log.child({ part: 'http' }),
      metrics,
      chain: chain && {
        client: chain.client,
        roles: () => roles,
        // The fees each of the node's executors has claimed, has due, skipped or lost (its claimer's table).
        claims: async (owner: string) => {
          const s = await executors.find((e) => e.id === owner)?.fees?.summary();
          return s && claimsView(s);
        },
      },
      ...pay,
    });
    const url = await http.listen({ port: o.port, host: o.host });
    opened.push({ close: () => http.close() });
    return { url, sequencer, executors, challenger, demoModel, http, chain: chain?.client, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

const DEV_SLOT_MS = DEFAULT_CLUSTER_SLOT_MS;
const DEV_BOND = 2_000_000_000n;
/**
 * What the dev node's executors bond: 64 stakes, so each may hold 64 jobs not yet final (the sequencer keeps an
 * executor's unfinalized jobs x min_executor_bond within its free bond).
 */
const DEV_EXECUTOR_BOND = 64n * DEV_BOND;
/** Wallets of the dev node are topped up to this in the in-process chain. */
const DEV_FUNDS = 1_000_000_000_000n;

/**
 * The real optinfer program in an in-process Solana VM (LiteSVM), its clock running at a cluster's pace. Its
 * accounts are saved to <data dir>/chain.json after every transaction, so a restarted node finds its batches,
 * bonds and disputes where it left them.
 */
async function startDevChain(o: DevConfig, registry: ModelRegistry, log: Logger) {
  if (!existsSync(DEFAULT_SO_PATH)) {
    throw new OptinferError(
      'INVALID_CONFIG',
      `--chain litesvm needs the program binary ${DEFAULT_SO_PATH}: run npm run build:program`,
    );
  }
  mkdirSync(o.dataDir, { recursive: true });
  const snapFile = join(o.dataDir, 'chain.json');
  if (!existsSync(snapFile) && existsSync(join(o.dataDir, 'sequencer.db'))) {
    throw new OptinferError(
      'INVALID_CONFIG',
      `${o.dataDir} holds a node that settled without the in-process chain (there is no chain.json): pass a new --data-dir, or --chain none`,
    );
  }
  const { client, sender } = connectLocal();
  const authority = loadOrCreateKeypair(join(o.dataDir, 'authority-keypair.json'));
  const sequencerKey = loadOrCreateKeypair(join(o.dataDir, 'sequencer-keypair.json'));
  const treasury = loadOrCreateKeypair(join(o.dataDir, 'treasury-keypair.json')).publicKey;
  const wallets = new Map<string, PublicKey>();
  const snapshot = new LiteSvmSnapshot(sender, snapFile, () => [...wallets.values()]);
  const fund = (k: PublicKey) => {
    wallets.set(k.toBase58(), k);
    const have = sender.balance(k);
    if (have < DEV_FUNDS / 2n) sender.airdrop(k, DEV_FUNDS - have);
  };
  for (const k of [authority.publicKey, sequencerKey.publicKey, treasury]) wallets.set(k.toBase58(), k);
  const windowSlots = BigInt(Math.max(10, Math.round(o.challengeWindowMs / DEV_SLOT_MS)));
  if (snapshot.restore()) {
    const cfg = await client.config();
    log.info(
      { file: snapFile, slot: (await sender.getSlot()).toString(), batches: cfg.nextBatchIndex.toString() },
      'in-process chain restored',
    );
  } else {
    fund(authority.publicKey);
    fund(sequencerKey.publicKey);
    await client.initialize(authority, {
      sequencer: sequencerKey.publicKey,
      treasury,
      challengeWindow: windowSlots,
      clockSlots: 150n,
      minExecutorBond: DEV_BOND,
      minChallengerBond: DEV_BOND / 2n,
      unbondingSlots: minUnbondingSlots(windowSlots, 150n),
      bountyBps: 5000,
    });
    // commit_batch needs the sequencer's free bond to cover one record-fault slash (min_executor_bond);
    // SettlementClient.commitBatch tops it up again after a slash.
    await client.bond(sequencerKey, DEV_BOND);
  }
  sender.onCommit = () => snapshot.save();
  snapshot.save();
  const stopClock = sender.startSlotClock(DEV_SLOT_MS);
  log.info(
    { program: DEFAULT_SO_PATH, windowSlots: windowSlots.toString() },
    'in-process Solana VM with the optinfer program',
  );
  return {
    client,
    sequencerKey,
    fund: async (k: PublicKey) => fund(k),
    bondLamports: DEV_BOND,
    executorBondLamports: DEV_EXECUTOR_BOND,
    settlement: new ChainSettlement(client, sequencerKey, DEV_SLOT_MS, {
      authority,
      compile: programModelSource(registry),
      progress: registrationProgress(log),
    }),
    close: async () => {
      stopClock();
      snapshot.save();
    },
  };
}

/** What the dev node's default payer keeps deposited: topped up to this at each start. */
export const DEV_PAYER_DEPOSIT = 10_000_000_000n;

/**
 * The dev node's payments: the payment gate over the users' deposits, its vouchers in the sequencer's LevelDB, and
 * a default payer (<data dir>/payer-keypair.json) funded and deposited in the in-process chain, who pays every job
 * sent without a `payment`. The settlement loop draws each user's finalized fees.
 */
async function startDevPayments(
  o: DevConfig,
  client: SettlementClient,
  sequencerKey: Keypair,
  fund: (k: PublicKey) => Promise<void>,
  sequencer: Sequencer,
  log: Logger,
): Promise<{ payments: PaymentGate; defaultPayer: Keypair }> {
  const payer = loadOrCreateKeypair(join(o.dataDir, 'payer-keypair.json'));
  await fund(payer.publicKey);
  const d = await client.fetchDeposit(payer.publicKey);
  const unspent = d ? d.balance : 0n;
  if (unspent < DEV_PAYER_DEPOSIT) await client.deposit(payer, DEV_PAYER_DEPOSIT - unspent);
  const payments = await openPayments(client, sequencerKey, sequencer);
  log.info(
    { payer: payer.publicKey.toBase58(), deposit: DEV_PAYER_DEPOSIT.toString() },
    'default payer funded: jobs without a payment are paid from its deposit',
  );
  return { payments, defaultPayer: payer };
}

/**
 * A sequencer's payments on the program, the same on the dev node and the sequencer role: the payment gate over
 * the users' deposits (a job needs its user's voucher, else HTTP 402 naming the balance and the fee), the vouchers
 * it takes kept in the sequencer's LevelDB, and the settlement loop drawing each user's deposit up to the fees of
 * its finalized jobs (sequencer/payments.ts drawVouchers).
 */
export async function openPayments(
  client: SettlementClient,
  sequencerKey: Keypair,
  sequencer: Sequencer,
): Promise<PaymentGate> {
  const payments = new PaymentGate(
    client.sender.programId,
    sequencerKey.publicKey,
    (u) => client.fetchDeposit(u),
    sequencer.voucherStore(),
  );
  await payments.load();
  sequencer.drawDeposits = async (cap) =>
    (await drawVouchers(payments, client, sequencerKey, (u, w) => cap(u.toBase58(), w))).map((p) => ({
      user: p.user.toBase58(),
      amount: p.amount,
    }));
  return payments;
}

/** A model's registration on chain (many transactions for a large model): a bar on a terminal, else log lines. */
function registrationProgress(log: Logger): Progress {
  return createProgress({ write: (line) => log.info(line) });
}

/** Connects to the cluster and reads the program's Config, failing with what to do when it is not there. */
async function connectRole(o: RoleChainConfig): Promise<{ client: SettlementClient; config: ConfigAccount }> {
  if (!existsSync(o.keypairPath)) {
    throw new OptinferError(
      'INVALID_CONFIG',
      `--keypair ${o.keypairPath}: no such file; expected a funded Solana CLI keypair (solana-keygen new -o FILE)`,
    );
  }
  const client = o.client ?? connectRpc({ rpc: o.rpc, ws: o.ws }).client;
  try {
    return { client, config: await client.config() };
  } catch (e) {
    const why = (e as Error).message;
    throw new OptinferError(
      'UNAVAILABLE',
      `--rpc ${o.rpc}: cannot read the optinfer program's config (${why}); is the program deployed and initialized there (optinfer chain init)?`,
    );
  }
}

/**
 * The sequencer's settlement on a cluster: its key must be the program's sequencer; with the authority's key,
 * provable models are registered on chain too.
 */
async function sequencerSettlement(c: RoleChainConfig, registry: ModelRegistry, log: Logger) {
  const { client, config } = await connectRole(c);
  const key = loadKeypair(c.keypairPath);
  if (!config.sequencer.equals(key.publicKey)) {
    throw new OptinferError(
      'INVALID_CONFIG',
      `--keypair ${c.keypairPath} is ${key.publicKey.toBase58()}, but the program's sequencer is ${config.sequencer.toBase58()}`,
    );
  }
  const authority = c.authorityKeypairPath ? loadKeypair(c.authorityKeypairPath) : undefined;
  if (authority && !config.authority.equals(authority.publicKey)) {
    throw new OptinferError(
      'INVALID_CONFIG',
      `--authority-keypair ${c.authorityKeypairPath} is ${authority.publicKey.toBase58()}, but the program's authority is ${config.authority.toBase58()}`,
    );
  }
  log.info({ rpc: c.rpc, sequencer: key.publicKey.toBase58() }, 'settling on the optinfer program');
  return {
    client,
    config,
    key,
    settlement: new ChainSettlement(
      client,
      key,
      c.slotMs ?? DEFAULT_SLOT_MS,
      authority && { authority, compile: programModelSource(registry), progress: registrationProgress(log) },
    ),
  };
}

/**
 * The all-in-one node on a cluster (`dev --rpc URL --keypair FILE`): the keypair is the program's sequencer and
 * pays for the node's executor and challenger keys (kept in the data dir) up to their bond plus fees.
 */
async function startRpcDevChain(c: RoleChainConfig, registry: ModelRegistry, log: Logger) {
  const { client, config, key, settlement } = await sequencerSettlement(c, registry, log);
  const bond =
    config.minExecutorBond > config.minChallengerBond ? config.minExecutorBond : config.minChallengerBond;
  // Bond, the operator account's rent and a margin for fees.
  const want = bond + 100_000_000n;
  const fund = async (k: PublicKey) => {
    const have = await client.sender.getBalance(k);
    if (have >= want) return;
    await client.sender.send(
      [SystemProgram.transfer({ fromPubkey: key.publicKey, toPubkey: k, lamports: want - have })],
      [key],
      { label: 'fund' },
    );
    log.info({ to: k.toBase58(), lamports: (want - have).toString() }, 'funded a node key from --keypair');
  };
  return { client, key, fund, settlement, bondLamports: 0n, executorBondLamports: 0n, close: async () => {} };
}

export async function connectBus(
  natsUrl: string,
  log: Logger,
  name: string,
  replicas?: number,
): Promise<Bus> {
  return connectNatsBus({ url: natsUrl, name, replicas, logger: log.child({ part: 'bus' }) });
}

export async function startSequencerRole(
  o: SequencerRoleConfig,
): Promise<Running & { url: string; sequencer: Sequencer }> {
  const log = o.logger ?? createLogger('optinfer');
  const registry = new ModelRegistry();
  const settled = o.chain && (await sequencerSettlement(o.chain, registry, log));
  const settlement = settled?.settlement;
  const bus = await connectBus(o.natsUrl, log, 'optinfer-sequencer', o.natsReplicas);
  const metrics = new PromMetrics();
  const { sequencer } = await openSequencer({
    dataDir: o.dataDir,
    batchMaxJobs: o.batchMaxJobs,
    batchMaxAgeMs: o.batchMaxAgeMs,
    maxAttempts: o.maxAttempts,
    durable: o.durable,
    challengeWindowMs: o.challengeWindowMs,
    maxTensorBytes: o.maxTensorBytes,
    bus,
    registry,
    log,
    metrics,
    settlement,
    clockSlots: settled && (async () => (await settled.client.config()).clockSlots),
    maxModelBytes: o.maxModelBytes,
  }).catch(async (e) => {
    await bus.close();
    throw e;
  });
  // On a cluster the sequencer escrows each batch's fees from its own wallet: by default it takes only paid jobs.
  const payments =
    settled && o.payments !== false
      ? await openPayments(settled.client, settled.key, sequencer).catch(async (e) => {
          await sequencer.close();
          await bus.close();
          throw e;
        })
      : undefined;
  if (payments)
    log.info(
      { programId: payments.programId.toBase58(), sequencer: payments.sequencer.toBase58() },
      "payments on: each job needs its user's voucher on a deposit (HTTP 402 without); finalized fees are drawn",
    );
  else if (settled)
    log.warn('payments off (--payments off): jobs are taken unpaid, their fees escrowed from this wallet');
  const http = buildHttp({
    sequencer,
    config: httpAccess(o),
    logger: log.child({ part: 'http' }),
    metrics,
    payments,
    // The executors the sequencer has seen are the keys it can name; a challenger is its own process.
    chain: settled && {
      client: settled.client,
      roles: () => new Map(sequencer.executors().map((e) => [e.executor as string, 'executor'])),
    },
  });
  const url = await http.listen({ port: o.port, host: o.host });
  return {
    url,
    sequencer,
    close: async () => {
      await http.close();
      await sequencer.close();
      await bus.close();
      await registry.close();
    },
  };
}

export async function startExecutorRole(
  o: ExecutorRoleConfig,
): Promise<Running & { worker: ExecutorWorker }> {
  const log = o.logger ?? createLogger('optinfer');
  // A configuration this machine cannot run (cuda without its provider) is refused before anything connects.
  if (o.run) await assertRunnable(o.run, 'executor --profile');
  const sequencerUrl = o.sequencerUrl;
  const chain = o.chain && {
    client: (await connectRole(o.chain)).client,
    bondLamports: o.chain.bondLamports ?? 0n,
    // Fee claims read the jobs' inclusion proofs from the sequencer's HTTP API.
    proofs: sequencerUrl ? (id: JobId) => new HttpSource(sequencerUrl).proof(id) : undefined,
  };
  const bus = await connectBus(o.natsUrl, log, 'optinfer-executor', o.natsReplicas);
  const registry = new ModelRegistry();
  const worker = await ExecutorWorker.start({
    config: {
      ...DEFAULT_EXECUTOR_CONFIG,
      dataDir: o.dataDir,
      capacity: o.capacity,
      keypairPath: o.chain?.keypairPath ?? o.keypairPath,
      sequencerUrl: o.sequencerUrl,
      chain,
      sandbox: o.limits,
      run: o.run,
    },
    bus,
    registry,
    policy: executorPolicy(o.cheat),
    logger: log.child({ role: 'executor' }),
  }).catch(async (e) => {
    await bus.close();
    throw e;
  });
  return {
    worker,
    close: async () => {
      await worker.close();
      await bus.close();
      await registry.close();
    },
  };
}

export async function startChallengerRole(
  o: ChallengerRoleConfig,
): Promise<Running & { challenger: Challenger }> {
  const log = o.logger ?? createLogger('optinfer');
  const chain = o.chain && {
    client: (await connectRole(o.chain)).client,
    bondLamports: o.chain.bondLamports ?? 0n,
  };
  const http = new HttpSource(o.sequencerUrl);
  const source = o.modelDirs?.length ? withModelDirs(http, await ModelDirs.open(o.modelDirs)) : http;
  const bus = await connectBus(o.natsUrl, log, `optinfer-challenger-${o.id}`, o.natsReplicas);
  const registry = new ModelRegistry();
  const challenger = await Challenger.start({
    config: {
      dataDir: o.dataDir,
      id: o.id,
      sampleRate: o.sampleRate,
      chain,
      keypairPath: o.chain?.keypairPath,
      sandbox: o.limits,
    },
    bus,
    source,
    registry,
    policy: challengerPolicy(o.cheat),
    logger: log.child({ role: 'challenger' }),
  }).catch(async (e) => {
    await bus.close();
    throw e;
  });
  return {
    challenger,
    close: async () => {
      await challenger.close();
      await bus.close();
      await registry.close();
    },
  };
}
