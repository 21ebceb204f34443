// One typed, validated config per role: flags and OPTINFER_* variables → config, with errors in the option's unit.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_NATS_URL, MAX_STREAM_REPLICAS } from '../bus/nats.ts';
import { DEFAULT_SAMPLE_RATE } from '../challenger/challenger.ts';
import {
  CHALLENGER_CHEAT_MODES,
  CHEAT_MODES,
  type ChallengerCheat,
  type CheatConfig,
} from '../adversary/index.ts';
import { DEFAULT_SEQUENCER_CONFIG } from '../sequencer/sequencer.ts';
import { MAX_BATCH_JOBS } from '../settlement/instructions.ts';
import { OptinferError } from '../state/errors.ts';
import { asSampleRate } from '../state/sample.ts';
import type { Logger } from '../common/log.ts';
import type { SettlementClient } from '../settlement/client.ts';
import { DEFAULT_SANDBOX_LIMITS, type SandboxLimits } from '../executor/sandbox/pool.ts';
import { parseRunConfig, RUN_CONFIG_HELP, type RunConfig } from '../executor/run-config.ts';

const MiB = 1024 * 1024;

export const DEFAULT_PORT = 8787;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_DATA_DIR = '.optinfer';
export const DEFAULT_SEQUENCER_URL = `http://${DEFAULT_HOST}:${DEFAULT_PORT}`;
export const DEFAULT_RPC_URL = 'http://127.0.0.1:8899';
/** Short so a person watching the dev node sees jobs reach `finalized`. */
export const DEV_CHALLENGE_WINDOW_MS = 20_000;
/** Solana's target slot time, to estimate when a window ends. */
export const DEFAULT_CLUSTER_SLOT_MS = 400;
export const DEFAULT_DEV_SAMPLE_RATE = 0.5;
export const DEFAULT_DEV_EXECUTORS = 2;
export const DEFAULT_EXECUTOR_CAPACITY = 2;
/** Requests per second per API key when keys are set and --rate-limit is not. */
export const DEFAULT_KEY_RATE_LIMIT = 50;

// ---- Parsers: each error names the option and its unit ---------------------------------------------------

export function int(name: string, min: number, max: number, unit = 'an integer') {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v))
      throw new InvalidArgumentError(`${name}: expected ${unit}, got ${JSON.stringify(v)}`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`${name}: expected ${min}..${max}, got ${n}`);
    return n;
  };
}

export const ms = (name: string, min: number, max: number) =>
  int(name, min, max, 'a whole number of milliseconds');

/** A probability; the sample rate goes through the one validator the challenger itself uses. */
export function rate(name: string) {
  return (v: string): number => {
    const n = v.trim() === '' ? NaN : Number(v);
    try {
      return asSampleRate(n, name);
    } catch {
      throw new InvalidArgumentError(`${name}: expected a number between 0 and 1, got ${JSON.stringify(v)}`);
    }
  };
}

/** A u64 quantity in its own unit (lamports, slots). */
export function u64(name: string, unit: 'lamports' | 'slots') {
  return (v: string): bigint => {
    if (!/^\d+$/.test(v))
      throw new InvalidArgumentError(`${name}: expected a whole number of ${unit}, got ${JSON.stringify(v)}`);
    const n = BigInt(v);
    if (n > 0xffff_ffff_ffff_ffffn)
      throw new InvalidArgumentError(`${name}: expected at most 2^64 - 1 ${unit}, got ${v}`);
    return n;
  };
}

/** An API key: 16 to 256 visible ASCII characters, so it travels in a header as written. */
export function apiKey(name: string) {
  return (v: string): string => {
    if (!/^[\x21-\x7e]{16,256}$/.test(v))
      throw new InvalidArgumentError(
        `${name}: expected 16 to 256 visible ASCII characters (no spaces), got ${v.length} characters`,
      );
    return v;
  };
}

export function url(name: string) {
  return (v: string): string => {
    try {
      new URL(v);
    } catch {
      throw new InvalidArgumentError(`${name}: expected a URL, got ${JSON.stringify(v)}`);
    }
    return v.replace(/\/+$/, '');
  };
}

function oneOf<T extends string>(name: string, values: readonly T[]) {
  return (v: string): T => {
    if (!(values as readonly string[]).includes(v))
      throw new InvalidArgumentError(
        `${name}: expected one of ${values.join(', ')}; got ${JSON.stringify(v)}`,
      );
    return v as T;
  };
}

// ---- Options shared by the role commands -------------------------------------------------------------------

export const opt = {
  port: () =>
    new Option('--port <n>', 'HTTP port')
      .env('OPTINFER_PORT')
      .default(DEFAULT_PORT)
      .argParser(int('port', 0, 65535)),
  host: () => new Option('--host <addr>', 'HTTP listen address').env('OPTINFER_HOST').default(DEFAULT_HOST),
  dataDir: (dflt: string) =>
    new Option('--data-dir <dir>', 'where LevelDB and keys live').env('OPTINFER_DATA_DIR').default(dflt),
  nats: () =>
    new Option('--nats <url>', 'NATS server (nats-server -js); several servers of a cluster: comma-separated')
      .env('OPTINFER_NATS_URL')
      .default(DEFAULT_NATS_URL),
  natsReplicas: () =>
    new Option(
      '--nats-replicas <n>',
      'copies of each durable stream on a JetStream cluster (at most its servers); new streams get 1 without it',
    )
      .env('OPTINFER_NATS_REPLICAS')
      .argParser(int('nats-replicas', 1, MAX_STREAM_REPLICAS)),
  sequencer: () =>
    new Option('--sequencer <url>', 'sequencer HTTP API')
      .env('OPTINFER_SEQUENCER_URL')
      .default(DEFAULT_SEQUENCER_URL)
      .argParser(url('sequencer')),
  executors: () =>
    new Option('--executors <n>', 'executors to run')
      .env('OPTINFER_EXECUTORS')
      .default(DEFAULT_DEV_EXECUTORS)
      .argParser(int('executors', 1, 64)),
  capacity: () =>
    new Option('--capacity <n>', 'jobs run at once')
      .env('OPTINFER_CAPACITY')
      .default(DEFAULT_EXECUTOR_CAPACITY)
      .argParser(int('capacity', 1, 256)),
  batchMaxJobs: () =>
    new Option('--batch-max-jobs <n>', 'cut a batch at this many executed jobs')
      .env('OPTINFER_BATCH_MAX_JOBS')
      .default(DEFAULT_SEQUENCER_CONFIG.batchMaxJobs)
      .argParser(int('batch-max-jobs', 1, MAX_BATCH_JOBS)), // commit_batch refuses more
  batchMaxAge: () =>
    new Option('--batch-max-age-ms <ms>', '... or when the oldest executed job has waited this long')
      .env('OPTINFER_BATCH_MAX_AGE_MS')
      .default(DEFAULT_SEQUENCER_CONFIG.batchMaxAgeMs)
      .argParser(ms('batch-max-age-ms', 1, 3_600_000)),
  maxAttempts: () =>
    new Option(
      '--max-attempts <n>',
      'runs a job gets (on different executors where it can) before it ends failed',
    )
      .env('OPTINFER_MAX_ATTEMPTS')
      .default(DEFAULT_SEQUENCER_CONFIG.maxAttempts)
      .argParser(int('max-attempts', 1, 100)),
  durable: () =>
    new Option(
      '--durable',
      'fsync every database write before acknowledging it: acknowledged jobs survive a power loss, at a cost in jobs/s',
    ),
  timeLimit: () =>
    new Option('--time-limit-ms <ms>', 'wall time one model run may take before it is killed (TIME_LIMIT)')
      .env('OPTINFER_TIME_LIMIT_MS')
      .default(DEFAULT_SANDBOX_LIMITS.timeMs)
      .argParser(ms('time-limit-ms', 100, 3_600_000)),
  memoryLimit: () =>
    new Option(
      '--memory-limit-mb <MiB>',
      'resident memory one model run may reach before it is killed (MEMORY_LIMIT)',
    )
      .env('OPTINFER_MEMORY_LIMIT_MB')
      .default(DEFAULT_SANDBOX_LIMITS.memoryBytes / MiB)
      .argParser(int('memory-limit-mb', 256, 1 << 20, 'a whole number of MiB')),
  window: (dflt: number) =>
    new Option('--challenge-window-ms <ms>', 'time a batch stays open to disputes')
      .env('OPTINFER_CHALLENGE_WINDOW_MS')
      .default(dflt)
      .argParser(ms('challenge-window-ms', 0, 30 * 86_400_000)),
  sampleRate: (dflt: number) =>
    new Option('--sample-rate <p>', 'probability that the challenger audits a job')
      .env('OPTINFER_SAMPLE_RATE')
      .default(dflt)
      .argParser(rate('sample-rate')),
  cheat: () =>
    new Option('--cheat <mode>', `test knob: make this executor dishonest (${CHEAT_MODES.join(' | ')})`)
      .env('OPTINFER_CHEAT')
      .default('none')
      .argParser(oneOf('cheat', CHEAT_MODES)),
  cheatRate: () =>
    new Option('--cheat-rate <r>', 'fraction of jobs the cheat applies to')
      .env('OPTINFER_CHEAT_RATE')
      .default(1)
      .argParser(rate('cheat-rate')),
  profile: (flag: '--profile' | '--executor-profile', what: string) =>
    new Option(`${flag} <spec>`, `${what}${RUN_CONFIG_HELP}`)
      .env(flag === '--profile' ? 'OPTINFER_PROFILE' : 'OPTINFER_EXECUTOR_PROFILE')
      .argParser((v: string): RunConfig => {
        try {
          return parseRunConfig(v, flag.slice(2));
        } catch (e) {
          throw new InvalidArgumentError((e as Error).message);
        }
      }),
  cheatLayer: () =>
    new Option('--cheat-layer <k>', 'first wrong layer for --cheat wrong-layer and equivocate')
      .env('OPTINFER_CHEAT_LAYER')
      .default(0)
      .argParser(int('cheat-layer', 0, 1 << 20)),
  challengerCheat: () =>
    new Option(
      '--cheat <mode>',
      'test knob: false-alarm disputes every audited job; squat opens games on wrong jobs and abandons them',
    )
      .env('OPTINFER_CHEAT')
      .default('none')
      .argParser(oneOf('cheat', CHALLENGER_CHEAT_MODES)),
  rpc: () =>
    new Option(
      '--rpc <url>',
      'settle on the optinfer program at this Solana JSON-RPC endpoint (needs --keypair)',
    )
      .env('OPTINFER_RPC_URL')
      .argParser(url('rpc')),
  /** For the read-only operator commands, which always talk to a cluster. */
  rpcWithDefault: () =>
    new Option('--rpc <url>', 'Solana JSON-RPC endpoint')
      .env('OPTINFER_RPC_URL')
      .default(DEFAULT_RPC_URL)
      .argParser(url('rpc')),
  ws: () =>
    new Option('--ws <url>', 'websocket endpoint of the cluster (default: derived from --rpc)')
      .env('OPTINFER_WS_URL')
      .argParser(url('ws')),
  keypair: (what: string) =>
    new Option('--keypair <file>', `${what} (Solana CLI keypair file)`).env('OPTINFER_KEYPAIR'),
  authorityKeypair: () =>
    new Option(
      '--authority-keypair <file>',
      "the program's authority, to register provable models on chain",
    ).env('OPTINFER_AUTHORITY_KEYPAIR'),
  slotMs: () =>
    new Option('--slot-ms <ms>', "the cluster's slot time, to estimate when windows end")
      .env('OPTINFER_SLOT_MS')
      .default(DEFAULT_CLUSTER_SLOT_MS)
      .argParser(ms('slot-ms', 1, 60_000)),
  apiKey: () =>
    new Option(
      '--api-key <key>',
      'require this API key (Authorization: Bearer KEY) for uploads and jobs; repeat for more keys',
    )
      .env('OPTINFER_API_KEY')
      .default([])
      .argParser((v: string, prev: string[]) => [...prev, apiKey('api-key')(v)]),
  apiKeysFile: () =>
    new Option('--api-keys-file <file>', 'API keys, one per line (# comments), as --api-key').env(
      'OPTINFER_API_KEYS_FILE',
    ),
  rateLimit: () =>
    new Option(
      '--rate-limit <n>',
      `requests per second per API key to uploads and jobs, in one-second windows (default ${DEFAULT_KEY_RATE_LIMIT} with keys, none without; 0: none)`,
    )
      .env('OPTINFER_RATE_LIMIT')
      .argParser(int('rate-limit', 0, 1_000_000)),
  payments: () =>
    new Option(
      '--payments <mode>',
      "with --rpc: on (the default) takes a job only with its user's voucher on an on-chain deposit (else HTTP 402, naming the fee and, when the deposit is short, the balance available) and draws each user's finalized fees from its deposit; off takes every job unpaid, the sequencer's wallet escrowing the executors' fees",
    )
      .env('OPTINFER_PAYMENTS')
      .argParser(oneOf('payments', ['on', 'off'] as const)),
  bond: () =>
    new Option('--bond-lamports <n>', "lamports to keep bonded with --rpc (default: the program's minimum)")
      .env('OPTINFER_BOND_LAMPORTS')
      .argParser(u64('bond-lamports', 'lamports')),
};

// ---- What each command's flags parse to (commander fills these; the parsers above checked every value) -----

interface ChainFlags {
  rpc?: string;
  ws?: string;
  keypair?: string;
}
interface ApiFlags {
  apiKey: string[];
  apiKeysFile?: string;
  rateLimit?: number;
}
interface LimitFlags {
  timeLimitMs: number;
  memoryLimitMb: number;
}
interface CheatFlags {
  cheat: CheatConfig['mode'];
  cheatRate: number;
  cheatLayer: number;
}
export interface DevFlags extends ChainFlags, CheatFlags, ApiFlags, LimitFlags {
  port: number;
  host: string;
  dataDir: string;
  executors: number;
  sampleRate: number;
  batchMaxJobs: number;
  batchMaxAgeMs: number;
  maxAttempts: number;
  durable?: boolean;
  challengeWindowMs: number;
  chain: 'none' | 'litesvm';
  authorityKeypair?: string;
  slotMs: number;
  /** Unset: on with --rpc; the embedded chain always takes payments (a funded default payer pays unpaid jobs). */
  payments?: 'on' | 'off';
  /** The executors' run configuration (`--executor-profile`); canonical when unset. */
  executorProfile?: RunConfig;
}
export interface SequencerFlags extends ChainFlags, ApiFlags {
  memoryLimitMb?: number;
  nats: string;
  natsReplicas?: number;
  port: number;
  host: string;
  dataDir: string;
  batchMaxJobs: number;
  batchMaxAgeMs: number;
  maxAttempts: number;
  durable?: boolean;
  challengeWindowMs: number;
  authorityKeypair?: string;
  slotMs: number;
  /** Unset: on with --rpc, off without. */
  payments?: 'on' | 'off';
}
export interface ExecutorFlags extends ChainFlags, CheatFlags, LimitFlags {
  nats: string;
  natsReplicas?: number;
  sequencer: string;
  dataDir: string;
  capacity: number;
  bondLamports?: bigint;
  profile?: RunConfig;
}
export interface ChallengerFlags extends ChainFlags, LimitFlags {
  nats: string;
  natsReplicas?: number;
  sequencer: string;
  dataDir: string;
  id: string;
  sampleRate: number;
  bondLamports?: bigint;
  cheat: ChallengerCheat;
  models?: string[];
}

// ---- Role configs ---------------------------------------------------------------------------------------------

/** A role's settlement on a cluster: `--rpc URL --keypair FILE` (Solana CLI format). */
export interface RoleChainConfig {
  rpc: string;
  /** Websocket endpoint for confirmations; default: web3.js derives it from rpc (port + 1). */
  ws?: string;
  keypairPath: string;
  /** Lamports an executor or challenger keeps bonded (at least the program's minimum). */
  bondLamports?: bigint;
  /** Sequencer only: the Config authority's keypair, to register provable models on chain. */
  authorityKeypairPath?: string;
  /** Sequencer only: the cluster's slot time, to estimate when a challenge window ends. */
  slotMs?: number;
  /** An already connected client for the program instead of one for `rpc` (tests: the program in LiteSVM). */
  client?: SettlementClient;
}

/** Who may call the API's write routes, and how often (sequencer/http.ts). */
export interface ApiAccessConfig {
  /** API keys accepted for POST /v1/models and /v1/jobs; none: the API is open (the default). */
  apiKeys?: string[];
  /** Requests per second to those routes per key (per client address on an open node); 0 or unset: no limit. */
  rateLimit?: number;
  /** Largest model upload, in bytes (default 256 MiB). */
  maxModelBytes?: number;
}

export interface SequencerRoleConfig extends ApiAccessConfig {
  natsUrl: string;
  /** Copies of each durable stream (--nats-replicas); unset: 1 for new streams, existing ones kept. */
  natsReplicas?: number;
  port: number;
  host: string;
  dataDir: string;
  batchMaxJobs: number;
  batchMaxAgeMs: number;
  /** Default: the sequencer's (3). */
  maxAttempts?: number;
  /** fsync every database write before acknowledging it (`--durable`). */
  durable?: boolean;
  challengeWindowMs: number;
  chain?: RoleChainConfig;
  /**
   * With `chain`: jobs must be paid by the user's voucher on its deposit, and finalized fees are drawn (the default);
   * false takes jobs unpaid. Without `chain` there are no deposits and no payments.
   */
  payments?: boolean;
  /** Uploads whose estimated largest tensor is over this many bytes are refused (the executors' memory limit). */
  maxTensorBytes?: number;
  logger?: Logger;
}

export interface DevConfig extends ApiAccessConfig {
  port: number;
  host: string;
  dataDir: string;
  executors: number;
  sampleRate: number;
  batchMaxJobs: number;
  batchMaxAgeMs: number;
  /** Default: the sequencer's (3). */
  maxAttempts?: number;
  /** fsync every database write before acknowledging it (`--durable`). */
  durable?: boolean;
  challengeWindowMs: number;
  /** Executor 0's dishonesty (test knob); 'none' for an honest node. */
  cheat: CheatConfig;
  /** 'litesvm': settle on the real program in an in-process Solana VM, saved to <data dir>/chain.json. */
  chain?: 'none' | 'litesvm';
  /** Settle on the program on a cluster instead; the keypair is the program's sequencer and funds the node. */
  rpc?: RoleChainConfig;
  /**
   * With `rpc`: jobs must be paid by the user's voucher on its deposit, and finalized fees are drawn (the default);
   * false takes jobs unpaid. The embedded chain (`chain: 'litesvm'`) always takes payments, a funded default payer
   * paying the jobs sent without one; without a chain there are no payments.
   */
  payments?: boolean;
  /** Time and memory limits of each model run (the sandbox's); default DEFAULT_SANDBOX_LIMITS. */
  limits?: SandboxLimits;
  /** How the executors run models (`--executor-profile`); the challenger stays canonical. Unset: canonical. */
  executorRun?: RunConfig;
  logger?: Logger;
}

export interface ExecutorRoleConfig {
  natsUrl: string;
  /** Copies of each durable stream (--nats-replicas); unset: 1 for new streams, existing ones kept. */
  natsReplicas?: number;
  sequencerUrl: string;
  dataDir: string;
  capacity: number;
  keypairPath?: string;
  cheat: CheatConfig;
  chain?: RoleChainConfig;
  /** Time and memory limits of each model run (the sandbox's); default DEFAULT_SANDBOX_LIMITS. */
  limits?: SandboxLimits;
  /** How this executor runs models (`--profile`); unset: canonical. */
  run?: RunConfig;
  logger?: Logger;
}

export interface ChallengerRoleConfig {
  natsUrl: string;
  /** Copies of each durable stream (--nats-replicas); unset: 1 for new streams, existing ones kept. */
  natsReplicas?: number;
  sequencerUrl: string;
  dataDir: string;
  id: string;
  sampleRate: number;
  chain?: RoleChainConfig;
  cheat?: ChallengerCheat;
  /** Directories of ONNX files read before asking the sequencer for a model's bytes (--models). */
  modelDirs?: string[];
  /** Time and memory limits of each model run (the sandbox's); default DEFAULT_SANDBOX_LIMITS. */
  limits?: SandboxLimits;
  logger?: Logger;
}

/** The role's --rpc/--keypair pair, checked together. */
export function roleChain(
  o: ChainFlags & { bondLamports?: bigint },
  role: string,
): RoleChainConfig | undefined {
  if (!o.rpc) return undefined;
  if (!o.keypair)
    throw new OptinferError(
      'INVALID_CONFIG',
      `${role} --rpc ${o.rpc}: expected --keypair FILE with it (the ${role}'s funded Solana keypair)`,
    );
  return { rpc: o.rpc, ws: o.ws, keypairPath: resolve(o.keypair), bondLamports: o.bondLamports };
}

/** --api-key and --api-keys-file together, and the rate limit (on by default once there are keys). */
export function apiAccess(o: ApiFlags): ApiAccessConfig {
  const keys = [...o.apiKey];
  if (o.apiKeysFile) {
    let text: string;
    try {
      text = readFileSync(o.apiKeysFile, 'utf8');
    } catch (e) {
      throw new OptinferError(
        'INVALID_CONFIG',
        `--api-keys-file ${o.apiKeysFile}: cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    for (const [i, line] of text.split('\n').entries()) {
      const k = line.replace(/#.*/, '').trim();
      if (k === '') continue;
      try {
        keys.push(apiKey(`--api-keys-file line ${i + 1}`)(k));
      } catch (e) {
        throw new OptinferError('INVALID_CONFIG', (e as Error).message);
      }
    }
    if (keys.length === 0)
      throw new OptinferError(
        'INVALID_CONFIG',
        `--api-keys-file ${o.apiKeysFile}: expected at least one key, got none (an empty file would leave the API open)`,
      );
  }
  const apiKeys = [...new Set(keys)];
  return {
    apiKeys,
    rateLimit: o.rateLimit ?? (apiKeys.length > 0 ? DEFAULT_KEY_RATE_LIMIT : 0),
  };
}

const cheatOf = (o: CheatFlags): CheatConfig => ({ mode: o.cheat, rate: o.cheatRate, layer: o.cheatLayer });
const limitsOf = (o: LimitFlags): SandboxLimits => ({
  timeMs: o.timeLimitMs,
  memoryBytes: o.memoryLimitMb * MiB,
});

export function devConfig(o: DevFlags, logger?: Logger): DevConfig {
  const rpc = roleChain(o, 'dev');
  if (!rpc && o.payments === 'off' && o.chain === 'litesvm')
    throw new OptinferError(
      'INVALID_CONFIG',
      '--payments off: applies with --rpc URL --keypair FILE; the embedded chain pays the jobs sent without a voucher from its funded default payer',
    );
  if (!rpc && o.payments === 'on' && o.chain === 'none')
    throw new OptinferError(
      'INVALID_CONFIG',
      '--payments on: expected --rpc URL --keypair FILE or --chain litesvm with it (deposits live on the optinfer program)',
    );
  return {
    payments: rpc ? o.payments !== 'off' : o.chain === 'litesvm',
    chain: o.chain,
    rpc: rpc && {
      ...rpc,
      slotMs: o.slotMs,
      authorityKeypairPath: o.authorityKeypair && resolve(o.authorityKeypair),
    },
    port: o.port,
    host: o.host,
    dataDir: resolve(o.dataDir),
    executors: o.executors,
    sampleRate: o.sampleRate,
    batchMaxJobs: o.batchMaxJobs,
    batchMaxAgeMs: o.batchMaxAgeMs,
    maxAttempts: o.maxAttempts,
    durable: o.durable ?? false,
    challengeWindowMs: o.challengeWindowMs,
    cheat: cheatOf(o),
    limits: limitsOf(o),
    ...(o.executorProfile ? { executorRun: o.executorProfile } : {}),
    ...apiAccess(o),
    logger,
  };
}

export function sequencerConfig(o: SequencerFlags, logger?: Logger): SequencerRoleConfig {
  const chain = roleChain(o, 'sequencer');
  if (!chain && o.payments === 'on')
    throw new OptinferError(
      'INVALID_CONFIG',
      '--payments on: expected --rpc URL --keypair FILE with it (deposits live on the optinfer program)',
    );
  return {
    payments: chain ? o.payments !== 'off' : false,
    chain: chain && {
      ...chain,
      slotMs: o.slotMs,
      authorityKeypairPath: o.authorityKeypair && resolve(o.authorityKeypair),
    },
    natsUrl: o.nats,
    natsReplicas: o.natsReplicas,
    port: o.port,
    host: o.host,
    dataDir: resolve(o.dataDir),
    batchMaxJobs: o.batchMaxJobs,
    batchMaxAgeMs: o.batchMaxAgeMs,
    maxAttempts: o.maxAttempts,
    durable: o.durable ?? false,
    challengeWindowMs: o.challengeWindowMs,
    maxTensorBytes: o.memoryLimitMb === undefined ? undefined : o.memoryLimitMb * MiB,
    ...apiAccess(o),
    logger,
  };
}

export function executorConfig(o: ExecutorFlags, logger?: Logger): ExecutorRoleConfig {
  return {
    chain: roleChain(o, 'executor'),
    natsUrl: o.nats,
    natsReplicas: o.natsReplicas,
    sequencerUrl: o.sequencer,
    dataDir: resolve(o.dataDir),
    capacity: o.capacity,
    keypairPath: o.keypair && resolve(o.keypair),
    cheat: cheatOf(o),
    limits: limitsOf(o),
    ...(o.profile ? { run: o.profile } : {}),
    logger,
  };
}

export function challengerConfig(o: ChallengerFlags, logger?: Logger): ChallengerRoleConfig {
  return {
    chain: roleChain(o, 'challenger'),
    cheat: o.cheat,
    natsUrl: o.nats,
    natsReplicas: o.natsReplicas,
    sequencerUrl: o.sequencer,
    dataDir: resolve(o.dataDir),
    id: o.id,
    sampleRate: o.sampleRate,
    ...(o.models?.length ? { modelDirs: o.models.map((d) => resolve(d)) } : {}),
    limits: limitsOf(o),
    logger,
  };
}

export { DEFAULT_SAMPLE_RATE };
