// Test helper: runs a real `nats-server -js` on a free loopback port with a temp store, restartable on the same store.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export const NATS_READY_TIMEOUT_MS = 10_000;

/** The nats-server binary: $NATS_SERVER_BIN, then PATH, then Debian's /usr/sbin (not on a user's PATH). */
export function findNatsServer(): string | undefined {
  const fromEnv = process.env.NATS_SERVER_BIN;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin'];
  return dirs.map((d) => join(d, 'nats-server')).find((p) => existsSync(p));
}

function isCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * For node:test's `skip` option: false when nats-server is there; a reason string (skip) when it is not
 * and CI is unset. Under CI a missing binary throws, so the suite fails instead of silently skipping.
 */
export function natsSkipReason(): string | false {
  if (findNatsServer()) return false;
  const why = 'nats-server not found (install the Debian package nats-server, or set NATS_SERVER_BIN)';
  if (isCi()) throw new Error(`${why}; CI is set, so the NATS suite cannot be skipped`);
  return `${why} — skipping the NATS suite (set CI=true to make this an error)`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface NatsServerOptions {
  /** Bytes; the server default is 1 MB. */
  maxPayload?: number;
  /** false starts the server without JetStream. */
  jetstream?: boolean;
}

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** Kills the server (SIGTERM, or SIGKILL to simulate a crash) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and store dir. */
  restart(): Promise<void>;
  /** Stops the server and deletes the store dir. */
  dispose(): Promise<void>;
  /** Everything the server printed, for failure messages. */
  output(): string;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const bin = findNatsServer();
  if (!bin) throw new Error('nats-server not found (apt-get install nats-server, or set NATS_SERVER_BIN)');
  const dir = await mkdtemp(join(tmpdir(), 'optinfer-nats-'));
  const storeDir = join(dir, 'store');
  const port = await freePort();
  const config = join(dir, 'nats.conf');
  const lines = [`host: 127.0.0.1`, `port: ${port}`];
  if (opts.maxPayload !== undefined) lines.push(`max_payload: ${opts.maxPayload}`);
  if (opts.jetstream !== false) lines.push(`jetstream { store_dir: ${JSON.stringify(storeDir)} }`);
  await writeFile(config, lines.join('\n') + '\n');

  let child: ChildProcess | undefined;
  let log = '';

  async function launch(): Promise<void> {
    const proc = spawn(bin as string, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`nats-server not ready after ${NATS_READY_TIMEOUT_MS} ms:\n${log}`));
      }, NATS_READY_TIMEOUT_MS);
      const onData = (chunk: Buffer): void => {
        log += chunk.toString();
        if (log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (code ${code}, signal ${signal}) before ready:\n${log}`));
      });
    });
  }

  async function stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    stop,
    restart: async () => {
      await stop();
      log = '';
      await launch();
    },
    dispose: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
    output: () => log,
  };
}
