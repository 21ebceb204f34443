// A whole optinfer deployment as separate processes: nats-server (or a 3-server JetStream cluster), the local Solana
// validator with the program, one sequencer, honest and dishonest executors, challengers. Used by the e2e suite, the demo and the benchmark.
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair, LAMPORTS_PER_SOL, PublicKey } from '@solana/web3.js';
import { startLocalChain, type LocalChain } from '../../chain/local-chain.ts';
import { saveKeypair } from '../../common/keys.ts';
import {
  connectRpc,
  DEFAULT_SO_PATH,
  PHASE,
  PROGRAM_ID,
  type DisputeAccount,
  type SettlementClient,
} from '../../settlement/index.ts';
import type { ChallengerCheat, CheatMode } from '../../adversary/index.ts';
import { DEMO_MODEL_PATH } from '../../cli/roles.ts';
import { loadModel, type LoadedModel } from '../../executor/model.ts';
import { runModel } from '../../executor/run.ts';
import { tensorSetDigest } from '../../state/tensor.ts';
import { signVoucher } from '../../state/voucher.ts';
import type { InclusionProof } from '../../state/job.ts';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.ts';
import { startNatsCluster, type NatsCluster } from '../nats/nats-cluster.ts';
import { freePort, startNode, stopNode, waitFor, type NodeProcess, runCli } from '../helpers/node-process.ts';

export interface EvilSpec {
  mode: CheatMode;
  layer?: number;
  /** Lamports this executor bonds (default EXECUTOR_BOND). */
  bond?: bigint;
}

export interface ClusterOptions {
  evil: EvilSpec[];
  honest?: number;
  challengers?: number;
  /** `--cheat` of challenger i (adversary/challenger.ts); honest when not given. */
  challengerCheats?: ChallengerCheat[];
  /** Challengers (by role name) not started with the others: Cluster.launch starts them. */
  holdBack?: string[];
  slotMs?: number;
  windowSlots?: number;
  clockSlots?: number;
  /** Default: window + 3 x clock, the program's rule (unbonding >= window + 2 x clock + margin, margin = clock). */
  unbondingSlots?: number;
  /** Lamports each honest executor bonds (default EXECUTOR_BOND). */
  executorBond?: bigint;
  batchMaxJobs?: number;
  batchMaxAgeMs?: number;
  sampleRate?: number;
  /**
   * Run the bus on a 3-server JetStream cluster (test/nats/nats-cluster.ts) instead of one nats-server: every role
   * gets all three URLs and `--nats-replicas 3`, so each durable stream keeps a copy on every server.
   */
  natsCluster?: boolean;
  /**
   * The sequencer takes payments (its default on a cluster): `submit` pays each job with the user's voucher on the
   * deposit it made at start (USER_DEPOSIT). false: `--payments off`, jobs are taken unpaid (the benchmark).
   */
  payments?: boolean;
  /** Log level of the role processes (their stderr is kept per process). */
  logLevel?: string;
  /** Called with each line a role writes to stderr. */
  onLog?: (role: string, line: string) => void;
  /** Called with a line at each start-up step. */
  progress?: (msg: string) => void;
}

export const MIN_EXECUTOR_BOND = 2n * BigInt(LAMPORTS_PER_SOL);
/**
 * What executors bond: 16 stakes. The sequencer keeps an executor's unfinalized jobs x min_executor_bond within
 * its free bond, so a bond of one stake would run one job per challenge window.
 */
export const EXECUTOR_BOND = 16n * MIN_EXECUTOR_BOND;
export const MIN_CHALLENGER_BOND = BigInt(LAMPORTS_PER_SOL);
export const CHALLENGER_BOND = 20n * BigInt(LAMPORTS_PER_SOL);
export const BOUNTY_BPS = 5000;
/** What the cluster's user deposits at start (`optinfer deposit`) to pay its jobs. */
export const USER_DEPOSIT = BigInt(LAMPORTS_PER_SOL);

export interface Role {
  name: string;
  kind: 'sequencer' | 'executor' | 'challenger';
  args: string[];
  ready: RegExp;
  keypair: Keypair;
  cheat?: EvilSpec;
  /** A challenger's `--cheat` mode, when dishonest. */
  challengerCheat?: ChallengerCheat;
  proc?: NodeProcess;
  restarts: number;
}

export interface JobResult {
  jobId: string;
  status: string;
  executor?: string;
  outputDigest?: string;
  proof?: InclusionProof;
  batch?: { index: number; root: string };
}

export interface Cluster {
  dir: string;
  seqUrl: string;
  rpcUrl: string;
  client: SettlementClient;
  treasury: PublicKey;
  roles: Map<string, Role>;
  executors: Role[];
  challengers: Role[];
  modelId: string;
  model: LoadedModel;
  /** The 3-server NATS cluster the roles use (ClusterOptions.natsCluster), to kill a server; else undefined. */
  natsCluster?: NatsCluster;
  /** The user who deposited USER_DEPOSIT at start and pays every job `submit` sends (with payments on). */
  user: Keypair;
  /** The sequencer's key (the key a voucher names). */
  sequencer: PublicKey;
  /**
   * Submits a job on the demo model, paid by the user's voucher raising its running total by the job's fee (with
   * payments on); returns its id, its fee and the output digest an honest run gives.
   */
  submit(seed: number): Promise<{ jobId: string; expected: string; fee: bigint }>;
  job(id: string): Promise<JobResult>;
  /** kill -9 a role, then start it again with the same arguments, data dir and key. */
  crash(name: string): Promise<void>;
  /** Starts a held-back role (ClusterOptions.holdBack). */
  launch(name: string): Promise<void>;
  /**
   * Every dispute on chain now, and every resolved one seen since the start as last seen: challengers close
   * their resolved games once the batch is final (rent recovery), so the chain alone forgets them. Moot games
   * (closed by end_moot_game before resolving) are left out, as the chain leaves them out.
   */
  disputes(): Promise<{ address: PublicKey; dispute: DisputeAccount }[]>;
  /** Whether batch `index` is final on chain with root `root`: finalized, or closed (only a final batch can be; its root left with it). */
  batchFinal(index: number | bigint, root?: string): Promise<boolean>;
  stop(): Promise<void>;
  /** The stderr of every role, for a failure report. */
  logs(): string;
}

export function demoInputs(seed: number) {
  return {
    x: {
      dtype: 'int8' as const,
      dims: [1, 16],
      data: Array.from({ length: 16 }, (_, k) => ((k * 7 + seed * 13) % 101) - 50),
    },
  };
}

export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  const slotMs = o.slotMs ?? 100;
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-cluster-'));
  const keyFile = (name: string, k: Keypair) => {
    const f = join(dir, 'keys', `${name}.json`);
    mkdirSync(join(dir, 'keys'), { recursive: true });
    saveKeypair(f, k);
    return f;
  };
  const authority = Keypair.generate();
  const sequencer = Keypair.generate();
  const treasury = Keypair.generate().publicKey;
  const honestCount = o.honest ?? 1;
  const execSpecs: { name: string; cheat?: EvilSpec }[] = [
    ...Array.from({ length: honestCount }, (_, i) => ({ name: `honest-${i}` })),
    ...o.evil.map((cheat, i) => ({ name: `evil-${i}-${cheat.mode}`, cheat })),
  ];
  const execKeys = execSpecs.map(() => Keypair.generate());
  const chalKeys = Array.from({ length: o.challengers ?? 2 }, () => Keypair.generate());
  const user = Keypair.generate();
  const payments = o.payments ?? true;
  const sol = (n: number) => BigInt(n) * BigInt(LAMPORTS_PER_SOL);
  let nats: NatsServerHandle | undefined;
  let natsCluster: NatsCluster | undefined;
  let chain: LocalChain | undefined;
  const roles = new Map<string, Role>();
  const stop = async () => {
    await Promise.all(
      [...roles.values()].map((r) => (r.proc ? stopNode(r.proc).catch(() => {}) : undefined)),
    );
    await chain?.stop();
    await nats?.dispose();
    await natsCluster?.dispose();
  };
  const say = o.progress ?? (() => {});
  try {
    say('starting the local Solana validator with the optinfer program');
    chain = await startLocalChain({
      programs: [{ programId: PROGRAM_ID, soPath: DEFAULT_SO_PATH }],
      // 100 SOL each, and an executor's bond on top (a benchmark bonds for every job it keeps unfinalized);
      // the sequencer's batch fault reserves on top of its own.
      airdrops: [authority, sequencer, ...execKeys, ...chalKeys, user].map((k, i) => {
        const spec = i >= 2 && i < 2 + execSpecs.length ? execSpecs[i - 2] : undefined;
        const bond = spec ? (spec.cheat?.bond ?? o.executorBond ?? EXECUTOR_BOND) : 0n;
        // The sequencer moves one fault slash into each batch it commits, back at close_batch.
        const reserves = i === 1 ? sol(400) : 0n;
        return { pubkey: k.publicKey, lamports: sol(100) + bond + reserves };
      }),
      slotTimeMs: slotMs,
    });
    let natsArgs: string[];
    if (o.natsCluster) {
      say(`validator up at ${chain.rpcUrl} in ${chain.startupMs} ms; starting a 3-server JetStream cluster`);
      natsCluster = await startNatsCluster({ maxPayload: 8 * 1024 * 1024 });
      const leader = await natsCluster.waitForMetaLeader();
      say(`NATS cluster formed (meta leader ${leader})`);
      natsArgs = ['--nats', natsCluster.urls, '--nats-replicas', String(natsCluster.servers.length)];
    } else {
      say(`validator up at ${chain.rpcUrl} in ${chain.startupMs} ms; starting nats-server`);
      nats = await startNatsServer({ maxPayload: 8 * 1024 * 1024 });
      natsArgs = ['--nats', nats.url];
    }
    const rpc = chain.rpcUrl;
    say('optinfer chain init');
    const init = await runCli([
      'chain',
      'init',
      '--rpc',
      rpc,
      '--ws',
      chain.wsUrl,
      '--authority-keypair',
      keyFile('authority', authority),
      '--sequencer',
      sequencer.publicKey.toBase58(),
      '--treasury',
      treasury.toBase58(),
      '--challenge-window-slots',
      String(o.windowSlots ?? 300),
      '--clock-slots',
      String(o.clockSlots ?? 300),
      '--unbonding-slots',
      String(o.unbondingSlots ?? (o.windowSlots ?? 300) + 3 * (o.clockSlots ?? 300)),
      '--min-executor-bond',
      MIN_EXECUTOR_BOND.toString(),
      '--min-challenger-bond',
      MIN_CHALLENGER_BOND.toString(),
      '--bounty-bps',
      String(BOUNTY_BPS),
    ]);
    if (init.code !== 0) throw new Error(`optinfer chain init failed (${init.code}):\n${init.out}`);
    if (payments) {
      say('optinfer deposit: the user pays its jobs from a deposit on chain');
      const dep = await runCli([
        'deposit',
        USER_DEPOSIT.toString(),
        '--rpc',
        rpc,
        '--ws',
        chain.wsUrl,
        '--keypair',
        keyFile('user', user),
        '--json',
      ]);
      if (dep.code !== 0) throw new Error(`optinfer deposit failed (${dep.code}):\n${dep.out}`);
    }

    const port = await freePort();
    const seqUrl = `http://127.0.0.1:${port}`;
    const common = natsArgs;
    const add = (r: Omit<Role, 'restarts'>) => roles.set(r.name, { ...r, restarts: 0 });
    add({
      name: 'sequencer',
      kind: 'sequencer',
      keypair: sequencer,
      ready: /listening on/,
      args: [
        'sequencer',
        ...common,
        '--port',
        String(port),
        '--data-dir',
        join(dir, 'sequencer'),
        '--batch-max-jobs',
        String(o.batchMaxJobs ?? 4),
        '--batch-max-age-ms',
        String(o.batchMaxAgeMs ?? 500),
        '--rpc',
        rpc,
        '--ws',
        chain.wsUrl,
        '--keypair',
        keyFile('sequencer', sequencer),
        '--authority-keypair',
        keyFile('authority', authority),
        '--slot-ms',
        String(slotMs),
        ...(payments ? [] : ['--payments', 'off']),
      ],
    });
    execSpecs.forEach((e, i) =>
      add({
        name: e.name,
        kind: 'executor',
        keypair: execKeys[i],
        cheat: e.cheat,
        ready: /executor \S+ running/,
        args: [
          'executor',
          ...common,
          '--sequencer',
          seqUrl,
          '--data-dir',
          join(dir, e.name),
          '--rpc',
          rpc,
          '--ws',
          chain!.wsUrl,
          '--keypair',
          keyFile(e.name, execKeys[i]),
          '--bond-lamports',
          String(e.cheat?.bond ?? o.executorBond ?? EXECUTOR_BOND),
          ...(e.cheat
            ? ['--cheat', e.cheat.mode, '--cheat-rate', '1', '--cheat-layer', String(e.cheat.layer ?? 0)]
            : []),
        ],
      }),
    );
    chalKeys.forEach((k, i) =>
      add({
        name: `challenger-${i}`,
        kind: 'challenger',
        keypair: k,
        challengerCheat:
          o.challengerCheats?.[i] && o.challengerCheats[i] !== 'none' ? o.challengerCheats[i] : undefined,
        ready: /challenger \S+ running/,
        args: [
          'challenger',
          ...common,
          '--sequencer',
          seqUrl,
          '--data-dir',
          join(dir, `challenger-${i}`),
          '--id',
          `c${i}`,
          '--sample-rate',
          String(o.sampleRate ?? 1),
          '--rpc',
          rpc,
          '--ws',
          chain!.wsUrl,
          '--keypair',
          keyFile(`challenger-${i}`, k),
          '--bond-lamports',
          CHALLENGER_BOND.toString(),
          ...(o.challengerCheats?.[i] ? ['--cheat', o.challengerCheats[i]] : []),
        ],
      }),
    );
    const env = { OPTINFER_LOG_LEVEL: o.logLevel ?? 'info', OPTINFER_LOG_FORMAT: 'json' };
    const launch = async (r: Role) => {
      r.proc = await startNode(r.args, r.ready, 120_000, env);
      if (o.onLog) {
        let buf = '';
        r.proc.child.stderr!.on('data', (d: Buffer) => {
          buf += d.toString();
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            o.onLog!(r.name, buf.slice(0, nl));
            buf = buf.slice(nl + 1);
          }
        });
      }
    };
    say('starting the sequencer');
    await launch(roles.get('sequencer')!);
    say(`starting ${execSpecs.length} executors and ${chalKeys.length} challengers`);
    // Executors and challengers start side by side: each loads onnxruntime and bonds on chain.
    await Promise.all(
      [...roles.values()]
        .filter((r) => r.kind !== 'sequencer' && !(r.kind === 'challenger' && o.holdBack?.includes(r.name)))
        .map(launch),
    );
    await waitFor(
      'every executor joined the sequencer',
      async () =>
        ((await (await fetch(`${seqUrl}/healthz`)).json()) as { executors: number }).executors ===
        execSpecs.length,
      60_000,
      200,
    );
    const model = await loadModel(new Uint8Array(readFileSync(DEMO_MODEL_PATH)));
    const { client } = connectRpc({ rpc, ws: chain.wsUrl });
    const job = async (id: string) => (await (await fetch(`${seqUrl}/v1/jobs/${id}`)).json()) as JobResult;
    // Remember every dispute as last seen: a resolved game's account is closed once its batch is final.
    const seen = new Map<string, { address: PublicKey; dispute: DisputeAccount }>();
    const look = async () => {
      for (const x of await client.listDisputes()) seen.set(x.address.toBase58(), x);
    };
    // The user's running total of vouchers to this sequencer: each job's voucher raises it by the job's fee.
    let vouched = 0n;
    const voucher = (fee: bigint) => {
      vouched += fee;
      const terms = { programId: PROGRAM_ID, user: user.publicKey, sequencer: sequencer.publicKey };
      return {
        user: user.publicKey.toBase58(),
        cumulative: vouched.toString(),
        signature: signVoucher({ ...terms, cumulative: vouched }, user.secretKey).toString('hex'),
      };
    };
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        await look().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const stopAll = stop;
    const stopWatching = async () => {
      watching = false;
      await watcher;
    };
    return {
      dir,
      seqUrl,
      rpcUrl: rpc,
      client,
      treasury,
      roles,
      executors: [...roles.values()].filter((r) => r.kind === 'executor'),
      challengers: [...roles.values()].filter((r) => r.kind === 'challenger'),
      modelId: model.modelId,
      model,
      natsCluster,
      user,
      sequencer: sequencer.publicKey,
      async submit(seed) {
        const inputs = demoInputs(seed);
        // A fee of its own per job, so the fees each executor is paid name exactly its jobs.
        const fee = BigInt(10_000 + 7 * seed);
        const payment = payments ? voucher(fee) : undefined;
        const res = await fetch(`${seqUrl}/v1/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ modelId: model.modelId, inputs, fee: fee.toString(), payment }),
        });
        if (res.status !== 202) {
          // Not taken: the sequencer holds no voucher of it, so the running total goes back.
          if (payment) vouched -= fee;
          throw new Error(`submit: HTTP ${res.status} ${await res.text()}`);
        }
        const { jobId } = (await res.json()) as { jobId: string };
        const x = inputs.x;
        const { outputs } = await runModel(model, {
          x: { dtype: 'int8', dims: x.dims, data: new Uint8Array(Int8Array.from(x.data).buffer) },
        });
        return { jobId, expected: tensorSetDigest(outputs), fee };
      },
      job,
      async disputes() {
        const now = await client.listDisputes();
        for (const x of now) seen.set(x.address.toBase58(), x);
        const live = new Set(now.map((x) => x.address.toBase58()));
        // A game gone before it resolved was moot (end_moot_game closes it at once, nothing moved); one gone
        // after was closed by its challenger once its batch was final, and is kept as last seen.
        return [...seen.values()].filter(
          (x) => live.has(x.address.toBase58()) || x.dispute.phase === PHASE.RESOLVED,
        );
      },
      async batchFinal(index, root) {
        const s = await client.batchState(index);
        if (s.state === 'closed') return true;
        if (s.state !== 'open' || s.batch.finalized === 0) return false;
        return root === undefined || Buffer.from(s.batch.root).toString('hex') === root;
      },
      async launch(name) {
        const r = roles.get(name);
        if (!r) throw new Error(`no role ${name}`);
        if (r.proc) throw new Error(`${name} is already running`);
        await launch(r);
      },
      async crash(name) {
        const r = roles.get(name);
        if (!r?.proc) throw new Error(`no running role ${name}`);
        await stopNode(r.proc, 'SIGKILL');
        r.restarts++;
        await launch(r);
      },
      stop: async () => {
        await stopWatching();
        await stopAll();
        await model.close();
      },
      logs: () =>
        [...roles.values()]
          .map((r) => `----- ${r.name} (${r.restarts} restarts)\n${r.proc?.stderr().slice(-6000) ?? ''}`)
          .join('\n'),
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
