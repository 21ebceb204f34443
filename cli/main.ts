// The optinfer command line: its commands and their flags; each role's config is built in cli/config.ts.
import { Command, Option, CommanderError } from 'commander';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { DEFAULT_SO_PATH } from '../settlement/index.ts';
import { createLogger } from '../common/log.ts';
import { OptinferError, exitCode, isOptinferError } from '../state/errors.ts';
import { DEFAULT_JOB_FEE_LAMPORTS } from '../state/job.ts';
import {
  DEFAULT_DATA_DIR,
  DEFAULT_DEV_SAMPLE_RATE,
  DEFAULT_SAMPLE_RATE,
  DEFAULT_SEQUENCER_URL,
  DEV_CHALLENGE_WINDOW_MS,
  challengerConfig,
  devConfig,
  executorConfig,
  int,
  ms,
  opt,
  sequencerConfig,
  u64,
  url,
  type ChallengerFlags,
  type DevFlags,
  type ExecutorFlags,
  type SequencerFlags,
} from './config.ts';
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
import {
  acceptAuthorityCommand,
  batchShowCommand,
  bondStatusCommand,
  earningsCommand,
  chainInitCommand,
  disputesCommand,
  proposeAuthorityCommand,
  setPausedCommand,
  withdrawTreasuryCommand,
} from './commands/chain.ts';
import { keygenCommand } from './commands/keygen.ts';
import { depositCommand, withdrawDepositCommand } from './commands/deposit.ts';

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
    .addOption(opt.apiKey())
    .addOption(opt.apiKeysFile())
    .addOption(opt.rateLimit())
    .addOption(opt.executors())
    .addOption(opt.sampleRate(DEFAULT_DEV_SAMPLE_RATE))
    .addOption(opt.batchMaxJobs())
    .addOption(opt.batchMaxAge())
    .addOption(opt.maxAttempts())
    .addOption(opt.durable())
    .addOption(opt.window(DEV_CHALLENGE_WINDOW_MS))
    .addOption(opt.cheat())
    .addOption(opt.cheatRate())
    .addOption(opt.cheatLayer())
    .addOption(opt.timeLimit())
    .addOption(opt.memoryLimit())
    .addOption(
      opt.profile(
        '--executor-profile',
        "the executors' run configuration (the challenger stays canonical): ",
      ),
    )
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
    .addOption(opt.payments())
    .action(async (o: DevFlags, cmd: Command) => {
      const log = createLogger('optinfer');
      const config = devConfig(o, log);
      if (
        config.chain === 'litesvm' &&
        cmd.getOptionValueSource('chain') === 'default' &&
        !existsSync(DEFAULT_SO_PATH)
      ) {
        log.warn(
          { program: DEFAULT_SO_PATH },
          'the program binary is not built (npm run build:program); settling on the local timer instead',
        );
        config.chain = 'none';
      }
      const node = await startDev(config);
      const m = node.demoModel;
      process.stdout.write(
        [
          `optinfer dev node listening on ${node.url}`,
          `  data dir     ${config.dataDir}`,
          `  executors    ${node.executors.map((e) => e.id).join(', ')}`,
          `  challenger   sample rate ${config.sampleRate}, challenge window ${config.challengeWindowMs} ms`,
          `  settlement   ${config.rpc ? `the optinfer program at ${config.rpc.rpc}` : config.chain === 'litesvm' ? `the optinfer program in an in-process Solana VM (LiteSVM), saved in ${resolve(config.dataDir, 'chain.json')}` : 'local timer (no chain); --chain litesvm settles on the program'}`,
          `  payments     ${config.rpc ? (config.payments ? "on: jobs need the user's voucher on its deposit (HTTP 402 without); finalized fees are drawn" : 'off (--payments off): jobs are taken unpaid, their fees escrowed from --keypair') : config.chain === 'litesvm' ? `on: jobs without a voucher are paid by the default payer (${resolve(config.dataDir, 'payer-keypair.json')})` : 'none (no chain)'}`,
          `  API          ${config.apiKeys?.length ? `${config.apiKeys.length} API key(s) for uploads and jobs${config.rateLimit ? `, ${config.rateLimit} requests/s each` : ''}` : `open, no API key (--api-key KEY to require one)${config.rateLimit ? `, ${config.rateLimit} requests/s per address` : ''}`}`,
          `  demo model   ${m.modelId} (${m.name}; input ${m.inputs.map((i) => `${i.name} ${i.dtype} [${i.dims.join(',')}]`).join(', ')})`,
          `  explorer     ${node.url}/explorer`,
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
    .addOption(opt.natsReplicas())
    .addOption(opt.port())
    .addOption(opt.host())
    .addOption(opt.dataDir(`${DEFAULT_DATA_DIR}/sequencer`))
    .addOption(opt.apiKey())
    .addOption(opt.apiKeysFile())
    .addOption(opt.rateLimit())
    .addOption(opt.batchMaxJobs())
    .addOption(opt.batchMaxAge())
    .addOption(opt.maxAttempts())
    .addOption(opt.memoryLimit())
    .addOption(opt.durable())
    .addOption(opt.window(DEV_CHALLENGE_WINDOW_MS))
    .addOption(opt.rpc())
    .addOption(opt.ws())
    .addOption(opt.keypair("the program's sequencer key"))
    .addOption(opt.authorityKeypair())
    .addOption(opt.slotMs())
    .addOption(opt.payments())
    .action(async (o: SequencerFlags) => {
      const log = createLogger('optinfer');
      const config = sequencerConfig(o, log);
      const r = await startSequencerRole(config);
      process.stdout.write(
        `optinfer sequencer listening on ${r.url} (bus ${config.natsUrl}; settlement ${config.chain?.rpc ?? 'local timer'}; payments ${config.payments ? "on: jobs need the user's voucher on its deposit" : 'off'})\n`,
      );
      setExit(await untilSignal(r, log));
    });

  program
    .command('executor')
    .description('run one executor, over NATS')
    .addOption(opt.nats())
    .addOption(opt.natsReplicas())
    .addOption(opt.sequencer())
    .addOption(opt.dataDir(`${DEFAULT_DATA_DIR}/executor`))
    .addOption(opt.capacity())
    .addOption(opt.keypair("the executor's key; created if missing without --rpc"))
    .addOption(opt.rpc())
    .addOption(opt.ws())
    .addOption(opt.bond())
    .addOption(opt.cheat())
    .addOption(opt.cheatRate())
    .addOption(opt.cheatLayer())
    .addOption(opt.timeLimit())
    .addOption(opt.memoryLimit())
    .addOption(opt.profile('--profile', 'how this executor runs models: '))
    .action(async (o: ExecutorFlags) => {
      const log = createLogger('optinfer');
      const config = executorConfig(o, log);
      const r = await startExecutorRole(config);
      process.stdout.write(`optinfer executor ${r.worker.id} running (bus ${config.natsUrl})\n`);
      setExit(await untilSignal(r, log));
    });

  program
    .command('challenger')
    .description('run one challenger, over NATS')
    .addOption(opt.nats())
    .addOption(opt.natsReplicas())
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
    .addOption(opt.challengerCheat())
    .addOption(
      new Option(
        '--models <dir...>',
        "directories of ONNX files read before asking the sequencer for a model's bytes (a file is used when its SHA-256 is the model id), so a sequencer withholding a model blocks no audit of it",
      ),
    )
    .addOption(opt.timeLimit())
    .addOption(opt.memoryLimit())
    .action(async (o: ChallengerFlags) => {
      const log = createLogger('optinfer');
      const config = challengerConfig(o, log);
      const r = await startChallengerRole(config);
      process.stdout.write(
        `optinfer challenger ${config.id} running, sample rate ${config.sampleRate} (bus ${config.natsUrl})\n`,
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
        .default(DEFAULT_SEQUENCER_URL)
        .argParser(url('url')),
    )
    .addOption(
      new Option('--api-key <key>', "the sequencer's API key, when it requires one").env('OPTINFER_API_KEY'),
    )
    .option('--wait', 'wait until the job is finalized (or failed) and print the final job')
    .option(
      '--keypair <file>',
      "the paying user's keypair: signs a voucher on its deposit for the job's fee and shows the balance",
    )
    .addOption(
      new Option(
        '--fee <lamports>',
        `the job's fee (default: the node's, ${DEFAULT_JOB_FEE_LAMPORTS})`,
      ).argParser(u64('fee', 'lamports')),
    )
    .addOption(
      new Option(
        '--voucher-total <lamports>',
        'the running total your vouchers on this deposit have reached, when this machine has no record of it (KEYPAIR.vouchers.json)',
      ).argParser(u64('voucher-total', 'lamports')),
    )
    .addOption(
      new Option('--timeout-ms <ms>', 'give up waiting after this long')
        .default(300_000)
        .argParser(ms('timeout-ms', 1, 86_400_000)),
    )
    .action(async (o) =>
      setExit(
        await submitCommand({
          model: o.model,
          input: o.input,
          url: o.url,
          apiKey: o.apiKey,
          wait: Boolean(o.wait),
          timeoutMs: o.timeoutMs,
          keypair: o.keypair,
          fee: o.fee,
          voucherTotal: o.voucherTotal,
        }),
      ),
    );

  const rpc = opt.rpcWithDefault;
  program
    .command('deposit')
    .description(
      'add lamports to your job deposit on the program: a sequencer taking payments draws it by the vouchers `submit --keypair` signs',
    )
    .argument('<lamports>', 'how much to add', u64('lamports', 'lamports'))
    .addOption(rpc())
    .addOption(opt.ws())
    .addOption(
      new Option('--keypair <file>', 'the paying user (Solana CLI keypair file)')
        .env('OPTINFER_KEYPAIR')
        .makeOptionMandatory(),
    )
    .option('--json', 'print JSON')
    .action(async (lamports: bigint, o) =>
      setExit(
        await depositCommand({ rpc: o.rpc, ws: o.ws, keypair: o.keypair, lamports, json: Boolean(o.json) }),
      ),
    );
  program
    .command('withdraw-deposit')
    .description(
      'take back what is unspent of your job deposit, in two runs one dispute clock apart: the first requests it and ' +
        'prints the slot from which it is ready (meanwhile a sequencer taking payments refuses your jobs, and ' +
        '`deposit` cancels the request); the second, from that slot, pays the balance back to your wallet',
    )
    .addOption(rpc())
    .addOption(opt.ws())
    .addOption(
      new Option('--keypair <file>', 'the user who deposited (Solana CLI keypair file)')
        .env('OPTINFER_KEYPAIR')
        .makeOptionMandatory(),
    )
    .option('--json', 'print JSON (lamports as decimal strings)')
    .action(async (o) =>
      setExit(
        await withdrawDepositCommand({ rpc: o.rpc, ws: o.ws, keypair: o.keypair, json: Boolean(o.json) }),
      ),
    );
  // The read-only commands read the node's API (the dev node by default); --rpc reads a cluster instead.
  const nodeUrl = () =>
    new Option('--url <url>', "an optinfer node's HTTP API (default: the dev node's)")
      .env('OPTINFER_URL')
      .default(DEFAULT_SEQUENCER_URL)
      .argParser(url('url'));
  const readRpc = () =>
    new Option('--rpc <url>', "read the program on this cluster's JSON-RPC endpoint instead of a node")
      .env('OPTINFER_RPC_URL')
      .argParser(url('rpc'));
  /** Where a read-only command reads; naming both a node and a cluster on the command line is refused. */
  const source = (o: { url: string; rpc?: string }, cmd: Command) => {
    if (o.rpc && cmd.getOptionValueSource('url') === 'cli' && cmd.getOptionValueSource('rpc') === 'cli')
      throw new OptinferError('INVALID_INPUT', 'pass --url (a node) or --rpc (a cluster), not both');
    // A --url on the command line wins over OPTINFER_RPC_URL from the environment.
    const rpc =
      cmd.getOptionValueSource('url') === 'cli' && cmd.getOptionValueSource('rpc') !== 'cli'
        ? undefined
        : o.rpc;
    return { url: o.url, rpc };
  };

  program
    .command('disputes')
    .description('list the disputes on the optinfer program, with their state and clocks')
    .addOption(nodeUrl())
    .addOption(readRpc())
    .option('--open', 'only disputes not yet resolved')
    .option('--json', 'print JSON')
    .action(async (o, cmd: Command) =>
      setExit(await disputesCommand({ ...source(o, cmd), json: Boolean(o.json), open: Boolean(o.open) })),
    );

  program
    .command('batch')
    .description('batches on the optinfer program')
    .command('show')
    .description('show one committed batch: root, jobs, window, disputes')
    .argument('<index>', 'batch index')
    .addOption(nodeUrl())
    .addOption(readRpc())
    .option('--json', 'print JSON')
    .action(async (index, o, cmd: Command) =>
      setExit(await batchShowCommand({ ...source(o, cmd), json: Boolean(o.json), index })),
    );

  /** `bond status` and `earnings`: one operator (--keypair or --owner) or all, from the node or a cluster. */
  const operatorCommand = (cmd: Command, run: typeof bondStatusCommand) =>
    cmd
      .addOption(nodeUrl())
      .addOption(readRpc())
      .addOption(
        new Option('--keypair <file>', 'Solana CLI keypair file of the operator').env('OPTINFER_KEYPAIR'),
      )
      .option('--owner <pubkey>', 'the operator public key (instead of --keypair)')
      .option('--json', 'print JSON')
      .action(async (o, c: Command) =>
        setExit(await run({ ...source(o, c), json: Boolean(o.json), keypair: o.keypair, owner: o.owner })),
      );
  operatorCommand(
    program
      .command('bond')
      .description('operator bonds on the optinfer program')
      .command('status')
      .description(
        "show an operator's bond: bonded, locked in disputes, unbonding; without --keypair or --owner, every bond",
      ),
    bondStatusCommand,
  );
  operatorCommand(
    program
      .command('earnings')
      .description(
        'what an operator has earned (bounties, fees) and lost (slashes) on the program, has at stake, and gets back when its accounts close (rent, batch escrow and fault reserves); without --keypair or --owner, every operator',
      ),
    earningsCommand,
  );

  const chain = program
    .command('chain')
    .description("set up the optinfer program on a cluster, and its authority's commands");
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
        .argParser(u64('challenge-window-slots', 'slots')),
    )
    .addOption(
      new Option('--clock-slots <n>', "each side's dispute clock, in slots")
        .default(150n, '150')
        .argParser(u64('clock-slots', 'slots')),
    )
    .addOption(
      new Option('--min-executor-bond <lamports>', 'bond an executor must keep to take jobs')
        .default(1_000_000_000n, '1 SOL')
        .argParser(u64('min-executor-bond', 'lamports')),
    )
    .addOption(
      new Option('--min-challenger-bond <lamports>', 'stake a challenger locks per dispute')
        .default(500_000_000n, '0.5 SOL')
        .argParser(u64('min-challenger-bond', 'lamports')),
    )
    .addOption(
      new Option(
        '--unbonding-slots <n>',
        'slots before unbonded lamports can be withdrawn, at least window + 2 x clock + 150',
      )
        .default(undefined, 'the least the program accepts: window + 2 x clock + 150')
        .argParser(u64('unbonding-slots', 'slots')),
    )
    .addOption(
      new Option('--bounty-bps <n>', "challenger's share of a slashed stake, in basis points")
        .default(5000)
        .argParser(int('bounty-bps', 0, 5000)),
    )
    .option('--json', 'print JSON')
    .action(async (o) => setExit(await chainInitCommand({ ...o, json: Boolean(o.json) })));

  const authorityKeypair = (
    what = "the program's authority (the key `chain init` named, or the one that accepted)",
  ) =>
    new Option('--authority-keypair <file>', `Solana CLI keypair file of ${what}`)
      .env('OPTINFER_AUTHORITY_KEYPAIR')
      .makeOptionMandatory();
  const asAuthority = (o: { rpc: string; ws?: string; json?: boolean; authorityKeypair: string }) => ({
    rpc: o.rpc,
    ws: o.ws,
    json: Boolean(o.json),
    authorityKeypair: o.authorityKeypair,
  });
  chain
    .command('propose-authority')
    .description(
      'name the next authority (step 1 of 2): it takes over only when it runs `chain accept-authority`; ' +
        'proposing 11111111111111111111111111111111 withdraws a proposal',
    )
    .argument('<pubkey>', 'the public key that may take over the authority')
    .addOption(rpc())
    .addOption(opt.ws())
    .addOption(authorityKeypair())
    .option('--json', 'print JSON')
    .action(async (newAuthority: string, o) =>
      setExit(await proposeAuthorityCommand({ ...asAuthority(o), newAuthority })),
    );
  chain
    .command('accept-authority')
    .description('take over the authority (step 2 of 2), signed by the key the authority proposed')
    .addOption(rpc())
    .addOption(opt.ws())
    .addOption(authorityKeypair('the proposed authority'))
    .option('--json', 'print JSON')
    .action(async (o) => setExit(await acceptAuthorityCommand(asAuthority(o))));
  chain
    .command('withdraw-treasury')
    .description("pay lamports from the program's treasury vault to the configured treasury address")
    .argument('<lamports>', 'how much; the vault keeps its rent-exempt minimum', u64('lamports', 'lamports'))
    .addOption(rpc())
    .addOption(opt.ws())
    .addOption(authorityKeypair())
    .option('--json', 'print JSON')
    .action(async (lamports: bigint, o) =>
      setExit(await withdrawTreasuryCommand({ ...asAuthority(o), lamports })),
    );
  for (const paused of [true, false]) {
    chain
      .command(paused ? 'pause' : 'unpause')
      .description(
        paused
          ? 'pause the program: nothing commits, opens, moves, resolves or finalizes; windows, clocks and unbonding delays stand still'
          : 'resume the program; the slots spent paused never count against windows, clocks or unbonding delays',
      )
      .addOption(rpc())
      .addOption(opt.ws())
      .addOption(authorityKeypair())
      .option('--json', 'print JSON')
      .action(async (o) => setExit(await setPausedCommand({ ...asAuthority(o), paused })));
  }

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
