// Pure bisection math: where two committed traces (or two tensors) first disagree.
import type { Hash32 } from './types.ts';
import { chunks } from './tensor.ts';
import { leafHash } from './merkle.ts';
import { bytesEqual } from './hash.ts';

/**
 * First index where a and b differ, given that agreement at i implies agreement at every j < i
 * (true of prefix chains). Uses O(log n) comparisons, as the on-chain game does. Null when equal.
 */
export function firstDivergence(a: readonly Hash32[], b: readonly Hash32[]): number | null {
  const n = Math.min(a.length, b.length);
  if (n === 0) return a.length === b.length ? null : 0;
  // Invariant: every index < lo agrees; index hi disagrees (or hi === n: unknown beyond the shorter one).
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] === b[mid]) lo = mid + 1;
    else hi = mid;
  }
  if (lo < n) return lo;
  return a.length === b.length ? null : n;
}

/** Bisection rounds to narrow n items to one. */
export function bisectionRounds(n: number): number {
  let r = 0;
  while (2 ** r < n) r++;
  return r;
}

/** First chunk whose bytes differ between two canonical tensors of equal length; null when equal. */
export function firstDivergentChunk(a: Uint8Array, b: Uint8Array): number | null {
  const ca = chunks(a);
  const cb = chunks(b);
  const n = Math.max(ca.length, cb.length);
  for (let i = 0; i < n; i++) {
    if (i >= ca.length || i >= cb.length) return i;
    if (!bytesEqual(leafHash(ca[i]), leafHash(cb[i]))) return i;
  }
  return null;
}
