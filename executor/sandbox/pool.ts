// The sandbox: model runs and traces in a pool of child processes, each run under a wall-time and a memory limit.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { silentLogger, type Logger } from '../../common/log.ts';
import { isOptinferErrorCode, OptinferError, type OptinferErrorCode } from '../../state/errors.ts';
import type { TensorMap } from '../../state/tensor-map.ts';
import type { LoadedModel } from '../model.ts';
import { runModel, type RunResult } from '../run.ts';
import { traceModel, type TraceOptions, type TraceResult } from '../trace.ts';
import type { ChildTraceOptions, FromChild, ModelRef, ToChild, WireError } from './protocol.ts';

const MiB = 1024 * 1024;

/** Where a model runs: the executor's consumer and trace server only see this. */
export interface ModelRunner {
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
  /** Child processes, so runs at once; more jobs wait in the pool's queue. */
  size: number;
  /** A child whose RSS is above this after a job is replaced by a fresh one, so memory goes back. */
  recycleRssBytes: number;
  /** A child is replaced after this many jobs, whatever its size. */
  maxJobsPerChild: number;
  /** How often a busy child's RSS is read. */
  pollMs: number;
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
    maxJobsPerChild: 10_000,
    pollMs: 25,
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
  msg: ToChild;
  model: LoadedModel;
  resolve(r: RunResult | TraceResult): void;
  reject(e: unknown): void;
  timer?: NodeJS.Timeout;
}

interface Slot {
  proc: ChildProcess;
  ready: boolean;
  task: Task | null;
  jobs: number;
  /** Set when the pool kills the child: the error its job is answered with. */
  killedFor: OptinferError | null;
  /** Set when the pool replaces an idle child (recycling, shutdown). */
  retired: boolean;
  exited: Promise<void>;
}

function fromWire(e: WireError): OptinferError {
  const code: OptinferErrorCode = isOptinferErrorCode(e.code) ? e.code : 'INTERNAL';
  return new OptinferError(code, e.message, e.details);
}

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
  private nextId = 1;
  private bootFailures = 0;
  private closed = false;
  private warnedNoProc = false;
  private readonly counts = { started: 0, killedTime: 0, killedMemory: 0, recycled: 0 };

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
      busy: all.filter((s) => s.task).length,
      queued: this.queue.length,
      ...this.counts,
    };
  }

  /** Process ids of the live children (for tests and diagnostics). */
  pids(): number[] {
    return [...this.slots].map((s) => s.proc.pid!).filter((p) => p !== undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poller);
    const gone = new OptinferError('UNAVAILABLE', 'the executor is shutting down; the job was not run');
    for (const t of this.queue.splice(0)) t.reject(gone);
    const exits: Promise<void>[] = [];
    for (const s of this.slots) {
      s.retired = true;
      s.killedFor ??= gone;
      s.proc.kill('SIGKILL');
      exits.push(s.exited);
    }
    await Promise.all(exits);
  }

  private submit(model: LoadedModel, msg: (id: number, ref: ModelRef) => ToChild): Promise<unknown> {
    if (this.closed) {
      return Promise.reject(
        new OptinferError('UNAVAILABLE', 'the executor is shutting down; the job was not run'),
      );
    }
    const id = this.nextId++;
    const ref: ModelRef = { modelId: model.modelId, name: model.name, profile: model.profile };
    return new Promise((resolve, reject) => {
      this.queue.push({ id, msg: msg(id, ref), model, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.closed) return;
    for (const s of this.slots) {
      if (this.queue.length === 0) return;
      if (s.ready && !s.task && !s.killedFor && !s.retired) this.assign(s, this.queue.shift()!);
    }
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
      task: null,
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

  private assign(s: Slot, t: Task): void {
    s.task = t;
    t.timer = setTimeout(() => {
      this.counts.killedTime++;
      this.kill(
        s,
        new OptinferError(
          'TIME_LIMIT',
          `model '${t.model.name}': the run took longer than the executor's time limit of ${secs(this.config.timeMs)} and was stopped`,
          { limitMs: this.config.timeMs },
        ),
      );
    }, this.config.timeMs);
    s.proc.send(t.msg);
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
    const t = s.task;
    if (!t || t.id !== m.id || s.killedFor) return;
    if (m.kind === 'need-model') {
      s.proc.send({ ...t.msg, model: { ...t.msg.model, bytes: t.model.bytes } });
      return;
    }
    clearTimeout(t.timer);
    s.task = null;
    s.jobs++;
    if (m.kind === 'done') t.resolve(m.result);
    else t.reject(fromWire(m.error));
    const rss = s.proc.pid === undefined ? null : rssOf(s.proc.pid);
    if ((rss !== null && rss > this.config.recycleRssBytes) || s.jobs >= this.config.maxJobsPerChild) {
      // onnxruntime keeps its arena and the child's heap keeps its high-water mark: a fresh child gives it back.
      this.counts.recycled++;
      s.retired = true;
      s.proc.kill('SIGKILL');
      return;
    }
    this.pump();
  }

  private onExit(s: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    this.slots.delete(s);
    const t = s.task;
    s.task = null;
    if (t) {
      clearTimeout(t.timer);
      t.reject(
        s.killedFor ??
          new OptinferError(
            'EXECUTION_FAILED',
            `model '${t.model.name}': the sandbox process running it died (${signal ?? `exit code ${code}`})`,
          ),
      );
    }
    if (this.closed) return;
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
    // A killed child is replaced at once, so the next job does not pay for the fork.
    if ((s.killedFor || s.retired) && this.slots.size < this.config.size) this.spawn();
    this.pump();
  }

  private poll(): void {
    for (const s of this.slots) {
      if (!s.task || s.killedFor || s.proc.pid === undefined) continue;
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
        const t = s.task;
        this.kill(
          s,
          new OptinferError(
            'MEMORY_LIMIT',
            `model '${t.model.name}': the run reached ${mib(rss)}, over the executor's memory limit of ${mib(this.config.memoryBytes)}, and was stopped`,
            { limitBytes: this.config.memoryBytes, rssBytes: rss },
          ),
        );
      }
    }
  }
}
