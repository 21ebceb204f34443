// A dispute's bisection replayed from its state: the layer ranges then the chunk nodes it narrowed through, move by move (pure, browser-safe).
import type { DisputeView } from './types.ts';

/** One step of the narrowing: a layer range [lo, hi] still disputed, or the chunk node (level above the leaves, index) followed. */
export type NarrowingStep =
  | { kind: 'layers'; lo: number; hi: number }
  | { kind: 'chunk'; level: number; index: number; depth: number }
  | { kind: 'header' };

/**
 * The path from the whole trace to where the game is now. Each layer round halves [agreed, disagree]
 * (mid = lo + (hi - lo) / 2: equal prefixes at mid move lo to mid + 1, different ones hi to mid), and each chunk
 * round follows the left or right child of the disputed chunk node: both are fixed by the current state alone,
 * so the path is replayed here rather than read from transaction logs.
 */
export function narrowing(
  d: Pick<
    DisputeView,
    'layerCount' | 'agreed' | 'disagree' | 'chunkDepth' | 'chunkLevel' | 'chunkIndex' | 'headerMismatch'
  >,
): NarrowingStep[] {
  const steps: NarrowingStep[] = [];
  if (d.layerCount <= 0 || d.disagree === null) return steps;
  let lo = 0;
  let hi = d.layerCount - 1;
  const a = d.agreed ?? 0;
  const b = d.disagree;
  steps.push({ kind: 'layers', lo, hi });
  // Guarded: a state that no bisection reaches ends the replay rather than looping.
  for (let i = 0; i < 64 && (lo !== a || hi !== b) && lo < hi; i++) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (a > mid) lo = mid + 1;
    else hi = mid;
    steps.push({ kind: 'layers', lo, hi });
  }
  if (d.headerMismatch) {
    steps.push({ kind: 'header' });
    return steps;
  }
  if (d.chunkDepth === null || d.chunkLevel === null || d.chunkIndex === null) return steps;
  const depth = d.chunkDepth;
  const taken = depth - d.chunkLevel;
  for (let k = 0; k <= taken; k++) {
    steps.push({
      kind: 'chunk',
      level: depth - k,
      index: Math.floor(d.chunkIndex / 2 ** (taken - k)),
      depth,
    });
  }
  return steps;
}
