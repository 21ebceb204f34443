// Batched durable work: items sent to one subject in the same tick travel as one durable message; each item is still handled, acknowledged, deduplicated and redelivered on its own.
import { createHash } from 'node:crypto';
import {
  BusError,
  DEFAULT_MAX_DELIVER,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_REDELIVERY_DELAY_MS,
  type Bus,
  type BusMessage,
  type ConsumeOptions,
  type Consumer,
  type DurableContext,
  type SendOptions,
} from './bus.ts';

/**
 * One durable message holding several items. `ids[i]` is item i's deduplication id (its SendOptions.msgId, or null);
 * `tries[i]` counts item i's failed deliveries before this message (absent when all are 0).
 */
export interface BatchWire {
  items: BusMessage[];
  ids: (string | null)[];
  tries?: number[];
}

/** Where an item sits: its batch message's context, with the item's own delivery count. */
export interface ItemContext extends DurableContext {
  /** Position of the item in its batch message. */
  readonly index: number;
  readonly itemId?: string;
}

export type ItemHandler<T> = (item: T, ctx: ItemContext) => void | Promise<void>;

/** Items per batch message at most; a batch larger than the bus's max payload is split in halves until it fits. */
export const DEFAULT_BATCH_MAX_ITEMS = 256;
/** Items acked in this process remembered per consumer (by stream sequence and index) to skip them on redelivery. */
const ACKED_MEMORY = 65_536;

interface Pending {
  item: BusMessage;
  id: string | null;
  tries: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Coalesces sends: every item sent to a subject before the event loop turns (or until maxItems) goes out as one
 * durable message. Each send resolves once the message holding its item is stored, or rejects with its error.
 */
export class BatchSender {
  private readonly pending = new Map<string, Pending[]>();
  private scheduled = false;

  constructor(
    private readonly bus: Bus,
    private readonly maxItems = DEFAULT_BATCH_MAX_ITEMS,
  ) {}

  send(subject: string, item: BusMessage, opts: SendOptions & { tries?: number } = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let q = this.pending.get(subject);
      if (!q) this.pending.set(subject, (q = []));
      q.push({ item, id: opts.msgId ?? null, tries: opts.tries ?? 0, resolve, reject });
      if (q.length >= this.maxItems) this.flush(subject);
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          for (const s of [...this.pending.keys()]) this.flush(s);
        });
      }
    });
  }

  private flush(subject: string): void {
    const group = this.pending.get(subject);
    this.pending.delete(subject);
    if (group && group.length > 0) void this.sendGroup(subject, group);
  }

  private async sendGroup(subject: string, group: Pending[]): Promise<void> {
    const ids = group.map((g) => g.id);
    const msg: BatchWire = { items: group.map((g) => g.item), ids };
    if (group.some((g) => g.tries > 0)) msg.tries = group.map((g) => g.tries);
    // The same items (same ids, same tries) sent twice make the same batch id: JetStream drops the copy.
    const msgId = ids.every((id) => id !== null)
      ? `batch:${createHash('sha256')
          .update(group.map((g) => `${g.id}#${g.tries}`).join('\n'))
          .digest('base64url')}`
      : undefined;
    try {
      await this.bus.send(subject, msg, { msgId });
    } catch (e) {
      if (e instanceof BusError && e.code === 'PAYLOAD_TOO_LARGE' && group.length > 1) {
        const half = Math.ceil(group.length / 2);
        await Promise.all([
          this.sendGroup(subject, group.slice(0, half)),
          this.sendGroup(subject, group.slice(half)),
        ]);
        return;
      }
      for (const g of group) g.reject(e);
      return;
    }
    for (const g of group) g.resolve();
  }
}

const senders = new WeakMap<Bus, BatchSender>();

/** The one BatchSender of a bus (so items from every caller in a tick share messages). */
export function batchSender(bus: Bus): BatchSender {
  let s = senders.get(bus);
  if (!s) senders.set(bus, (s = new BatchSender(bus)));
  return s;
}

/** Sends one item, batched with the others sent to the same subject in this tick; resolves once stored. */
export function sendItem(bus: Bus, subject: string, item: BusMessage, opts?: SendOptions): Promise<void> {
  return batchSender(bus).send(subject, item, opts);
}

/** A counting semaphore: items handled at once across every batch of a consumer. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async take(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }
  give(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

function checkBatch(msg: unknown, subject: string): BatchWire {
  const m = msg as Partial<BatchWire> | null;
  const bad = (why: string) => new BusError('INVALID_MESSAGE', `batch on ${subject}: ${why}`);
  if (!m || typeof m !== 'object' || !Array.isArray(m.items))
    throw bad('expected {items: [...], ids: [...]}');
  if (!Array.isArray(m.ids) || m.ids.length !== m.items.length)
    throw bad(`ids must list one id (or null) per item (${m.items.length} items)`);
  if (m.tries !== undefined && (!Array.isArray(m.tries) || m.tries.length !== m.items.length))
    throw bad(`tries must list one count per item (${m.items.length} items)`);
  return m as BatchWire;
}

/**
 * Durable consumer of batch messages on subject. The handler runs once per item (at most maxInFlight items at once,
 * across batches). Per item: a resolve acks it; a throw sends that item alone back to the subject after
 * redeliveryDelayMs (counting its deliveries), and after maxDeliver deliveries it is given up (onDeadLetter). The
 * batch message is acked once every item is acked or re-sent. A consumer that dies mid-batch has the whole batch
 * redelivered (after ackWaitMs): items it acked are skipped when the same process sees the batch again, and the
 * handler must be idempotent per item across processes (a redelivered item has ctx.redelivered set).
 * `decode` turns a wire item into T; an item it refuses is given up at once (redelivery cannot fix its bytes).
 */
export function consumeBatches<T>(
  bus: Bus,
  subject: string,
  durableName: string,
  handler: ItemHandler<T>,
  opts: ConsumeOptions & { decode?: (wire: unknown, what: string) => T } = {},
): Promise<Consumer> {
  const inFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const maxDeliver = opts.maxDeliver ?? DEFAULT_MAX_DELIVER;
  const slots = new Slots(inFlight);
  const acked = new Set<string>();
  const remember = (key: string) => {
    acked.add(key);
    if (acked.size > ACKED_MEMORY) acked.delete(acked.values().next().value as string);
  };
  const deadLetter = (item: unknown, ctx: DurableContext, error: unknown) => {
    try {
      opts.onDeadLetter?.(item, ctx, error);
    } catch {
      // the hook's own failure must not stop the batch
    }
  };
  return bus.consume<unknown>(
    subject,
    durableName,
    async (raw, ctx) => {
      let batch: BatchWire;
      try {
        batch = checkBatch(raw, ctx.subject);
      } catch (e) {
        deadLetter(raw, ctx, e); // a malformed batch is given up: redelivering the same bytes cannot help
        return;
      }
      const retry: { item: BusMessage; id: string | null; tries: number }[] = [];
      await Promise.all(
        batch.items.map(async (wire, index) => {
          const key = `${ctx.sequence}:${index}`;
          if (acked.has(key)) return;
          const id = batch.ids[index] ?? undefined;
          const tries = batch.tries?.[index] ?? 0;
          const ictx: ItemContext = {
            subject: ctx.subject,
            sequence: ctx.sequence,
            deliveryCount: ctx.deliveryCount + tries,
            redelivered: ctx.redelivered || tries > 0,
            index,
            itemId: id,
          };
          let item: T;
          try {
            item = opts.decode
              ? opts.decode(wire, `item ${index} of the batch on ${ctx.subject}`)
              : (wire as T);
          } catch (e) {
            deadLetter(wire, ictx, e);
            remember(key);
            return;
          }
          await slots.take();
          try {
            await handler(item, ictx);
            remember(key);
          } catch (e) {
            if (ictx.deliveryCount >= maxDeliver) {
              deadLetter(item, ictx, e);
              remember(key);
            } else retry.push({ item: wire, id: id ?? null, tries: tries + 1 });
          } finally {
            slots.give();
          }
        }),
      );
      if (retry.length === 0) return;
      await new Promise((r) => setTimeout(r, opts.redeliveryDelayMs ?? DEFAULT_REDELIVERY_DELAY_MS));
      // Re-sent before this batch is acked: if the re-send fails the whole batch comes back (acked items skipped).
      const sender = batchSender(bus);
      await Promise.all(
        retry.map((r) => sender.send(ctx.subject, r.item, { msgId: r.id ?? undefined, tries: r.tries })),
      );
      for (let i = 0; i < batch.items.length; i++) remember(`${ctx.sequence}:${i}`);
    },
    {
      ackWaitMs: opts.ackWaitMs,
      // Batch messages fetched at once: enough to keep every item slot busy with one-item batches.
      maxInFlight: inFlight,
      // The batch itself is redelivered (to any consumer) only when its process dies or a re-send fails.
      maxDeliver: Math.max(maxDeliver, DEFAULT_MAX_DELIVER),
      redeliveryDelayMs: opts.redeliveryDelayMs,
      onDeadLetter: opts.onDeadLetter,
    },
  );
}
