// SHA-256 and byte helpers; node:crypto because it is ~13x faster here than @noble/hashes (DESIGN.md).
import { createHash, hash as oneShot } from 'node:crypto';
import type { Hash32 } from './types.ts';
import { OptinferError } from './errors.ts';

/** Domain tags: the first byte of every hash input (docs/PROTOCOL.md). */
export const Tag = {
  LEAF: 0x00,
  NODE: 0x01,
  TENSOR: 0x02,
  TRACE_SEED: 0x03,
  TRACE_STEP: 0x04,
  TENSOR_SET: 0x05,
  JOB_ID: 0x06,
  PROFILE: 0x07,
  SAMPLE: 0x08,
  FEE_NODE: 0x09,
} as const;

export const ZERO32 = new Uint8Array(32);

/** SHA-256 of the concatenation of parts. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return oneShot('sha256', parts[0], 'buffer');
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** SHA-256 of `tag || parts...` (one-shot over one buffer: for small inputs several times faster than streaming). */
export function taggedHash(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let n = 1;
  for (const p of parts) n += p.length;
  const buf = Buffer.allocUnsafe(n);
  buf[0] = tag;
  let off = 1;
  for (const p of parts) {
    buf.set(p, off);
    off += p.length;
  }
  return oneShot('sha256', buf, 'buffer');
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function hashHex<H extends Hash32 = Hash32>(b: Uint8Array): H {
  if (b.length !== 32) throw new OptinferError('INTERNAL', `expected 32 bytes, got ${b.length}`);
  return toHex(b) as H;
}

export function fromHex(hex: string, expectedBytes?: number): Uint8Array {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) {
    throw new OptinferError('INVALID_HASH', `expected hex bytes, got ${JSON.stringify(hex.slice(0, 40))}`);
  }
  if (expectedBytes !== undefined && hex.length !== expectedBytes * 2) {
    throw new OptinferError('INVALID_HASH', `expected ${expectedBytes} hex bytes, got ${hex.length / 2}`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}
