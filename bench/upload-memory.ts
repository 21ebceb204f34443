// Measures the node's memory around refused model uploads: RSS and peak RSS of a real `optinfer dev` child process.
//
//   node --import tsx bench/upload-memory.ts [MB]        (Linux: reads /proc/PID/status; default 250 MB)
//
// Three refusals, each streamed without buffering on the client: junk bytes; a body shaped like a ModelProto whose
// graph does not decode (it passes the streaming check, is stored, read and inspected); four of those at once.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startNode, stopNode } from '../test/helpers/node-process.ts';

const MB = Number(process.argv[2] ?? 250);
const SIZE = MB * 1024 * 1024;

function mem(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
  return { rss: Math.round(kb('VmRSS')), peak: Math.round(kb('VmHWM')) };
}

/** A varint as protobuf writes it. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** `size` bytes: `head`, then 1 MiB chunks of `fill`. */
function body(size: number, head: Uint8Array, fill: number): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(1024 * 1024).fill(fill);
  let sent = 0;
  return new ReadableStream({
    pull(c) {
      if (sent === 0) {
        c.enqueue(head);
        sent += head.length;
        return;
      }
      const n = Math.min(chunk.length, size - sent);
      if (n <= 0) return c.close();
      c.enqueue(n === chunk.length ? chunk : chunk.subarray(0, n));
      sent += n;
    },
  });
}

async function upload(base: string, stream: ReadableStream<Uint8Array>): Promise<string> {
  try {
    const res = await fetch(`${base}/v1/models?name=big`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    const j = (await res.json()) as { error?: { code: string } };
    return `${res.status} ${j.error?.code ?? 'registered'}`;
  } catch (e) {
    return `connection closed (${(e as Error).message})`;
  }
}

const settle = () => new Promise((r) => setTimeout(r, 3000));

const dataDir = mkdtempSync(join(tmpdir(), 'optinfer-upload-mem-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const node = await startNode(
  ['dev', '--chain', 'none', '--executors', '1', '--port', String(port), '--data-dir', dataDir],
  /listening on/,
);
const pid = node.child.pid!;
try {
  await settle();
  const row = (what: string, answer: string) => {
    const m = mem(pid);
    process.stdout.write(`${what.padEnd(44)} ${answer.padEnd(22)} RSS ${m.rss} MB   peak ${m.peak} MB\n`);
  };
  row('baseline', '');
  // ir_version 8, then a graph field as long as the rest of the body: its payload does not decode.
  const modelLike = () => new Uint8Array([0x08, 0x08, 0x3a, ...varint(SIZE - 16)]);
  row(`${MB} MB of junk`, await upload(base, body(SIZE, new TextEncoder().encode('junk'), 0xab)));
  await settle();
  row('  3 s later', '');
  row(
    `${MB} MB ModelProto-shaped, bad graph`,
    await upload(base, body(SIZE - 16 + 4 + 3, modelLike(), 0xff)),
  );
  await settle();
  row('  3 s later', '');
  const four = await Promise.all(
    [0, 1, 2, 3].map(() => upload(base, body(SIZE - 16 + 4 + 3, modelLike(), 0xff))),
  );
  row(`4 x ${MB} MB ModelProto-shaped, at once`, four.join(', ').slice(0, 22));
  await settle();
  row('  3 s later', '');
} finally {
  await stopNode(node);
  rmSync(dataDir, { recursive: true, force: true });
}
