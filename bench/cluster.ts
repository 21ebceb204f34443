// The deployment as separate processes (nats-server, the local validator with the program, a sequencer, two
// honest executors, a challenger): end-to-end jobs/s and latency from POST to a batched receipt, and what the
// challenger's re-execution costs next to the executors' at sampling rates 1%, 5% and 10% (CPU time of the
// processes from /proc, measured over the same jobs).
// Executors run with capacity 64, as in the in-process pipeline bench (bench/run.ts e2e), so the two compare.
// Run: node --import tsx bench/cluster.ts   (BENCH_CLUSTER_JOBS=600 changes the job count)
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MIN_EXECUTOR_BOND, startCluster, demoInputs, type Cluster, type Role } from '../test/e2e/cluster.ts';

export interface ClusterRow {
  sampleRate: number;
  jobs: number;
  jobsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  executorCpuS: number;
  challengerCpuS: number;
  /** The challenger's CPU over the same wall time with no jobs (chain and bus polling), subtracted below. */
  challengerIdleCpuS: number;
  sequencerCpuS: number;
  audited: number;
  /** Executors' CPU per job and the challenger's (idle subtracted) per audited job, in ms. */
  executorMsPerJob: number;
  challengerMsPerAudit: number;
  /** (challenger CPU - its idle CPU) / executors' CPU over the same jobs: what verification adds. */
  verificationOverhead: number;
  /** The paced rate: half of jobsPerSec (50% of saturation), in jobs/s. */
  halfRate: number;
  /** Latency paced at halfRate, POST to batched receipt. */
  p50MsAtHalf: number;
  p99MsAtHalf: number;
}

/** Jobs each executor runs at once: the in-process bench's figure, so the two pipelines differ only in transport. */
export const BENCH_EXECUTOR_CAPACITY = 64;

const TICKS = 100; // USER_HZ on Linux

function cpuSeconds(r: Role): number {
  const pid = r.proc?.child.pid;
  if (!pid) return 0;
  // Fields after the command name: utime is field 14 and stime 15 of /proc/PID/stat.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/**
 * Submits `jobs` jobs as fast as `concurrency` clients can (POST only); one poller watches the batch list and
 * stamps each job when the batch holding it appears, so the measuring adds one request per 20 ms, not per job.
 */
async function load(c: Cluster, jobs: number, concurrency: number, seed0: number, perSec?: number) {
  const get = async <T>(path: string) => (await (await fetch(`${c.seqUrl}${path}`)).json()) as T;
  const submitted = new Map<string, number>();
  const batchedAt = new Map<string, number>();
  const seen = new Set((await get<{ index: number }[]>('/v1/batches')).map((b) => b.index));
  let submitting = true;
  const poller = (async () => {
    while (submitting || [...submitted.keys()].some((id) => !batchedAt.has(id))) {
      for (const b of await get<{ index: number }[]>('/v1/batches')) {
        if (seen.has(b.index)) continue;
        seen.add(b.index);
        const now = performance.now();
        for (const id of (await get<{ jobIds: string[] }>(`/v1/batches/${b.index}`)).jobIds)
          if (!batchedAt.has(id)) batchedAt.set(id, now);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  let next = 0;
  const t0 = performance.now();
  const client = async () => {
    for (let i = next++; i < jobs; i = next++) {
      // Paced (open loop) when a rate is given: job i leaves at t0 + i / perSec.
      if (perSec) {
        const wait = t0 + (i * 1000) / perSec - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const start = performance.now();
      const res = await fetch(`${c.seqUrl}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ modelId: c.modelId, inputs: demoInputs(seed0 + i) }),
      });
      if (res.status !== 202) throw new Error(`submit: HTTP ${res.status}`);
      submitted.set(((await res.json()) as { jobId: string }).jobId, start);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  submitting = false;
  await poller;
  const latencies = [...submitted].map(([id, at]) => batchedAt.get(id)! - at);
  const seconds = (Math.max(...batchedAt.values()) - t0) / 1000;
  return { seconds, latencies };
}

export async function clusterRows(
  o: { jobs?: number; rates?: number[]; concurrency?: number; log?: (s: string) => void } = {},
): Promise<ClusterRow[]> {
  const jobs = o.jobs ?? Number(process.env.BENCH_CLUSTER_JOBS ?? 1000);
  const rows: ClusterRow[] = [];
  // The executor role reads its capacity from the environment its process inherits.
  const savedCapacity = process.env.OPTINFER_CAPACITY;
  process.env.OPTINFER_CAPACITY = String(BENCH_EXECUTOR_CAPACITY);
  try {
    for (const rate of o.rates ?? [0.01, 0.05, 0.1]) {
      o.log?.(`cluster at sample rate ${rate}: starting`);
      let auditedJobs = 0;
      const c = await startCluster({
        evil: [],
        honest: 2,
        challengers: 1,
        sampleRate: rate,
        // Jobs sent concurrently and unpaid: the sequencer's wallet escrows their fees.
        payments: false,
        // The sequencer keeps each executor's unfinalized jobs within its bond: bond for all of them.
        executorBond: BigInt(jobs + 1000) * MIN_EXECUTOR_BOND,
        batchMaxJobs: 64,
        batchMaxAgeMs: 100,
        logLevel: 'info',
        onLog: (role, line) => {
          if (role.startsWith('challenger') && line.includes('"batch sampled"')) {
            const m = /"picked":(\d+)/.exec(line);
            if (m) auditedJobs += Number(m[1]);
          }
        },
      });
      try {
        // Warm-up: the first jobs load the model in every process.
        await load(c, 50, 4, 1_000_000);
        await new Promise((r) => setTimeout(r, 1500));
        const chal = c.challengers[0];
        const idle0 = cpuSeconds(chal);
        const idleT0 = performance.now();
        await new Promise((r) => setTimeout(r, 5000));
        const idlePerSec = (cpuSeconds(chal) - idle0) / ((performance.now() - idleT0) / 1000);
        auditedJobs = 0;
        const cpu0 = new Map([...c.roles.values()].map((r) => [r.name, cpuSeconds(r)]));
        const w0 = performance.now();
        const { seconds, latencies } = await load(c, jobs, o.concurrency ?? 32, 0);
        // Let the challenger finish auditing the last batches before reading CPU time.
        await new Promise((r) => setTimeout(r, 3000));
        const wall = (performance.now() - w0) / 1000;
        const used = (r: Role) => cpuSeconds(r) - cpu0.get(r.name)!;
        const executorCpuS = c.executors.reduce((s, r) => s + used(r), 0);
        const challengerCpuS = used(chal);
        const idle = idlePerSec * wall;
        const verifying = Math.max(0, challengerCpuS - idle);
        rows.push({
          sampleRate: rate,
          jobs,
          jobsPerSec: Math.round(jobs / seconds),
          p50Ms: Math.round(pct(latencies, 50)),
          p99Ms: Math.round(pct(latencies, 99)),
          executorCpuS: +executorCpuS.toFixed(2),
          challengerCpuS: +challengerCpuS.toFixed(2),
          challengerIdleCpuS: +idle.toFixed(2),
          sequencerCpuS: +used(c.roles.get('sequencer')!).toFixed(2),
          audited: auditedJobs,
          executorMsPerJob: +((executorCpuS / jobs) * 1000).toFixed(2),
          challengerMsPerAudit: auditedJobs ? +((verifying / auditedJobs) * 1000).toFixed(2) : 0,
          verificationOverhead: +(verifying / executorCpuS).toFixed(3),
          ...(await (async () => {
            // Open loop at half the saturated rate, for about 5 s (at least 200 jobs).
            const halfRate = Math.max(1, Math.round(jobs / seconds / 2));
            const paced = await load(c, Math.max(200, halfRate * 5), 32, 2_000_000, halfRate);
            return {
              halfRate,
              p50MsAtHalf: Math.round(pct(paced.latencies, 50)),
              p99MsAtHalf: Math.round(pct(paced.latencies, 99)),
            };
          })()),
        });
      } finally {
        await c.stop();
      }
    }
  } finally {
    if (savedCapacity === undefined) delete process.env.OPTINFER_CAPACITY;
    else process.env.OPTINFER_CAPACITY = savedCapacity;
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rows = await clusterRows({ log: (s) => process.stderr.write(`  … ${s}\n`) });
  console.log(
    'Separate processes over nats-server, settling on the local validator (100 ms slots): 2 honest executors, 1 challenger.',
  );
  console.table(rows);
}
