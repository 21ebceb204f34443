// The challenger's sampling draw: unpredictable to an executor until the batch root exists.
import { Tag, fromHex, taggedHash } from './hash.ts';
import type { Hash32, JobId } from './types.ts';
import { OptinferError } from './errors.ts';

const TWO_64 = 1n << 64n;

/** The one check of a sampling probability, used by the CLI's parser and the challenger's start-up alike. */
export function asSampleRate(p: unknown, what = 'sample rate'): number {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1))
    throw new OptinferError('INVALID_CONFIG', `${what}: expected a number in 0..1, got ${String(p)}`);
  return p;
}

/** floor(p * 2^64), computed exactly from p's decimal digits so both languages agree. */
export function sampleThreshold(p: number): bigint {
  asSampleRate(p);
  if (p === 1) return TWO_64;
  // 1e-12 resolution is far below any rate an operator would set.
  const micro = BigInt(Math.round(p * 1e12));
  return (micro * TWO_64) / 1_000_000_000_000n;
}

export function sampleDraw(secret: Uint8Array, batchRoot: Hash32, job: JobId): bigint {
  if (secret.length !== 32)
    throw new OptinferError('INVALID_CONFIG', `challenger secret: expected 32 bytes, got ${secret.length}`);
  const h = taggedHash(Tag.SAMPLE, secret, fromHex(batchRoot, 32), fromHex(job, 32));
  return new DataView(h.buffer, h.byteOffset, 8).getBigUint64(0, true);
}

export function isSampled(secret: Uint8Array, batchRoot: Hash32, job: JobId, p: number): boolean {
  return sampleDraw(secret, batchRoot, job) < sampleThreshold(p);
}

/**
 * The draw over a batch's positions, for a challenger the sequencer names none of the batch's jobs to
 * (no listing, or one that is not the committed batch's): job `index` is audited when
 * `u64(H(0x08 || s || r || u32 index)[0..8]) < floor(p * 2^64)`. The 4-byte index cannot collide with a 32-byte job id.
 */
export function isSampledPosition(secret: Uint8Array, batchRoot: Hash32, index: number, p: number): boolean {
  if (secret.length !== 32)
    throw new OptinferError('INVALID_CONFIG', `challenger secret: expected 32 bytes, got ${secret.length}`);
  const i = new Uint8Array(4);
  new DataView(i.buffer).setUint32(0, index, true);
  const h = taggedHash(Tag.SAMPLE, secret, fromHex(batchRoot, 32), i);
  return new DataView(h.buffer, h.byteOffset, 8).getBigUint64(0, true) < sampleThreshold(p);
}
