// Record: findings persisted in the challenger's LevelDB and announced on the bus for the dispute game.
import type { Bus } from '../bus/bus.ts';
import * as subjects from '../bus/subjects.ts';
import type { Store, Table } from '../state/store.ts';
import type { ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';
import type { Location } from './locate.ts';

export interface Finding {
  jobId: JobId;
  batchIndex: number;
  batchRoot: Hash32;
  position: number;
  modelId: ModelId;
  executor: ExecutorId;
  claimedOutputDigest: Hash32;
  ourOutputDigest: Hash32;
  /** Whether the on-chain referee can settle a dispute on this model. */
  provable: boolean;
  location: Location;
  foundAt: number;
}

export class FindingLog {
  private readonly table: Table<Finding>;
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly challengerId: string,
  ) {
    this.table = store.table('findings');
  }

  async record(f: Finding): Promise<void> {
    await this.store.write([this.table.put(f.jobId, f)]);
    await this.bus.send(
      subjects.challengerFinding(this.challengerId),
      { ...f },
      { msgId: `finding:${this.challengerId}:${f.jobId}` },
    );
  }

  async get(jobId: JobId): Promise<Finding | undefined> {
    return this.table.get(jobId);
  }

  async all(): Promise<Finding[]> {
    return (await this.table.entries()).map(([, f]) => f);
  }
}
