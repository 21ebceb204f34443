// LevelDB persistence shared by every role: one database per node, typed tables, atomic multi-table writes.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
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

  private constructor(path: string, db: Db, durable: boolean) {
    this.path = path;
    this.db = db;
    this.durable = durable;
  }

  /** Whether writes are fsync'ed before they resolve (`--durable`). */
  readonly durable: boolean;

  /**
   * Opens (creating) the database in dir. By default writes are not fsync'ed: LevelDB appends every
   * batch to its log with write(2) before resolving, so an acknowledged write survives kill -9 of the
   * process (the kernel holds it); only a power loss could drop the last writes. With `durable`, every
   * write is fsync'ed before it resolves, and survives a power loss too.
   *
   * LevelDB's paranoid_checks would refuse a damaged log at open, but classic-level does not expose it
   * (its open takes no such option): LevelDB skips a damaged log record and notes it only in its own
   * LOG file. So that note is read here, and a database LevelDB had to repair is refused.
   */
  static async open(dir: string, opts: { durable?: boolean } = {}): Promise<Store> {
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
    const damage = recoveryDamage(dir);
    if (damage) {
      await db.close();
      throw new OptinferError(
        'STORE_CORRUPT',
        `database at ${dir} is damaged: LevelDB skipped part of its log while opening it (${damage}). ` +
          'Records acknowledged before the damage may be gone. Restore the data dir from a backup taken while ' +
          'the node was stopped; the damaged copy is left as it is.',
      );
    }
    return new Store(dir, db, opts.durable ?? false);
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
    const batch = ops.map((op) =>
      op.type === 'put'
        ? { type: 'put' as const, key: op.key, value: op.value, sublevel: op.table.sub }
        : { type: 'del' as const, key: op.key, sublevel: op.table.sub },
    ) as never;
    // No options object unless durable: passing one at all, even `{ sync: false }`, measured 38% fewer
    // jobs/s through the sequencer (node --import tsx bench/run.ts sequencer).
    if (this.durable) await this.db.batch(batch, { sync: true });
    else await this.db.batch(batch);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/**
 * What LevelDB's LOG says it dropped while recovering the log at this open (it writes a fresh LOG at each
 * open): "dropping N bytes; Corruption: ..." lines, which LevelDB ignores without paranoid_checks.
 */
function recoveryDamage(dir: string): string | undefined {
  let log: string;
  try {
    log = readFileSync(join(dir, 'LOG'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = log.split('\n').filter((l) => /dropping \d+ bytes|Corruption:|Ignoring error/.test(l));
  if (lines.length === 0) return undefined;
  // "<time> <thread> (ignoring error) <dir>/000003.log: dropping 4096 bytes; Corruption: checksum mismatch"
  const m = /([^/\\\s]+\.log): (dropping \d+ bytes; .*)$/.exec(lines[0]);
  const first = m ? `${m[1]}: ${m[2]}` : lines[0].replace(/^\S+ \S+ /, '').trim();
  return lines.length === 1 ? first : `${first}; and ${lines.length - 1} more`;
}
