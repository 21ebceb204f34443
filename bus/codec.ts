// Message codec: JSON-compatible objects with Uint8Array fields, as plain JSON or a binary frame (JSON + raw bytes).
import { BusError } from './bus.ts';

/**
 * Wire format. Without bytes: the UTF-8 JSON text (starts with '{').
 * With bytes: 0x00 'O' 'B' 0x01, u32 LE length of the JSON header, the JSON header, then the raw byte
 * blobs back to back; each Uint8Array is replaced in the header by {"$bytes": [offset, length]} with
 * offset relative to the first blob. "$bytes" is therefore a reserved key in messages.
 */
const MAGIC = [0x00, 0x4f, 0x42, 0x01] as const;
const BYTES_KEY = '$bytes';
const MAX_DEPTH = 64;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type Visit = (bytes: Uint8Array) => unknown;

/** Walks value checking it is JSON-compatible, returning a copy where Uint8Arrays are replaced by visit(). */
function walk(value: unknown, path: string, depth: number, visit: Visit): unknown {
  if (depth > MAX_DEPTH) throw invalid(path, `nested deeper than ${MAX_DEPTH} levels (or a cycle)`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(path, `non-finite number ${value}`);
    return value;
  }
  if (value instanceof Uint8Array) return visit(value);
  if (Array.isArray(value)) {
    return value.map((v, i) => (v === undefined ? null : walk(v, `${path}[${i}]`, depth + 1, visit)));
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const what = ArrayBuffer.isView(value) ? `${value.constructor.name} (use Uint8Array)` : describe(value);
      throw invalid(path, `unsupported ${what}`);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === BYTES_KEY) throw invalid(path, `the key "${BYTES_KEY}" is reserved by the bus codec`);
      if (v === undefined) continue;
      // An own property whatever the key (`__proto__` assigned would set the prototype instead).
      Object.defineProperty(out, k, {
        value: walk(v, `${path}.${k}`, depth + 1, visit),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  throw invalid(path, `unsupported ${typeof value}`);
}

function describe(value: object): string {
  return (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
}

function invalid(path: string, why: string): BusError {
  return new BusError('INVALID_MESSAGE', `invalid bus message at ${path}: ${why}`);
}

function checkTop(msg: unknown): void {
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || msg instanceof Uint8Array) {
    throw invalid('msg', 'a message must be a plain object');
  }
}

/** A deep copy with the same checks as encode(); bytes are copied so sender and receiver never alias. */
export function cloneMessage<T>(msg: T): T {
  checkTop(msg);
  return walk(msg, 'msg', 0, (b) => new Uint8Array(b)) as T;
}

export function encodeMessage(msg: unknown): Uint8Array {
  checkTop(msg);
  const blobs: Uint8Array[] = [];
  let offset = 0;
  const tree = walk(msg, 'msg', 0, (b) => {
    blobs.push(b);
    const ref = { [BYTES_KEY]: [offset, b.byteLength] };
    offset += b.byteLength;
    return ref;
  });
  const json = utf8.encode(JSON.stringify(tree));
  if (blobs.length === 0) return json;
  const out = new Uint8Array(8 + json.byteLength + offset);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, json.byteLength, true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const b of blobs) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

export function decodeMessage<T = unknown>(data: Uint8Array): T {
  if (data.byteLength >= 8 && MAGIC.every((m, i) => data[i] === m)) {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const jsonLength = view.getUint32(4, true);
    const base = 8 + jsonLength;
    if (base > data.byteLength) throw invalid('frame', 'truncated header');
    const header = utf8Decoder.decode(data.subarray(8, base));
    return JSON.parse(header, (_key, value: unknown) => {
      if (value !== null && typeof value === 'object' && !Array.isArray(value) && BYTES_KEY in value) {
        const [off, len] = (value as Record<string, [number, number]>)[BYTES_KEY];
        if (!(off >= 0 && len >= 0 && base + off + len <= data.byteLength)) {
          throw invalid('frame', 'byte reference outside the frame');
        }
        // A copy (not a view): a plain, aligned Uint8Array the receiver owns, even when data is a Buffer.
        return new Uint8Array(data.subarray(base + off, base + off + len));
      }
      return value;
    }) as T;
  }
  return JSON.parse(utf8Decoder.decode(data)) as T;
}
