// Progress of long work (tracing a large model, bench phases, registering a model on chain): a bar on a terminal,
// log lines otherwise (CI, pipes, a service's log).
import { createRequire } from 'node:module';

/** One piece of work of a known number of steps. */
export interface ProgressTask {
  /** Moves on by `n` steps (default 1); `note` names the step just reached (shown with the count). */
  tick(n?: number, note?: string): void;
  /** A message that is not a step: printed above the bar, or as a line of its own. */
  log(message: string): void;
  /** Ends the task (call it also when the work stops early). */
  done(): void;
}

export interface Progress {
  /** Starts a task of `total` steps, named `label`. */
  start(label: string, total: number): ProgressTask;
}

/** Reports nothing: the default for library code. */
export const noProgress: Progress = {
  start: () => ({ tick() {}, log() {}, done() {} }),
};

/**
 * A bar only on an interactive terminal: the stream is a TTY, TERM is not 'dumb', and neither CI nor
 * OPTINFER_PROGRESS=lines asks for plain lines (CI logs keep every carriage return as a line).
 */
export function wantsProgressBar(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!stream.isTTY) return false;
  if (env.OPTINFER_PROGRESS === 'lines') return false;
  if (env.OPTINFER_PROGRESS === 'bar') return true;
  if (env.TERM === 'dumb') return false;
  return !env.CI || env.CI === 'false' || env.CI === '0';
}

export interface LineProgressOptions {
  /** Put before every line, e.g. 'optinfer trace: '. */
  prefix?: string;
  /** A line at least this often while steps come in, even between the 10% marks (default 5 s). */
  everyMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * One line per step when a task has at most 20 steps; for longer tasks, a line at each 10% and at least every
 * `everyMs`; always a line at the start and a closing line with the time taken.
 */
export function lineProgress(write: (line: string) => void, o: LineProgressOptions = {}): Progress {
  const prefix = o.prefix ?? '';
  const everyMs = o.everyMs ?? 5_000;
  const now = o.now ?? Date.now;
  return {
    start(label, total) {
      const t0 = now();
      let done = 0;
      let lastLine = t0;
      let lastDecile = 0;
      let ended = false;
      const count = (note?: string) =>
        `${prefix}${label} ${done}/${total}${total > 20 ? ` (${Math.floor((100 * done) / Math.max(total, 1))}%)` : ''}` +
        (note ? `: ${note}` : '');
      write(`${prefix}${label}: ${total} step${total === 1 ? '' : 's'}`);
      return {
        tick(n = 1, note) {
          if (ended) return;
          done = Math.min(total, done + n);
          const decile = Math.floor((10 * done) / Math.max(total, 1));
          const t = now();
          if (total <= 20 || decile > lastDecile || t - lastLine >= everyMs) {
            write(count(note));
            lastLine = t;
            lastDecile = decile;
          }
        },
        log(message) {
          write(`${prefix}${message}`);
        },
        done() {
          if (ended) return;
          ended = true;
          write(`${prefix}${label}: done, ${done}/${total} in ${seconds(now() - t0)}`);
        },
      };
    },
  };
}

/** The `progress` package's bar (the part of its API used here). */
interface Bar {
  tick(n: number, tokens?: Record<string, string>): void;
  interrupt(message: string): void;
  terminate(): void;
  complete: boolean;
}
type BarClass = new (format: string, o: Record<string, unknown>) => Bar;

let barClass: BarClass | null | undefined;
/** The bar library, or null when it is not installed (then lines are written instead). */
function loadBar(): BarClass | null {
  if (barClass === undefined) {
    try {
      barClass = createRequire(import.meta.url)('progress') as BarClass;
    } catch {
      barClass = null;
    }
  }
  return barClass;
}

/** A bar per task on `stream` (a terminal), kept on screen when the task ends; lines if the library is missing. */
export function barProgress(stream: NodeJS.WriteStream, prefix = ''): Progress {
  const ProgressBar = loadBar();
  if (!ProgressBar) return lineProgress((l) => stream.write(`${l}\n`), { prefix });
  return {
    start(label, total) {
      const t0 = Date.now();
      const bar = new ProgressBar(`${prefix}${label} [:bar] :current/:total :percent :elapseds :note`, {
        total: Math.max(total, 1),
        width: 24,
        stream,
        clear: false,
      });
      let ended = false;
      bar.tick(0, { note: '' });
      return {
        tick(n = 1, note) {
          if (!ended && !bar.complete) bar.tick(n, { note: note ?? '' });
        },
        log(message) {
          if (ended || bar.complete) stream.write(`${prefix}${message}\n`);
          else bar.interrupt(`${prefix}${message}`);
        },
        done() {
          if (ended) return;
          ended = true;
          if (!bar.complete) bar.terminate();
          stream.write(`${prefix}${label}: done in ${seconds(Date.now() - t0)}\n`);
        },
      };
    },
  };
}

/**
 * Progress for a command: a bar on `stream` when it is an interactive terminal (wantsProgressBar), else lines,
 * given to `write` when set (a service's logger), else written to the stream.
 */
export function createProgress(
  o: {
    prefix?: string;
    stream?: NodeJS.WriteStream;
    env?: NodeJS.ProcessEnv;
    write?: (line: string) => void;
  } = {},
): Progress {
  const stream = o.stream ?? process.stderr;
  if (wantsProgressBar(stream, o.env)) return barProgress(stream, o.prefix);
  return lineProgress(o.write ?? ((l) => stream.write(`${l}\n`)), { prefix: o.prefix });
}
