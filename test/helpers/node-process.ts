// Test helper: runs `optinfer <role>` as a real child process and waits for its "listening"/"running" line.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';

export const BIN = fileURLToPath(new URL('../../bin/optinfer.mjs', import.meta.url));

export interface NodeProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Starts `node bin/optinfer.mjs ...args` and waits until stdout matches ready. */
export async function startNode(
  args: string[],
  ready: RegExp,
  timeoutMs = 60_000,
  env: Record<string, string> = {},
): Promise<NodeProcess> {
  const child = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, OPTINFER_LOG_LEVEL: 'warn', ...env },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, sig) => resolve(code ?? sig ?? -1)),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`node did not become ready in ${timeoutMs} ms:\n${out}\n${err}`)),
      timeoutMs,
    );
    const check = () => {
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then((c) => {
      clearTimeout(timer);
      reject(new Error(`node exited (${c}) before it was ready:\n${out}\n${err}`));
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

export async function stopNode(p: NodeProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  return p.exited;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Runs a one-shot `optinfer ...` command to its exit; `out` is stdout and stderr together. */
export function runCli(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let out = '';
    child.stdout!.on('data', (d) => ((stdout += d), (out += d)));
    child.stderr!.on('data', (d) => ((stderr += d), (out += d)));
    child.on('exit', (code) => resolve({ code, stdout, stderr, out }));
  });
}
