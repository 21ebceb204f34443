// Group commit: writes arriving in the same tick share one LevelDB batch, so acknowledgements stay cheap.
import type { Store, WriteOp } from '../state/store.ts';

/** Above this many queued ops a flush starts at once instead of waiting for the next tick. */
const MAX_OPS_PER_FLUSH = 20_000;

export class GroupWriter {
  private queue: { ops: WriteOp[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private queuedOps = 0;
  private flushing: Promise<void> | null = null;
  private scheduled = false;

  constructor(private readonly store: Store) {}

  /** Resolves once ops are on disk (in LevelDB's log), together with everything queued before them. */
  write(ops: WriteOp[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ops, resolve, reject });
      this.queuedOps += ops.length;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    if (this.queuedOps >= MAX_OPS_PER_FLUSH) queueMicrotask(() => this.flush());
    else setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.flushing || this.queue.length === 0) return;
    const group = this.queue;
    this.queue = [];
    this.queuedOps = 0;
    this.flushing = this.store
      .write(group.flatMap((g) => g.ops))
      .then(
        () => group.forEach((g) => g.resolve()),
        (e) => group.forEach((g) => g.reject(e)),
      )
      .finally(() => {
        this.flushing = null;
        if (this.queue.length > 0) this.schedule();
      });
  }

  /** Waits until everything queued so far is written. */
  async drain(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      if (this.flushing) await this.flushing.catch(() => {});
      else await new Promise((r) => setImmediate(r));
    }
  }
}
