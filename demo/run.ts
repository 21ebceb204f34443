// npm run demo: the whole story with readable progress. Separate processes (sequencer, an honest and a cheating
// executor, two challengers) over a real nats-server, settling on the local Solana validator with the program.
import { LAMPORTS_PER_SOL } from '@solana/web3.js';
import { PHASE, PHASE_NAMES, SIDE, type DisputeAccount } from '../settlement/index.ts';
import { findNatsServer } from '../test/helpers/nats-server.ts';
import { existsSync } from 'node:fs';
import { DEFAULT_VALIDATOR_BINARY } from '../chain/local-chain.ts';
import { DEFAULT_SO_PATH } from '../settlement/index.ts';
import { startCluster, type Cluster } from '../test/e2e/cluster.ts';

const tty = process.stdout.isTTY;
const paint = (code: number) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint(1);
const dim = paint(2);
const red = paint(31);
const green = paint(32);
const yellow = paint(33);
const cyan = paint(36);
const t0 = Date.now();
const say = (s: string) =>
  process.stdout.write(`${dim(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s]`)} ${s}\n`);
const short = (s: string) => `${s.slice(0, 8)}…`;
const sol = (l: bigint) => `${(Number(l) / LAMPORTS_PER_SOL).toFixed(3)} SOL`;

function preflight(): string | null {
  if (!findNatsServer()) return 'nats-server is not installed (bash scripts/setup.sh installs it)';
  const validator = process.env.OPTINFER_LOCAL_VALIDATOR ?? DEFAULT_VALIDATOR_BINARY;
  if (!existsSync(validator))
    return `the local validator ${validator} is not built (bash chain/scripts/build.sh)`;
  if (!existsSync(DEFAULT_SO_PATH))
    return `the program ${DEFAULT_SO_PATH} is not built (npm run build:program)`;
  return null;
}

const JOBS = Number(process.env.DEMO_JOBS ?? 8);
const CHEAT_LAYER = 1;

async function main(): Promise<number> {
  const missing = preflight();
  if (missing) {
    process.stderr.write(`demo: ${missing}\n`);
    return 2;
  }
  say(bold('optinfer demo') + ': an optimistic rollup for inference, under attack');
  let c: Cluster | undefined;
  const names = new Map<string, string>();
  const onLog = (role: string, line: string) => {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const msg = m.msg as string;
    if (role === 'sequencer' && msg === 'batch committed')
      say(`${cyan('batch')} ${m.index} committed on chain: ${m.jobs} jobs, root ${short(m.root as string)}`);
    else if (role === 'sequencer' && msg === 'batch finalized')
      say(`${green('batch')} ${m.index} finalized: its challenge window closed with no open dispute`);
    else if (role === 'sequencer' && msg === 'executor not eligible for jobs')
      say(
        `${yellow('sequencer')} stops assigning ${names.get(m.executor as string) ?? m.executor}: ${m.why}`,
      );
    else if (msg === 'mismatch found')
      say(
        `${red('cheat caught')}: ${role} re-ran job ${short(m.jobId as string)} and got a different output; ` +
          `first divergent layer ${m.layer ?? '?'}, chunk ${m.chunk ?? '?'}`,
      );
    else if (msg === 'dispute opened')
      say(`${red('dispute')} opened by ${role} on job ${short(m.jobId as string)}`);
    else if (msg === 'one-step submitted')
      say(`${role} submits the one-step proof: the program recomputes layer ${m.layer}, chunk ${m.chunk}`);
    else if (msg === 'job lost a dispute; re-queued')
      say(
        `${yellow('re-run')}: job ${short(m.jobId as string)} lost its dispute and goes to another executor`,
      );
  };
  try {
    c = await startCluster({
      evil: [{ mode: 'wrong-layer', layer: CHEAT_LAYER }],
      onLog,
      progress: (s) => say(dim(s)),
      windowSlots: 150,
    });
  } catch (e) {
    process.stderr.write(`demo: could not start the cluster: ${(e as Error).message}\n`);
    return 1;
  }
  const cluster = c;
  try {
    for (const r of cluster.roles.values()) names.set(r.keypair.publicKey.toBase58(), r.name);
    const honest = cluster.executors.find((e) => !e.cheat)!;
    const cheater = cluster.executors.find((e) => e.cheat)!;
    say(
      `executors: ${green(honest.name)} ${short(honest.keypair.publicKey.toBase58())}, ` +
        `${red('cheater')} ${short(cheater.keypair.publicKey.toBase58())} (its trace is honest up to layer ${CHEAT_LAYER - 1}, wrong from layer ${CHEAT_LAYER})`,
    );
    const bondOf = async (k: typeof honest) =>
      (await cluster.client.fetchOperator(k.keypair.publicKey))?.bonded ?? 0n;
    const before = new Map(
      await Promise.all([...cluster.roles.values()].map(async (r) => [r.name, await bondOf(r)] as const)),
    );
    say(
      `bonds on chain: each executor ${sol(before.get(honest.name)!)}, each challenger ${sol(before.get('challenger-0')!)}`,
    );

    const jobs: { jobId: string; expected: string; status?: string }[] = [];
    for (let i = 0; i < JOBS; i++) jobs.push(await cluster.submit(i));
    say(`${JOBS} jobs submitted on the demo model (int8 MLP); challengers audit every job (sample rate 1)`);

    const seen = new Map<string, string>();
    const tick = async () => {
      for (const j of jobs) {
        const v = await cluster.job(j.jobId);
        const key = `${v.status}:${v.executor ?? ''}`;
        if (seen.get(j.jobId) === key) continue;
        seen.set(j.jobId, key);
        j.status = v.status;
        if (v.status === 'executed' || v.status === 'batched' || v.status === 'finalized') {
          const who = names.get(v.executor ?? '') ?? '?';
          const right = v.outputDigest === j.expected;
          say(`job ${short(j.jobId)} ${v.status.padEnd(9)} by ${who}${right ? '' : red(' (wrong output)')}`);
        }
      }
      for (const { address, dispute: d } of await cluster.client.listDisputes()) {
        const key = address.toBase58();
        const state = describe(d);
        if (seen.get(key) === state) continue;
        seen.set(key, state);
        say(`  ${dim(`dispute ${short(key)}`)} ${state}`);
      }
    };
    const deadline = Date.now() + 300_000;
    while (jobs.some((j) => j.status !== 'finalized') && Date.now() < deadline) {
      await tick();
      await new Promise((r) => setTimeout(r, 300));
    }
    await tick();
    const after = new Map(
      await Promise.all([...cluster.roles.values()].map(async (r) => [r.name, await bondOf(r)] as const)),
    );
    say(bold('the books'));
    for (const r of cluster.roles.values()) {
      if (r.kind === 'sequencer') continue;
      const d = after.get(r.name)! - before.get(r.name)!;
      const change = d === 0n ? 'unchanged' : d < 0n ? red(`slashed ${sol(-d)}`) : green(`+${sol(d)} bounty`);
      say(`  ${r.name.padEnd(24)} bond ${sol(after.get(r.name)!)} (${change})`);
    }
    const correct = jobs.filter((j) => j.status === 'finalized').length;
    say(
      correct === JOBS
        ? green(`all ${JOBS} jobs finalized with the honest result; the cheater paid for every wrong one`)
        : red(`${JOBS - correct} jobs not finalized in time`),
    );
    return correct === JOBS ? 0 : 1;
  } finally {
    say(dim('stopping'));
    await cluster.stop();
  }
}

function describe(d: DisputeAccount): string {
  const turn = d.turn === SIDE.EXECUTOR ? 'executor' : 'challenger';
  const clocks = `clocks e=${d.clock[0]} c=${d.clock[1]} slots`;
  switch (d.phase) {
    case PHASE.EXEC_TRACE:
    case PHASE.CHAL_TRACE:
      return `${PHASE_NAMES[d.phase]}: the ${turn} commits its trace root (${d.layerCount} layers)`;
    case PHASE.LAYER_BISECT:
      return `bisecting layers: they agree through layer ${d.agreed === 0xffffffff ? '(none)' : d.agreed}, disagree by layer ${d.disagree}; ${turn} to move, ${clocks}`;
    case PHASE.LAYER_REVEAL:
      return `first disagreeing layer is ${d.disagree}: the ${turn} reveals its header and chunk root`;
    case PHASE.CHUNK_BISECT:
      return `bisecting the chunks of layer ${d.disagree}: level ${d.chunkLevel}, chunk ${d.chunkIndex}; ${turn} to move`;
    case PHASE.ONE_STEP:
      return `narrowed to layer ${d.disagree}, chunk ${d.chunkIndex}: one-step on chain`;
    case PHASE.RESOLVED:
      return d.winner === SIDE.CHALLENGER
        ? red(`resolved: the executor loses, stake ${sol(d.executorStake)} slashed, the job is invalidated`)
        : green('resolved: the executor wins');
    default:
      return `phase ${d.phase}`;
  }
}

process.exitCode = await main();
