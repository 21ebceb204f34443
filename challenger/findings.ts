// Record: findings persisted in the challenger's LevelDB and announced on the bus for the dispute game.
import type { Bus } from '../bus/bus.ts';
import * as messages from '../bus/messages.ts';
import type { Finding } from '../bus/messages.ts';
import type { Store, Table, WriteOp } from '../state/store.ts';
import type { JobId } from '../state/types.ts';

export type { Finding } from '../bus/messages.ts';

export class FindingLog {
  private readonly table: Table<Finding>;
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly challengerId: string,
  ) {
    this.table = store.table('findings');
  }

  /** Stores the finding (with `also`, in the same atomic write) and announces it. */
  async record(f: Finding, also: WriteOp[] = []): Promise<void> {
    await this.store.write([this.table.put(f.jobId, f), ...also]);
    await messages.send(
      this.bus,
      messages.FINDING,
      this.challengerId,
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
