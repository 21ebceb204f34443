// The executor's result store (LevelDB): what it answered for each job, and how a dispute finds that job again.
import { toHex } from '../state/hash.ts';
import type { ClaimEntry, ClaimStore } from './fees.ts';
import { Store, type Table } from '../state/store.ts';
import type { StoredTensorMap } from '../state/tensor-map.ts';
import type { Hash32, JobId, ModelId } from '../state/types.ts';

export interface StoredResult {
  jobId: JobId;
  modelId: ModelId;
  inputs: StoredTensorMap;
  outputDigest: Hash32;
  /** What was answered (after the policy), so a redelivered assignment is answered without running again. */
  outputs?: StoredTensorMap;
  at: number;
}

/** The digests a dispute names its job by (raw bytes on chain, hex here). */
export interface JobDigests {
  modelId: Uint8Array | string;
  inputDigest: Uint8Array | string;
  outputDigest: Uint8Array | string;
}

const hex = (v: Uint8Array | string) => (typeof v === 'string' ? v : toHex(v));

/** The index key of a job by its digests: modelId:inputDigest:outputDigest in hex. */
export function digestKey(d: JobDigests): string {
  return `${hex(d.modelId)}:${hex(d.inputDigest)}:${hex(d.outputDigest)}`;
}

export class ResultStore {
  private readonly results: Table<StoredResult>;
  /** modelId:inputDigest:outputDigest → jobId: how a dispute (which names digests, not ids) finds its job. */
  private readonly byDigest: Table<JobId>;
  /** jobId → the fee claimer's entry for it (executor/fees.ts): due, claimed, or unclaimable and why. */
  private readonly claims: Table<ClaimEntry>;

  private constructor(private readonly store: Store) {
    this.results = store.table('results');
    this.byDigest = store.table('byDigest');
    this.claims = store.table('claims');
  }

  static async open(path: string): Promise<ResultStore> {
    return new ResultStore(await Store.open(path));
  }

  get(jobId: JobId): Promise<StoredResult | undefined> {
    return this.results.get(jobId);
  }

  /** Stores a result and its digest index in one atomic write. */
  async put(r: StoredResult, inputDigest: Hash32): Promise<void> {
    await this.store.write([
      this.byDigest.put(
        digestKey({ modelId: r.modelId, inputDigest, outputDigest: r.outputDigest }),
        r.jobId,
      ),
      this.results.put(r.jobId, r),
    ]);
  }

  /** Ids of every job this executor answered (the fee claimer's work list). */
  async jobIds(): Promise<JobId[]> {
    return (await this.results.entries()).map(([k]) => k as JobId);
  }

  /** The stored result a dispute is about, by the digests it names. */
  async byDigests(d: JobDigests): Promise<StoredResult | undefined> {
    const jobId = await this.byDigest.get(digestKey(d));
    return jobId && this.results.get(jobId);
  }

  /** Where the fee claimer keeps its entries, so a restart neither claims twice nor forgets what is due. */
  claimStore(): ClaimStore {
    return {
      load: () => this.claims.entries(),
      save: (list) => this.store.write(list.map(([id, e]) => this.claims.put(id, e))),
    };
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
