// The sandbox: model runs and traces in a pool of child processes, each run under a wall-time and a memory limit.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { silentLogger, type Logger } from '../../common/log.ts';
import { isOptinferErrorCode, OptinferError, type OptinferErrorCode } from '../../state/errors.ts';
import type { TensorMap } from '../../state/tensor-map.ts';
import { loadModel, type LoadedModel } from '../model.ts';
import type { RunConfig } from '../run-config.ts';
import { runModel, type RunResult } from '../run.ts';
import { releaseTraceCache, traceModel, type TraceOptions, type TraceResult } from '../trace.ts';
import type {
  Answer,
  ChildTraceOptions,
  FromChild,
  JobToChild,
  ModelRef,
  ToChild,
  WireError,
} from './protocol.ts';

const MiB = 1024 * 1024;

/** Where a model runs: the executor's consumer and trace server only see this. */
export interface ModelRunner {
  /** The configuration models run under here (`--profile`); absent means each model's registered profile. */
  readonly config?: { readonly run?: Readonly<RunConfig> };
  run(model: LoadedModel, inputs: TensorMap): Promise<RunResult>;
  trace(model: LoadedModel, inputs: TensorMap, opts?: TraceOptions): Promise<TraceResult>;
  close(): Promise<void>;
}

/** Runs in the calling process, with no limits: for tools and tests that measure the sandbox against it. */
export const IN_PROCESS: ModelRunner = {
  run: runModel,
  trace: traceModel,
  close: () => Promise.resolve(),
};

/**
 * Runs in the calling process under a run configuration (`--profile` without a sandbox): each model is loaded
 * once more under it, its registered profile unchanged, so the trace commits to what it would commit to anyway.
 */
export function inProcessRunner(run: Readonly<RunConfig>): ModelRunner {
  const copies = new Map<string, Promise<LoadedModel>>();
  const copy = (m: LoadedModel): Promise<LoadedModel> => {
    const key = `${m.modelId}/${m.profileHash}`;
    let p = copies.get(key);
    if (!p) {
      p = loadModel(m.bytes, { name: m.name, profile: m.profile, run });
      p.catch(() => copies.delete(key));
      copies.set(key, p);
    }
    return p;
  };
  return {
    config: { run },
    run: async (m, inputs) => runModel(await copy(m), inputs),
    trace: async (m, inputs, opts) => traceModel(await copy(m), inputs, opts),
    close: async () => {
      const all = await Promise.allSettled(copies.values());
      copies.clear();
      for (const r of all)
        if (r.status === 'fulfilled') {
          await releaseTraceCache(r.value);
          await r.value.close();
        }
    },
  };
}

export interface SandboxLimits {
  /** Wall time one run or trace may take, loading the model into the child included. */
  timeMs: number;
  /**
   * Resident memory (RSS) one child may reach while it runs a job: the child's own baseline (~120 MiB with
   * onnxruntime loaded), its sessions and the job's tensors, onnxruntime's native arena included.
   */
  memoryBytes: number;
}

export interface SandboxConfig extends SandboxLimits {
  /** How the children run models (`--profile`); each model's registered profile when absent. */
  run?: Readonly<RunConfig>;
  /** Child processes, so runs at once; more jobs wait in the pool's queue. */
  size: number;
  /** A child whose RSS is above this after a job is replaced by a fresh one, so memory goes back. */
  recycleRssBytes: number;
  /** A child is replaced after this many jobs, whatever its size. */
  maxJobsPerChild: number;
  /** How often a busy child's RSS is read. */
  pollMs: number;
  /**
   * Jobs sent to a child in one message when the queue is long, so the cost of a round trip between processes
   * is shared. Only runs of models whose runs have been short (under batchMaxRunMs on average) are grouped; a
   * group killed for a limit is run again one job at a time, so the limit falls on the job that broke it.
   */
  batch: number;
  batchMaxRunMs: number;
}

export const DEFAULT_SANDBOX_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  timeMs: 60_000,
  memoryBytes: 2048 * MiB,
});

export function defaultSandboxConfig(): SandboxConfig {
  return {
    ...DEFAULT_SANDBOX_LIMITS,
    size: availableParallelism(),
    recycleRssBytes: 512 * MiB,
    maxJobsPerChild: 1_000_000,
    pollMs: 25,
    batch: 16,
    batchMaxRunMs: 20,
  };
}

export interface SandboxStats {
  children: number;
  busy: number;
  queued: number;
  /** Children started since the pool opened (replacements included). */
  started: number;
  killedTime: number;
  killedMemory: number;
  /** Children replaced after a job left them above recycleRssBytes, or after maxJobsPerChild jobs. */
  recycled: number;
  /** Jobs run again alone after the group they were sent in was killed. */
  rerunAlone: number;
  /** Jobs sent to children, and in how many messages. */
  jobsSent: number;
  messagesSent: number;
}

const CHILD_PATH = fileURLToPath(new URL('./child.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
/** Consecutive children that die before they are ready: past this the pool stops forking and fails the queue. */
const MAX_BOOT_FAILURES = 3;

/** Resident set of a process in bytes, from /proc (Linux); null where there is no /proc. */
export function rssOf(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

const mib = (b: number) => `${Math.round(b / MiB)} MiB`;
const secs = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

interface Task {
  id: number;
  model: LoadedModel;
  msg: JobToChild;
  resolve(r: RunResult | TraceResult): void;
  reject(e: unknown): void;
  /** Run alone: it was in a group that broke a limit. */
  alone?: boolean;
}

interface Slot {
  proc: ChildProcess;
  ready: boolean;
  /** The jobs the child holds (one message), and when and under which timer they were sent. */
  sent: Task[];
  timer?: NodeJS.Timeout;
  jobs: number;
  /** Set when the pool kills the child: the error its jobs are answered with. */
  killedFor: OptinferError | null;
  /** Takes no more jobs; killed once it has answered the ones it holds (recycling, shutdown). */
  retired: boolean;
  exited: Promise<void>;
}

function fromWire(e: WireError): OptinferError {
  const code: OptinferErrorCode = isOptinferErrorCode(e.code) ? e.code : 'INTERNAL';
  return new OptinferError(code, e.message, e.details);
}

const shuttingDown = () =>
  new OptinferError('UNAVAILABLE', 'the executor is shutting down; the job was not run');

/**
 * A pool of child processes that run models. A run that passes its time or memory limit has its child killed
 * (SIGKILL) and fails with TIME_LIMIT or MEMORY_LIMIT; a fresh child takes the dead one's place, so the
 * process that serves the API and the bus is never blocked by onnxruntime nor grows with a job.
 */
export class SandboxPool implements ModelRunner {
  readonly config: Readonly<SandboxConfig>;
  private readonly slots = new Set<Slot>();
  private readonly queue: Task[] = [];
  private readonly poller: NodeJS.Timeout;
  /** Mean run time per model in a child (ms, moving average): which jobs may share a message. */
  private readonly runMs = new Map<string, number>();
  private nextId = 1;
  private bootFailures = 0;
  private closed = false;
  private warnedNoProc = false;
  private readonly counts = {
    started: 0,
    killedTime: 0,
    killedMemory: 0,
    recycled: 0,
    rerunAlone: 0,
    jobsSent: 0,
    messagesSent: 0,
  };

  constructor(
    config: Partial<SandboxConfig> = {},
    private readonly log: Logger = silentLogger,
  ) {
    const c = { ...defaultSandboxConfig(), ...config };
    for (const [k, min] of [
      ['size', 1],
      ['timeMs', 1],
      ['memoryBytes', 1],
      ['recycleRssBytes', 1],
      ['maxJobsPerChild', 1],
      ['pollMs', 1],
      ['batch', 1],
      ['batchMaxRunMs', 0],
    ] as const) {
      if (!Number.isSafeInteger(c[k]) || c[k] < min) {
        throw new OptinferError(
          'INVALID_CONFIG',
          `sandbox ${k}: expected a whole number ≥ ${min}, got ${c[k]}`,
        );
      }
    }
    this.config = Object.freeze(c);
    this.poller = setInterval(() => this.poll(), c.pollMs);
    this.poller.unref();
  }

  /** Starts `n` children now (default: the pool's size) so the first jobs do not wait for a fork. */
  async warm(n = this.config.size): Promise<void> {
    while (this.slots.size < Math.min(n, this.config.size)) this.spawn();
    const deadline = Date.now() + 30_000;
    while ([...this.slots].some((s) => !s.ready) && Date.now() < deadline && !this.closed) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  run(model: LoadedModel, inputs: TensorMap): Promise<RunResult> {
    return this.submit(model, (id, ref) => ({ kind: 'run', id, model: ref, inputs })) as Promise<RunResult>;
  }

  trace(model: LoadedModel, inputs: TensorMap, opts: TraceOptions = {}): Promise<TraceResult> {
    const o: ChildTraceOptions = {
      ...(opts.keepTensors === undefined ? {} : { keepTensors: opts.keepTensors }),
      ...(opts.checkPlain === undefined ? {} : { checkPlain: opts.checkPlain }),
      ...(opts.inputDigest === undefined ? {} : { inputDigest: opts.inputDigest }),
      ...(opts.prefixLayers === undefined ? {} : { prefixLayers: opts.prefixLayers }),
    };
    return this.submit(model, (id, ref) => ({
      kind: 'trace',
      id,
      model: ref,
      inputs,
      opts: o,
    })) as Promise<TraceResult>;
  }

  stats(): SandboxStats {
    const all = [...this.slots];
    return {
      children: all.length,
      busy: all.filter((s) => s.sent.length > 0).length,
      queued: this.queue.length,
      ...this.counts,
    };
  }

  /** Process ids of the live children (for tests and diagnostics). */
  pids(): number[] {
    return [...this.slots].flatMap((s) => (s.proc.pid === undefined ? [] : [s.proc.pid]));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poller);
    for (const t of this.queue.splice(0)) t.reject(shuttingDown());
    const exits: Promise<void>[] = [];
    for (const s of this.slots) {
      s.retired = true;
      s.killedFor ??= shuttingDown();
      s.proc.kill('SIGKILL');
      exits.push(s.exited);
    }
    await Promise.all(exits);
  }

  private submit(model: LoadedModel, msg: (id: number, ref: ModelRef) => JobToChild): Promise<unknown> {
    if (this.closed) return Promise.reject(shuttingDown());
    const ref: ModelRef = {
      modelId: model.modelId,
      name: model.name,
      profileHash: model.profileHash,
    };
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.queue.push({ id, model, msg: msg(id, ref), resolve, reject });
      this.pump();
    });
  }

  /** A job that may share a message: a plain run of a model whose runs have been short. */
  private groupable(t: Task): boolean {
    if (t.alone || t.msg.kind !== 'run') return false;
    const avg = this.runMs.get(t.model.modelId);
    return avg !== undefined && avg <= this.config.batchMaxRunMs;
  }

  private pump(): void {
    if (this.closed) return;
    const idle = [...this.slots].filter((s) => s.ready && !s.killedFor && !s.retired && s.sent.length === 0);
    for (const [k, s] of idle.entries()) {
      if (this.queue.length === 0) return;
      // Share the queue among the idle children; group only what is known to run short.
      const share = Math.ceil(this.queue.length / (idle.length - k));
      const group = [this.queue.shift()!];
      if (this.groupable(group[0])) {
        while (group.length < Math.min(share, this.config.batch) && this.queue.length > 0) {
          if (!this.groupable(this.queue[0])) break;
          group.push(this.queue.shift()!);
        }
      }
      this.assign(s, group);
    }
    if (this.queue.length === 0) return;
    const booting = [...this.slots].filter((s) => !s.ready).length;
    let want = Math.min(this.queue.length - booting, this.config.size - this.slots.size);
    while (want-- > 0) this.spawn();
  }

  private spawn(): void {
    const proc = fork(CHILD_PATH, [], {
      execArgv: [
        '--import',
        TSX,
        `--max-old-space-size=${Math.max(64, Math.floor(this.config.memoryBytes / MiB))}`,
      ],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.counts.started++;
    let exited!: () => void;
    const slot: Slot = {
      proc,
      ready: false,
      sent: [],
      jobs: 0,
      killedFor: null,
      retired: false,
      exited: new Promise<void>((r) => (exited = r)),
    };
    this.slots.add(slot);
    proc.on('message', (m: FromChild) => this.onMessage(slot, m));
    proc.on('error', (e) => this.log.warn({ err: e.message }, 'sandbox child error'));
    proc.on('exit', (code, signal) => {
      this.onExit(slot, code, signal);
      exited();
    });
  }

  private assign(s: Slot, group: Task[]): void {
    s.sent = group;
    const what = group.length === 1 ? `model '${group[0].model.name}': the run` : `${group.length} runs`;
    // A group holds only runs that have been short: it is held to the limit of one run.
    s.timer = setTimeout(() => {
      this.counts.killedTime++;
      this.kill(
        s,
        new OptinferError(
          'TIME_LIMIT',
          `${what} took longer than the executor's time limit of ${secs(this.config.timeMs)} and was stopped`,
          { limitMs: this.config.timeMs },
        ),
      );
    }, this.config.timeMs);
    s.proc.send({ kind: 'jobs', jobs: group.map((t) => t.msg) } satisfies ToChild);
    this.counts.jobsSent += group.length;
    this.counts.messagesSent++;
  }

  private kill(s: Slot, why: OptinferError): void {
    if (s.killedFor) return;
    s.killedFor = why;
    this.log.warn({ pid: s.proc.pid, code: why.code, err: why.message }, 'sandbox child killed');
    s.proc.kill('SIGKILL');
  }

  private onMessage(s: Slot, m: FromChild): void {
    if (m.kind === 'ready') {
      s.ready = true;
      this.bootFailures = 0;
      this.pump();
      return;
    }
    if (s.killedFor) return;
    if (m.kind === 'need-model') {
      const t = s.sent.find((x) => x.id === m.id);
      if (t) {
        const { profile, bytes } = t.model;
        const run = this.config.run;
        s.proc.send({
          kind: 'model',
          model: t.msg.model,
          profile,
          ...(run ? { run } : {}),
          bytes,
        } satisfies ToChild);
      }
      return;
    }
    clearTimeout(s.timer);
    const byId = new Map(s.sent.map((t) => [t.id, t]));
    s.sent = [];
    for (const a of m.answers as Answer[]) {
      const t = byId.get(a.id);
      if (!t) continue;
      byId.delete(a.id);
      s.jobs++;
      const avg = this.runMs.get(t.model.modelId);
      this.runMs.set(t.model.modelId, avg === undefined ? a.ms : avg * 0.8 + a.ms * 0.2);
      if ('result' in a) t.resolve(a.result);
      else t.reject(fromWire(a.error));
    }
    // Every job sent is answered; one that is not would be a broken child: run it again.
    this.queue.unshift(...byId.values());
    if (!s.retired) {
      const rss = s.proc.pid === undefined ? null : rssOf(s.proc.pid);
      if ((rss !== null && rss > this.config.recycleRssBytes) || s.jobs >= this.config.maxJobsPerChild) {
        // onnxruntime keeps its arena and the child's heap its high-water mark: a fresh child gives it back.
        this.counts.recycled++;
        s.retired = true;
      }
    }
    if (s.retired) s.proc.kill('SIGKILL');
    this.pump();
  }

  private onExit(s: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    this.slots.delete(s);
    clearTimeout(s.timer);
    const sent = s.sent;
    s.sent = [];
    if (this.closed) {
      for (const t of sent) t.reject(s.killedFor ?? shuttingDown());
      return;
    }
    if (sent.length === 1) {
      const [t] = sent;
      t.reject(
        s.killedFor ??
          new OptinferError(
            'EXECUTION_FAILED',
            `model '${t.model.name}': the sandbox process running it died (${signal ?? `exit code ${code}`})`,
          ),
      );
    } else if (sent.length > 1) {
      // Which of the group broke the limit is not known: each runs again alone, where the limit names it.
      this.counts.rerunAlone += sent.length;
      this.queue.unshift(...sent.map((t) => ({ ...t, alone: true })));
    }
    if (!s.ready) {
      this.bootFailures++;
      this.log.warn({ code, signal }, 'sandbox child exited before it was ready');
      if (this.bootFailures >= MAX_BOOT_FAILURES) {
        const e = new OptinferError(
          'INTERNAL',
          `the sandbox cannot start a child process (${this.bootFailures} exited before they were ready); see the node log`,
        );
        for (const q of this.queue.splice(0)) q.reject(e);
        this.bootFailures = 0;
        return;
      }
    }
    // A killed or recycled child is replaced at once, so the next job does not pay for the fork.
    if ((s.killedFor || s.retired) && this.slots.size < this.config.size) this.spawn();
    this.pump();
  }

  private poll(): void {
    for (const s of this.slots) {
      if (s.sent.length === 0 || s.killedFor || s.proc.pid === undefined) continue;
      const rss = rssOf(s.proc.pid);
      if (rss === null) {
        if (!this.warnedNoProc) {
          this.warnedNoProc = true;
          this.log.warn('no /proc on this system: the sandbox memory limit is not enforced');
        }
        continue;
      }
      if (rss > this.config.memoryBytes) {
        this.counts.killedMemory++;
        const what =
          s.sent.length === 1 ? `model '${s.sent[0].model.name}': the run` : `${s.sent.length} runs`;
        this.kill(
          s,
          new OptinferError(
            'MEMORY_LIMIT',
            `${what} reached ${mib(rss)}, over the executor's memory limit of ${mib(this.config.memoryBytes)}, and was stopped`,
            { limitBytes: this.config.memoryBytes, rssBytes: rss },
          ),
        );
      }
    }
  }
}
