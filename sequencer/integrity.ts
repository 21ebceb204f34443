// The start-up cross-check: the sequencer's batches, job records and open jobs must agree with each other and with the chain.
import { OptinferError } from '../state/errors.ts';
import { Batch, type JobRecord } from '../state/job.ts';
import { seqKey } from '../state/store.ts';
import { tensorSetDigest } from '../state/tensor.ts';
import { fromStored, type StoredTensorMap } from '../state/tensor-map.ts';
import type { BatchIndex, JobId } from '../state/types.ts';
import { toRecord, type BatchState, type JobState, type Ledger } from './ledger.ts';
import type { Settlement } from './ports.ts';

/** At most this many findings are named in the refusal; the count says how many there were. */
const NAMED = 8;

export const RECOVERY_HINT =
  'The node will not serve from a store that contradicts itself. To recover: stop the node and restore its ' +
  'data dir from a backup taken while it was stopped (or from a --durable node, after a power loss). ' +
  'There is no automatic re-sync from the chain yet: a fresh data dir starts with no jobs, and against a ' +
  'chain that already holds batches it is refused too. Keep the damaged copy for inspection.';

/**
 * Reads every batch, job and open entry and checks that they agree; with a settlement that can read the chain
 * back, also that every committed root is the chain's and that no chain batch is missing here. Throws
 * STORE_CORRUPT naming the damage (batch index, job id, expected vs found) and how to recover.
 */
export async function checkIntegrity(ledger: Ledger, settlement: Settlement): Promise<void> {
  const found: string[] = [];
  try {
    await checkLocal(ledger, found);
    if (settlement.batchCount && settlement.readBatch) await checkChain(ledger, settlement, found);
  } catch (e) {
    if (e instanceof OptinferError && e.code !== 'STORE_CORRUPT') throw e;
    // A record LevelDB returns damaged (undecodable JSON, a block it cannot read) is damage too.
    found.push(`a record cannot be read (${(e as Error).message})`);
  }
  if (found.length === 0) return;
  const named = found.slice(0, NAMED).join('; ');
  const more = found.length > NAMED ? `; and ${found.length - NAMED} more` : '';
  throw new OptinferError(
    'STORE_CORRUPT',
    `sequencer store is damaged (${found.length} finding${found.length === 1 ? '' : 's'}): ${named}${more}. ${RECOVERY_HINT}`,
  );
}

async function checkLocal(ledger: Ledger, found: string[]): Promise<void> {
  const batches = (await ledger.batches.entries()).map(([key, b]) => ({ key, b }));
  const nextBatch = (await ledger.meta.get('nextBatch')) ?? 0;
  for (const [i, { key, b }] of batches.entries()) {
    if (key !== seqKey(i) || b.index !== i) {
      found.push(`batch ${i}: missing (found batch ${b.index} stored under ${Number(key)} in its place)`);
      return; // every later check would only repeat this one
    }
  }
  if (batches.length !== nextBatch) {
    found.push(`batch count: the counter says ${nextBatch} batches, ${batches.length} are stored`);
  }

  // Where each job sits in a batch (positions that lost a dispute no longer hold it).
  const inBatch = new Map<JobId, { index: number; position: number }>();
  for (const { b } of batches) {
    if (b.jobIds.length !== b.jobCount) {
      found.push(`batch ${b.index}: expected ${b.jobCount} job ids, found ${b.jobIds.length}`);
    }
    const invalidated = new Set(b.invalidated ?? []);
    const states = await ledger.jobs.getMany(b.jobIds);
    b.jobIds.forEach((id, position) => {
      if (invalidated.has(position)) return;
      const other = inBatch.get(id);
      if (other) {
        found.push(
          `job ${id}: in two batches (batch ${other.index} position ${other.position}, and batch ${b.index} position ${position})`,
        );
      } else inBatch.set(id, { index: b.index, position });
      const j = states[position];
      if (!j) found.push(`batch ${b.index}: job ${id} at position ${position} has no record`);
      else if (j.status !== 'batched' || j.batchIndex !== b.index || j.position !== position) {
        found.push(`batch ${b.index}: job ${id} at position ${position}: its record says ${where(j)}`);
      }
    });
    // A position that lost a dispute is rebuilt from the lying result its job remembers (stores from
    // before that was kept cannot be rebuilt there, and are skipped).
    const records = states.map((j, position) => {
      if (!j) return null;
      if (!invalidated.has(position)) return j.outputDigest && j.executor && j.signature ? toRecord(j) : null;
      const lie = j.invalidations?.find((v) => v.batchIndex === b.index && v.position === position);
      return lie?.outputDigest && lie.signature
        ? toRecord({ ...j, executor: lie.executor, outputDigest: lie.outputDigest, signature: lie.signature })
        : null;
    });
    if (records.every((r) => r !== null)) {
      const root = new Batch(b.index as BatchIndex, records as JobRecord[]).root;
      if (root !== b.root) {
        found.push(`batch ${b.index}: its job records rebuild root ${root}, expected ${b.root}`);
      }
    }
  }

  const open = new Map<string, JobId>(await ledger.open.entries());
  for (const [key, id] of open) {
    const j = await ledger.jobs.get(id);
    if (!j) found.push(`job ${id}: acknowledged (open, seq ${Number(key)}) but its record is missing`);
    else if (seqKey(j.seq) !== key)
      found.push(`job ${id}: open under seq ${Number(key)}, its record says ${j.seq}`);
    else if (j.status === 'batched' || j.status === 'failed' || j.status === 'invalid') {
      found.push(`job ${id}: open (waiting for a batch) but its record says ${j.status}`);
    }
  }
  // Every job record is somewhere: a batched job in its batch, an unbatched one in the open table. Its inputs
  // (what a dispute is judged on) and its outputs (what is served) are there and hash to the digests it commits.
  for (const [key, j] of await ledger.jobs.entries()) {
    const id = key as JobId;
    checkTensors(id, 'inputs', await ledger.inputs.get(id), j.inputDigest, found);
    if (j.outputDigest) checkTensors(id, 'outputs', await ledger.outputs.get(id), j.outputDigest, found);
    if (j.status === 'batched') {
      const at = inBatch.get(id);
      if (!at) {
        found.push(`job ${id}: its record says ${where(j)}, but no batch holds it there`);
      }
    } else if (j.status !== 'failed' && j.status !== 'invalid' && open.get(seqKey(j.seq)) !== id) {
      found.push(
        `job ${id}: acknowledged and ${j.status}, but missing from the open jobs (it would never run)`,
      );
    }
  }
}

async function checkChain(ledger: Ledger, settlement: Settlement, found: string[]): Promise<void> {
  const local = new Map<number, BatchState>((await ledger.batches.entries()).map(([, b]) => [b.index, b]));
  const onChain = await settlement.batchCount!();
  for (let i = 0; i < onChain; i++) {
    const c = await settlement.readBatch!(i);
    const b = local.get(i);
    if (!c) continue;
    if (!b) {
      found.push(
        `batch ${i}: committed on ${settlement.kind} with root ${c.root} (${c.jobCount} jobs), missing here`,
      );
    } else if (c.root !== b.root || c.jobCount !== b.jobCount) {
      found.push(
        `batch ${i}: ${settlement.kind} holds root ${c.root} (${c.jobCount} jobs), this node ${b.root} (${b.jobCount} jobs)`,
      );
    }
  }
  for (const b of local.values()) {
    if (b.index >= onChain && b.status !== 'pending') {
      found.push(
        `batch ${b.index}: this node has it ${b.status}, ${settlement.kind} holds only ${onChain} batches`,
      );
    }
  }
}

function checkTensors(
  id: JobId,
  what: 'inputs' | 'outputs',
  stored: StoredTensorMap | undefined,
  digest: string,
  found: string[],
): void {
  if (!stored) {
    found.push(`job ${id}: its ${what} are missing`);
    return;
  }
  let got: string;
  try {
    got = tensorSetDigest(fromStored(stored));
  } catch (e) {
    found.push(`job ${id}: its ${what} cannot be read (${(e as Error).message})`);
    return;
  }
  if (got !== digest) found.push(`job ${id}: its ${what} hash to ${got}, its record commits ${digest}`);
}

function where(j: JobState): string {
  return j.status === 'batched' ? `batched in batch ${j.batchIndex} position ${j.position}` : j.status;
}
