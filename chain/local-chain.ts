// Launches the local chain (chain/local-validator, surfpool-core) on free loopback ports as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Where chain/scripts/build.sh puts the binary; OPTINFER_LOCAL_VALIDATOR overrides it. */
export const DEFAULT_VALIDATOR_BINARY = fileURLToPath(
  new URL('./target/release/optinfer-local-validator', import.meta.url),
);
export const DEFAULT_READY_TIMEOUT_MS = 30_000;
export const DEFAULT_STOP_TIMEOUT_MS = 5_000;
export const DEFAULT_SLOT_TIME_MS = 400;
const READY_LINE = /^optinfer-local-validator ready rpc=(\S+) ws=(\S+)$/;
/** How many times a launch on ports picked here is retried when another process took one meanwhile. */
const PORT_RETRIES = 3;
const STDERR_KEEP_CHARS = 16_384;

/** A base58 address, or anything that prints itself as one (web3.js PublicKey). */
export type AddressLike = string | { toBase58(): string };

export interface LocalProgram {
  programId: AddressLike;
  soPath: string;
}

export interface LocalAirdrop {
  pubkey: AddressLike;
  lamports: number | bigint;
}

export interface LocalChainOptions {
  programs: LocalProgram[];
  /** JSON-RPC port on 127.0.0.1; a free one is picked when omitted. */
  rpcPort?: number;
  /** Websocket port on 127.0.0.1; a free one is picked when omitted. */
  wsPort?: number;
  airdrops?: LocalAirdrop[];
  /** Block time; shorter makes confirmations faster. */
  slotTimeMs?: number;
  binaryPath?: string;
  readyTimeoutMs?: number;
  /** Receives each line the validator writes to stderr (its own log). */
  onLog?: (line: string) => void;
}

export interface LocalChain {
  rpcUrl: string;
  wsUrl: string;
  /** Child process id, for diagnostics. */
  pid: number;
  /** Milliseconds from spawn to the ready line. */
  startupMs: number;
  /** Sends SIGTERM, waits for exit (SIGKILL after a timeout); safe to call twice. */
  stop(): Promise<void>;
}

export class LocalChainError extends Error {
  constructor(
    message: string,
    readonly code: 'BINARY_MISSING' | 'EXITED' | 'TIMEOUT' | 'PORT_IN_USE',
    readonly stderr = '',
  ) {
    super(message);
    this.name = 'LocalChainError';
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills every child still running when this process exits; the child also exits when its stdin closes. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

const toBase58 = (a: AddressLike): string => (typeof a === 'string' ? a : a.toBase58());

/** Asks the kernel for a free port on 127.0.0.1 and releases it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

async function twoFreePorts(): Promise<[number, number]> {
  const a = await freePort();
  let b = await freePort();
  while (b === a) b = await freePort();
  return [a, b];
}

export function validatorArgs(opts: LocalChainOptions, rpcPort: number, wsPort: number): string[] {
  const args = ['--rpc-port', String(rpcPort), '--ws-port', String(wsPort), '--exit-on-stdin-close'];
  args.push('--slot-time-ms', String(opts.slotTimeMs ?? DEFAULT_SLOT_TIME_MS));
  for (const p of opts.programs) args.push('--program', `${toBase58(p.programId)}=${p.soPath}`);
  for (const a of opts.airdrops ?? [])
    args.push('--airdrop', `${toBase58(a.pubkey)}=${a.lamports.toString()}`);
  return args;
}

/** Starts the local chain and resolves once it serves JSON-RPC and websockets. */
export async function startLocalChain(opts: LocalChainOptions): Promise<LocalChain> {
  const binary = opts.binaryPath ?? process.env.OPTINFER_LOCAL_VALIDATOR ?? DEFAULT_VALIDATOR_BINARY;
  if (!existsSync(binary)) {
    throw new LocalChainError(
      `local validator binary not found at ${binary}: build it with \`bash chain/scripts/build.sh\``,
      'BINARY_MISSING',
    );
  }
  const pickPorts = opts.rpcPort === undefined || opts.wsPort === undefined;
  for (let attempt = 0; ; attempt++) {
    let [rpcPort, wsPort] = [opts.rpcPort ?? 0, opts.wsPort ?? 0];
    if (pickPorts) {
      const [a, b] = await twoFreePorts();
      rpcPort = opts.rpcPort ?? (a === opts.wsPort ? b : a);
      wsPort = opts.wsPort ?? (b === rpcPort ? a : b);
    }
    try {
      return await launch(binary, opts, rpcPort, wsPort);
    } catch (e) {
      // A picked port taken between picking and binding: pick again.
      if (pickPorts && e instanceof LocalChainError && e.code === 'PORT_IN_USE' && attempt < PORT_RETRIES) {
        continue;
      }
      throw e;
    }
  }
}

function launch(
  binary: string,
  opts: LocalChainOptions,
  rpcPort: number,
  wsPort: number,
): Promise<LocalChain> {
  installExitHook();
  const started = performance.now();
  const child = spawn(binary, validatorArgs(opts, rpcPort, wsPort), { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  let stderr = '';
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      live.delete(child);
      resolve();
    });
  });
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr = (stderr + line + '\n').slice(-STDERR_KEEP_CHARS);
    opts.onLog?.(line);
  });

  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), DEFAULT_STOP_TIMEOUT_MS);
    await exitedPromise;
    clearTimeout(timer);
    child.stdin?.destroy();
  };

  return new Promise<LocalChain>((resolve, reject) => {
    let settled = false;
    const fail = (err: LocalChainError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stop().then(() => reject(err));
    };
    const timeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const timer = setTimeout(
      () =>
        fail(
          new LocalChainError(
            `local validator not ready within ${timeoutMs} ms\n${stderr}`,
            'TIMEOUT',
            stderr,
          ),
        ),
      timeoutMs,
    );
    child.once('error', (e) => fail(new LocalChainError(`cannot start ${binary}: ${e.message}`, 'EXITED')));
    child.once('exit', (code, signal) => {
      // Let the last stderr lines arrive before reporting.
      setImmediate(() => {
        const inUse = /already in use/.test(stderr);
        fail(
          new LocalChainError(
            `local validator exited before ready (code ${code ?? 'null'}, signal ${signal ?? 'none'}):\n${stderr}`,
            inUse ? 'PORT_IN_USE' : 'EXITED',
            stderr,
          ),
        );
      });
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = READY_LINE.exec(line.trim());
      if (!m || settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        rpcUrl: m[1],
        wsUrl: m[2],
        pid: child.pid ?? -1,
        startupMs: performance.now() - started,
        stop,
      });
    });
  });
}
