// The optinfer command line: one typed config per role from flags and OPTINFER_* variables, checked at start-up.
import { Command, Option, InvalidArgumentError, CommanderError } from 'commander';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { DEFAULT_SO_PATH } from '../settlement/index.ts';
import { createLogger } from '../common/log.ts';
import { OptinferError, exitCode, isOptinferError } from '../state/errors.ts';
import { DEFAULT_NATS_URL } from '../bus/nats.ts';
import { DEFAULT_SAMPLE_RATE } from '../challenger/challenger.ts';
import { CHEAT_MODES, type CheatConfig } from '../adversary/index.ts';
import { DEFAULT_SEQUENCER_CONFIG } from '../sequencer/sequencer.ts';
import {
  startDev,
  startSequencerRole,
  startExecutorRole,
  startChallengerRole,
  type Running,
} from './roles.ts';
import { submitCommand } from './commands/submit.ts';
import { traceCommand } from './commands/trace.ts';
import { verifyCommand } from './commands/verify.ts';
import { batchShowCommand, bondStatusCommand, chainInitCommand, disputesCommand } from './commands/chain.ts';
import { keygenCommand } from './commands/keygen.ts';

export const DEFAULT_PORT = 8787;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_DATA_DIR = '.optinfer';
/** Short so a person watching the dev node sees jobs reach `finalized`. */
export const DEV_CHALLENGE_WINDOW_MS = 20_000;

function int(name: string, min: number, max: number) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v))
      throw new InvalidArgumentError(`${name}: expected an integer, got ${JSON.stringify(v)}`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`${name}: expected ${min}..${max}, got ${n}`);
    return n;
  };
}

function rate(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
      throw new InvalidArgumentError(`${name}: expected a number between 0 and 1, got ${JSON.stringify(v)}`);
    }
    return n;
  };
}

function cheatMode(v: string): CheatConfig['mode'] {
  if (!(CHEAT_MODES as readonly string[]).includes(v))
    throw new InvalidArgumentError(`expected one of ${CHEAT_MODES.join(', ')}; got ${JSON.stringify(v)}`);
  return v as CheatConfig['mode'];
}

function lamports(name: string) {
  return (v: string): bigint => {
    if (!/^\d+$/.test(v))
      throw new InvalidArgumentError(
        `${name}: expected a whole number of lamports, got ${JSON.stringify(v)}`,
      );
    return BigInt(v);
  };
}

function url(name: string) {
  return (v: string): string => {
    try {
      new URL(v);
    } catch {
      throw new InvalidArgumentError(`${name}: expected a URL, got ${JSON.stringify(v)}`);
    }
    return v.replace(/\/+$/, '');
  };
}

const opt = {
  port: () =>
    new Option('--port <n>', 'HTTP port')
      .env('OPTINFER_PORT')
      .default(DEFAULT_PORT)
      .argParser(int('port', 0, 65535)),
  host: () => new Option('--host <addr>', 'HTTP listen address').env('OPTINFER_HOST').default(DEFAULT_HOST),
  dataDir: (dflt: string) =>
    new Option('--data-dir <dir>', 'where LevelDB and keys live').env('OPTINFER_DATA_DIR').default(dflt),
  nats: () =>
    new Option('--nats <url>', 'NATS server (nats-server -js)')
      .env('OPTINFER_NATS_URL')
      .default(DEFAULT_NATS_URL),
  sequencer: () =>
    new Option('--sequencer <url>', 'sequencer HTTP API')
      .env('OPTINFER_SEQUENCER_URL')
      .default(`http://${DEFAULT_HOST}:${DEFAULT_PORT}`)
      .argParser(url('sequencer')),
  batchMaxJobs: () =>
    new Option('--batch-max-jobs <n>', 'cut a batch at this many executed jobs')
      .env('OPTINFER_BATCH_MAX_JOBS')
      .default(DEFAULT_SEQUENCER_CONFIG.batchMaxJobs)
      .argParser(int('batch-max-jobs', 1, 1 << 20)),
  batchMaxAge: () =>
    new Option('--batch-max-age-ms <ms>', '... or when the oldest executed job has waited this long')
      .env('OPTINFER_BATCH_MAX_AGE_MS')
      .default(DEFAULT_SEQUENCER_CONFIG.batchMaxAgeMs)
      .argParser(int('batch-max-age-ms', 1, 3_600_000)),
  window: (dflt: number) =>
    new Option('--challenge-window-ms <ms>', 'time a batch stays open to disputes')
      .env('OPTINFER_CHALLENGE_WINDOW_MS')
      .default(dflt)
      .argParser(int('challenge-window-ms', 0, 30 * 86_400_000)),
  sampleRate: (dflt: number) =>
    new Option('--sample-rate <p>', 'probability that the challenger audits a job')
      .env('OPTINFER_SAMPLE_RATE')
      .default(dflt)
      .argParser(rate('sample-rate')),
  cheat: () =>
    new Option('--cheat <mode>', `test knob: make this executor dishonest (${CHEAT_MODES.join(' | ')})`)
      .env('OPTINFER_CHEAT')
      .default('none')
      .argParser(cheatMode),
  cheatRate: () =>
    new Option('--cheat-rate <r>', 'fraction of jobs the cheat applies to')
      .env('OPTINFER_CHEAT_RATE')
      .default(1)
      .argParser(rate('cheat-rate')),
  cheatLayer: () =>
    new Option('--cheat-layer <k>', 'first wrong layer for --cheat wrong-layer and equivocate')
      .env('OPTINFER_CHEAT_LAYER')
      .default(0)
      .argParser(int('cheat-layer', 0, 1 << 20)),
  rpc: () =>
    new Option(
      '--rpc <url>',
      'settle on the optinfer program at this Solana JSON-RPC endpoint (needs --keypair)',
    )
      .env('OPTINFER_RPC_URL')
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
      .default(400)
      .argParser(int('slot-ms', 1, 60_000)),
  bond: () =>
    new Option('--bond-lamports <n>', "lamports to keep bonded with --rpc (default: the program's minimum)")
      .env('OPTINFER_BOND_LAMPORTS')
      .argParser(lamports('bond-lamports')),
};

/** The role's --rpc/--keypair pair, checked together. */
function roleChain(o: { rpc?: string; ws?: string; keypair?: string; bondLamports?: bigint }, role: string) {
  if (!o.rpc) return undefined;
  if (!o.keypair)
    throw new OptinferError(
      'INVALID_CONFIG',
      `${role} --rpc ${o.rpc}: expected --keypair FILE with it (the ${role}'s funded Solana keypair)`,
    );
  return { rpc: o.rpc, ws: o.ws, keypairPath: resolve(o.keypair), bondLamports: o.bondLamports };
}

/** Keeps a role running until SIGINT/SIGTERM, then closes it cleanly. */
function untilSignal(r: Running, log: ReturnType<typeof createLogger>): Promise<number> {
  return new Promise((done) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'shutting down');
      r.close().then(
        () => done(0),
        (e) => {
          log.error({ err: (e as Error).message }, 'shutdown failed');
          done(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('optinfer')
    .description('optinfer: an optimistic rollup for AI inference, settled on Solana')
    .showHelpAfterError('(run with --help for usage)')
    .version('0.1.0')
    .exitOverride();

  program
    .command('dev')
    .description('run a sequencer, executors and a challenger in one process on embedded defaults')
    .addOption(opt.port())
    .addOption(opt.host())
    .addOption(opt.dataDir(DEFAULT_DATA_DIR))
    .addOption(
      new Option('--executors <n>', 'executors to run')
        .env('OPTINFER_EXECUTORS')
        .default(2)
        .argParser(int('executors', 1, 64)),
    )
    .addOption(opt.sampleRate(0.5))
    .addOption(opt.batchMaxJobs())
    .addOption(opt.batchMaxAge())
    .addOption(opt.window(DEV_CHALLENGE_WINDOW_MS))
    .addOption(opt.cheat())
    .addOption(opt.cheatRate())
    .addOption(opt.cheatLayer())
    .addOption(
      new Option(
        '--chain <kind>',
        'settlement: none (local timer) or litesvm (the real program in an in-process Solana VM)',
      )
        .env('OPTINFER_CHAIN')
        .choices(['none', 'litesvm'])
        .default('litesvm'),
    )
    .addOption(opt.rpc())
    .addOption(opt.ws())
    .addOption(opt.keypair("with --rpc: the program's sequencer key, which also funds the node's other keys"))
    .addOption(opt.authorityKeypair())
    .addOption(opt.slotMs())
    .action(async (o, cmd: Command) => {
      const log = createLogger('optinfer');
      let chain: 'none' | 'litesvm' = o.chain;
      if (
        chain === 'litesvm' &&
        cmd.getOptionValueSource('chain') === 'default' &&
        !existsSync(DEFAULT_SO_PATH)
      ) {
        log.warn(
          { program: DEFAULT_SO_PATH },
          'the program binary is not built (npm run build:program); settling on the local timer instead',
        );
        chain = 'none';
      }
      const rpc = roleChain(o, 'dev');
      const node = await startDev({
        chain,
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
        challengeWindowMs: o.challengeWindowMs,
        cheat: { mode: o.cheat, rate: o.cheatRate, layer: o.cheatLayer },
        logger: log,
      });
      const m = node.demoModel;
      process.stdout.write(
        [
          `optinfer dev node listening on ${node.url}`,
          `  data dir     ${resolve(o.dataDir)}`,
          `  executors    ${node.executors.map((e) => e.id).join(', ')}`,
          `  challenger   sample rate ${o.sampleRate}, challenge window ${o.challengeWindowMs} ms`,
          `  settlement   ${o.rpc ? `the optinfer program at ${o.rpc}` : chain === 'litesvm' ? `the optinfer program in an in-process Solana VM (LiteSVM), saved in ${resolve(o.dataDir, 'chain.json')}` : 'local timer (no chain); --chain litesvm settles on the program'}`,
          `  demo model   ${m.modelId} (${m.name}; input ${m.inputs.map((i) => `${i.name} ${i.dtype} [${i.dims.join(',')}]`).join(', ')})`,
          `try:  curl ${node.url}/v1/models`,
          '',
        ].join('\n'),
      );
      setExit(await untilSignal(node, log));
    });

  program
    .command('sequencer')
    .description('run the sequencer alone, over NATS')
    .addOption(opt.nats())
    .addOption(opt.port())
    .addOption(opt.host())
    .addOption(opt.dataDir(`${DEFAULT_DATA_DIR}/sequencer`))
    .addOption(opt.batchMaxJobs())
    .addOption(opt.batchMaxAge())
    .addOption(opt.window(DEV_CHALLENGE_WINDOW_MS))
    .addOption(opt.rpc())
    .addOption(opt.ws())
    .addOption(opt.keypair("the program's sequencer key"))
    .addOption(opt.authorityKeypair())
    .addOption(opt.slotMs())
    .action(async (o) => {
      const log = createLogger('optinfer');
      const chain = roleChain(o, 'sequencer');
      const r = await startSequencerRole({
        chain: chain && {
          ...chain,
          slotMs: o.slotMs,
          authorityKeypairPath: o.authorityKeypair && resolve(o.authorityKeypair),
        },
        natsUrl: o.nats,
        port: o.port,
        host: o.host,
        dataDir: resolve(o.dataDir),
        batchMaxJobs: o.batchMaxJobs,
        batchMaxAgeMs: o.batchMaxAgeMs,
        challengeWindowMs: o.challengeWindowMs,
        logger: log,
      });
      process.stdout.write(
        `optinfer sequencer listening on ${r.url} (bus ${o.nats}; settlement ${o.rpc ?? 'local timer'})\n`,
      );
      setExit(await untilSignal(r, log));
    });

  program
    .command('executor')
    .description('run one executor, over NATS')
    .addOption(opt.nats())
    .addOption(opt.sequencer())
    .addOption(opt.dataDir(`${DEFAULT_DATA_DIR}/executor`))
    .addOption(
      new Option('--capacity <n>', 'jobs run at once')
        .env('OPTINFER_CAPACITY')
        .default(2)
        .argParser(int('capacity', 1, 256)),
    )
    .addOption(opt.keypair("the executor's key; created if missing without --rpc"))
    .addOption(opt.rpc())
    .addOption(opt.ws())
    .addOption(opt.bond())
    .addOption(opt.cheat())
    .addOption(opt.cheatRate())
    .addOption(opt.cheatLayer())
    .action(async (o) => {
      const log = createLogger('optinfer');
      const r = await startExecutorRole({
        chain: roleChain(o, 'executor'),
        natsUrl: o.nats,
        sequencerUrl: o.sequencer,
        dataDir: resolve(o.dataDir),
        capacity: o.capacity,
        keypairPath: o.keypair,
        cheat: { mode: o.cheat, rate: o.cheatRate, layer: o.cheatLayer },
        logger: log,
      });
      process.stdout.write(`optinfer executor ${r.worker.id} running (bus ${o.nats})\n`);
      setExit(await untilSignal(r, log));
    });

  program
    .command('challenger')
    .description('run one challenger, over NATS')
    .addOption(opt.nats())
    .addOption(opt.sequencer())
    .addOption(opt.dataDir(`${DEFAULT_DATA_DIR}/challenger`))
    .addOption(
      new Option('--id <name>', 'challenger name ([A-Za-z0-9_-]+)')
        .env('OPTINFER_CHALLENGER_ID')
        .default('challenger'),
    )
    .addOption(opt.sampleRate(DEFAULT_SAMPLE_RATE))
    .addOption(opt.keypair("the challenger's key; created in the data dir if missing without --rpc"))
    .addOption(opt.rpc())
    .addOption(opt.ws())
    .addOption(opt.bond())
    .addOption(
      new Option('--cheat <mode>', 'test knob: false-alarm disputes every audited job')
        .env('OPTINFER_CHEAT')
        .choices(['none', 'false-alarm'])
        .default('none'),
    )
    .action(async (o) => {
      const log = createLogger('optinfer');
      const r = await startChallengerRole({
        chain: roleChain(o, 'challenger'),
        cheat: o.cheat,
        natsUrl: o.nats,
        sequencerUrl: o.sequencer,
        dataDir: resolve(o.dataDir),
        id: o.id,
        sampleRate: o.sampleRate,
        logger: log,
      });
      process.stdout.write(
        `optinfer challenger ${o.id} running, sample rate ${o.sampleRate} (bus ${o.nats})\n`,
      );
      setExit(await untilSignal(r, log));
    });

  program
    .command('trace')
    .description('run a model on an input with the canonical profile and print its layer trace as JSON')
    .requiredOption('--model <file>', 'ONNX model file')
    .requiredOption('--input <file>', 'input JSON {"inputs": {...}}')
    .action(async (o) => setExit(await traceCommand({ model: o.model, input: o.input })));

  program
    .command('verify')
    .description(
      're-execute and check a claim (a trace JSON, or one with only outputDigest); exit 0 holds, 1 refuted, 2 bad input',
    )
    .requiredOption('--model <file>', 'ONNX model file')
    .requiredOption('--input <file>', 'input JSON {"inputs": {...}}')
    .requiredOption('--claim <file>', 'claim JSON')
    .action(async (o) => setExit(await verifyCommand({ model: o.model, input: o.input, claim: o.claim })));

  program
    .command('submit')
    .description('submit a job to a sequencer; registers the model first when given a file')
    .requiredOption('--model <file|id>', 'ONNX model file, or a registered model id')
    .requiredOption('--input <file>', 'input JSON {"inputs": {...}}')
    .addOption(
      new Option('--url <url>', 'sequencer HTTP API')
        .env('OPTINFER_SEQUENCER_URL')
        .default(`http://${DEFAULT_HOST}:${DEFAULT_PORT}`)
        .argParser(url('url')),
    )
    .option('--wait', 'wait until the job is finalized (or failed) and print the final job')
    .addOption(
      new Option('--timeout-ms <ms>', 'give up waiting after this long')
        .default(300_000)
        .argParser(int('timeout-ms', 1, 86_400_000)),
    )
    .action(async (o) =>
      setExit(
        await submitCommand({
          model: o.model,
          input: o.input,
          url: o.url,
          wait: Boolean(o.wait),
          timeoutMs: o.timeoutMs,
        }),
      ),
    );

  const rpc = () =>
    new Option('--rpc <url>', 'Solana JSON-RPC endpoint')
      .env('OPTINFER_RPC_URL')
      .default('http://127.0.0.1:8899')
      .argParser(url('rpc'));

  program
    .command('disputes')
    .description('list the disputes on the optinfer program, with their state and clocks')
    .addOption(rpc())
    .option('--open', 'only disputes not yet resolved')
    .option('--json', 'print JSON')
    .action(async (o) =>
      setExit(await disputesCommand({ rpc: o.rpc, json: Boolean(o.json), open: Boolean(o.open) })),
    );

  program
    .command('batch')
    .description('batches on the optinfer program')
    .command('show')
    .description('show one committed batch: root, jobs, window, disputes')
    .argument('<index>', 'batch index')
    .addOption(rpc())
    .option('--json', 'print JSON')
    .action(async (index, o) =>
      setExit(await batchShowCommand({ rpc: o.rpc, json: Boolean(o.json), index })),
    );

  program
    .command('bond')
    .description('operator bonds on the optinfer program')
    .command('status')
    .description("show an operator's bond: bonded, locked in disputes, unbonding")
    .addOption(rpc())
    .addOption(
      new Option('--keypair <file>', 'Solana CLI keypair file of the operator').env('OPTINFER_KEYPAIR'),
    )
    .option('--owner <pubkey>', 'the operator public key (instead of --keypair)')
    .option('--json', 'print JSON')
    .action(async (o) =>
      setExit(
        await bondStatusCommand({ rpc: o.rpc, json: Boolean(o.json), keypair: o.keypair, owner: o.owner }),
      ),
    );

  const chain = program.command('chain').description('set up the optinfer program on a cluster');
  chain
    .command('init')
    .description("initialize the deployed program's config (once, by its authority)")
    .addOption(rpc())
    .addOption(opt.ws())
    .requiredOption('--authority-keypair <file>', 'the authority: pays, and may later update the config')
    .requiredOption('--sequencer <pubkey>', 'the public key allowed to commit batches')
    .option('--treasury <pubkey>', "receives the slashed bonds' remainder (default: the authority)")
    .addOption(
      new Option('--challenge-window-slots <n>', 'slots a batch stays open to disputes')
        .default(150n, '150 (about a minute)')
        .argParser(lamports('challenge-window-slots')),
    )
    .addOption(
      new Option('--clock-slots <n>', "each side's dispute clock, in slots")
        .default(150n, '150')
        .argParser(lamports('clock-slots')),
    )
    .addOption(
      new Option('--min-executor-bond <lamports>', 'bond an executor must keep to take jobs')
        .default(1_000_000_000n, '1 SOL')
        .argParser(lamports('min-executor-bond')),
    )
    .addOption(
      new Option('--min-challenger-bond <lamports>', 'stake a challenger locks per dispute')
        .default(500_000_000n, '0.5 SOL')
        .argParser(lamports('min-challenger-bond')),
    )
    .addOption(
      new Option('--unbonding-slots <n>', 'slots before unbonded lamports can be withdrawn')
        .default(150n, '150')
        .argParser(lamports('unbonding-slots')),
    )
    .addOption(
      new Option('--bounty-bps <n>', "challenger's share of a slashed stake, in basis points")
        .default(5000)
        .argParser(int('bounty-bps', 0, 10_000)),
    )
    .option('--json', 'print JSON')
    .action(async (o) => setExit(await chainInitCommand({ ...o, json: Boolean(o.json) })));

  program
    .command('keygen')
    .description('write a new Solana CLI keypair file and print its public key')
    .requiredOption('-o, --out <file>', 'where to write it')
    .option('--force', 'replace an existing file')
    .action((o) => setExit(keygenCommand({ out: o.out, force: Boolean(o.force) })));

  return program;
}

/** Runs the CLI; returns the exit code. Usage and input errors: one line on stderr, exit 2. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has already printed its message (help, version or the usage error).
      return e.exitCode === 0 ? 0 : 2;
    }
    if (isOptinferError(e)) {
      // BusError included: its kind says whether the user can fix the call (2) or not (1).
      process.stderr.write(`optinfer: ${e.message}\n`);
      return exitCode(e.code);
    }
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') {
      process.stderr.write(
        `optinfer: ${err.message.replace(/^listen /, '')}: the port is in use; pass --port\n`,
      );
      return 2;
    }
    process.stderr.write(`optinfer: internal error: ${(e as Error).message}\n`);
    if (process.env.OPTINFER_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}

export { OptinferError };
