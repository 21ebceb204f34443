// Pick: which jobs of a committed batch this challenger audits (a draw the executor cannot predict).
import { isSampled } from '../state/sample.ts';
import type { Hash32, JobId } from '../state/types.ts';

export function pickSample(
  secret: Uint8Array,
  batchRoot: Hash32,
  jobIds: readonly JobId[],
  rate: number,
): JobId[] {
  return jobIds.filter((id) => isSampled(secret, batchRoot, id, rate));
}
