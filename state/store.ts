// LevelDB persistence shared by every role: one database per node, typed tables, atomic multi-table writes.
import { mkdirSync } from 'node:fs';
import { Level } from 'level';
import { OptinferError } from './errors.ts';

type Db = Level<string, unknown>;
type Sub<V> = ReturnType<Db['sublevel']> & { __v?: V };

/** One write in an atomic group; `table` names the sublevel. */
export type WriteOp =
  | { type: 'put'; table: Table<unknown>; key: string; value: unknown }
  | { type: 'del'; table: Table<unknown>; key: string };

/** A typed sublevel: keys are strings (fixed-width where order matters), values JSON. */
export class Table<V> {
  readonly name: string;
  readonly sub: Sub<V>;

  constructor(name: string, sub: Sub<V>) {
    this.name = name;
    this.sub = sub;
  }

  async get(key: string): Promise<V | undefined> {
    return (await this.sub.get(key)) as V | undefined;
  }

  async getMany(keys: string[]): Promise<(V | undefined)[]> {
    return (await this.sub.getMany(keys)) as (V | undefined)[];
  }

  put(key: string, value: V): WriteOp {
    return { type: 'put', table: this as Table<unknown>, key, value };
  }

  del(key: string): WriteOp {
    return { type: 'del', table: this as Table<unknown>, key };
  }

  /** Entries in key order, optionally within [gte, lt) and limited. */
  async entries(
    opts: { gte?: string; lt?: string; limit?: number; reverse?: boolean } = {},
  ): Promise<[string, V][]> {
    const out: [string, V][] = [];
    for await (const [k, v] of this.sub.iterator({ ...opts, limit: opts.limit ?? -1 })) out.push([k, v as V]);
    return out;
  }

  async count(): Promise<number> {
    let n = 0;
    for await (const _ of this.sub.keys()) n++;
    return n;
  }
}

/** Fixed-width decimal keys sort numerically. */
export function seqKey(n: number | bigint): string {
  return n.toString().padStart(16, '0');
}

export class Store {
  readonly path: string;
  private readonly db: Db;
  private readonly tables = new Map<string, Table<unknown>>();

  private constructor(path: string, db: Db) {
    this.path = path;
    this.db = db;
  }

  /**
   * Opens (creating) the database in dir. Writes are not fsync'ed: LevelDB appends every batch to
   * its log with write(2) before resolving, so an acknowledged write survives kill -9 of the
   * process (the kernel holds it); only a power loss could drop the last writes.
   */
  static async open(dir: string): Promise<Store> {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw new OptinferError(
        'INVALID_CONFIG',
        `data dir ${dir}: cannot create it (${(cause as Error).message})`,
      );
    }
    const db = new Level<string, unknown>(dir, { valueEncoding: 'json' });
    try {
      await db.open();
    } catch (cause) {
      const why = String((cause as { cause?: Error }).cause?.message ?? (cause as Error).message);
      const hint = /lock/i.test(why) ? ' — is another optinfer process using this data dir?' : '';
      throw new OptinferError(
        'STORE_UNAVAILABLE',
        `cannot open database at ${dir}: ${why}${hint}`,
        undefined,
        { cause },
      );
    }
    return new Store(dir, db);
  }

  table<V>(name: string): Table<V> {
    let t = this.tables.get(name);
    if (!t) {
      t = new Table<unknown>(name, this.db.sublevel(name, { valueEncoding: 'json' }) as Sub<unknown>);
      this.tables.set(name, t);
    }
    return t as Table<V>;
  }

  /** Applies every op or none. */
  async write(ops: WriteOp[]): Promise<void> {
    if (ops.length === 0) return;
    await this.db.batch(
      ops.map((op) =>
        op.type === 'put'
          ? { type: 'put' as const, key: op.key, value: op.value, sublevel: op.table.sub }
          : { type: 'del' as const, key: op.key, sublevel: op.table.sub },
      ) as never,
    );
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
