// Compare: an executor's committed output digest against the challenger's own.
import type { Hash32 } from '../state/types.ts';

export type Verdict = { agree: true } | { agree: false; claimed: Hash32; ours: Hash32 };

export function compareOutputs(claimed: Hash32, ours: Hash32): Verdict {
  return claimed === ours ? { agree: true } : { agree: false, claimed, ours };
}
