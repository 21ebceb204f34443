// In-process Bus for the all-in-one node: same semantics as the NATS bus (wildcards, queue groups, durable redelivery), no network.
import {
  BusError,
  DEFAULT_DUPLICATE_WINDOW_MS,
  DEFAULT_MAX_DELIVER,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_REDELIVERY_DELAY_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type Bus,
  type BusEvent,
  type BusMessage,
  type BusOptions,
  type Consumer,
  type ConsumeOptions,
  type DurableContext,
  type DurableHandler,
  type MessageContext,
  type RequestHandler,
  type RequestOptions,
  type SendOptions,
  type StreamSpec,
  type SubscribeOptions,
  type Subscription,
} from './bus.ts';
import { cloneMessage } from './codec.ts';
import { checkName, checkSubject, patternsOverlap, streamFor, tokensMatch } from './match.ts';
import { STREAMS } from './subjects.ts';

export type MemoryBusOptions = BusOptions;

type Respond = (reply: { ok: true; body: unknown } | { ok: false; message: string }) => void;

interface Sub {
  tokens: string[];
  pattern: string;
  queue?: string;
  deliver: (msg: unknown, ctx: MessageContext, respond?: Respond) => void;
}

interface Stored {
  seq: number;
  subject: string;
  msg: unknown;
  time: number;
}

class MemStream {
  readonly msgs = new Map<number, Stored>();
  readonly durables = new Map<string, Durable>();
  readonly dedupe = new Map<string, number>();
  nextSeq = 1;
  constructor(readonly spec: StreamSpec) {}

  append(subject: string, msg: unknown, msgId?: string): void {
    const now = Date.now();
    if (msgId !== undefined) {
      for (const [id, t] of this.dedupe) {
        if (now - t <= DEFAULT_DUPLICATE_WINDOW_MS) break; // insertion order is time order
        this.dedupe.delete(id);
      }
      if (this.dedupe.has(msgId)) return;
      this.dedupe.set(msgId, now);
    }
    const stored: Stored = { seq: this.nextSeq++, subject, msg, time: now };
    this.msgs.set(stored.seq, stored);
    this.enforceLimits(now);
    for (const d of this.durables.values()) d.offer(stored);
  }

  private enforceLimits(now: number): void {
    const { maxMsgs, maxAgeMs } = this.spec;
    for (const m of this.msgs.values()) {
      const tooMany = maxMsgs !== undefined && this.msgs.size > maxMsgs;
      const tooOld = maxAgeMs !== undefined && now - m.time > maxAgeMs;
      if (!tooMany && !tooOld) break;
      this.msgs.delete(m.seq);
    }
  }
}

interface Member {
  handler: DurableHandler<unknown>;
  maxInFlight: number;
  inFlight: number;
  stopped: boolean;
  onDeadLetter?: ConsumeOptions['onDeadLetter'];
  idle: (() => void)[];
}

class Durable {
  readonly ready: number[] = [];
  readonly deliveries = new Map<number, number>();
  readonly members: Member[] = [];
  private rr = 0;
  maxDeliver = DEFAULT_MAX_DELIVER;
  redeliveryDelayMs = DEFAULT_REDELIVERY_DELAY_MS;
  readonly filter: string[];

  constructor(
    readonly stream: MemStream,
    readonly name: string,
    readonly pattern: string,
    private readonly bus: MemoryHub,
  ) {
    this.filter = pattern.split('.');
    for (const m of stream.msgs.values()) this.offer(m); // deliver policy "all"
  }

  offer(m: Stored): void {
    if (!tokensMatch(this.filter, m.subject.split('.'))) return;
    this.ready.push(m.seq);
    this.pump();
  }

  pump(): void {
    while (this.ready.length > 0) {
      const member = this.pickMember();
      if (!member) return;
      const seq = this.ready.shift() as number;
      const stored = this.stream.msgs.get(seq);
      if (!stored) continue; // aged out or already acked
      this.run(member, stored);
    }
  }

  private pickMember(): Member | undefined {
    const n = this.members.length;
    for (let i = 0; i < n; i++) {
      const m = this.members[(this.rr + i) % n];
      if (!m.stopped && m.inFlight < m.maxInFlight) {
        this.rr = (this.rr + i + 1) % n;
        return m;
      }
    }
    return undefined;
  }

  private run(member: Member, stored: Stored): void {
    const count = (this.deliveries.get(stored.seq) ?? 0) + 1;
    this.deliveries.set(stored.seq, count);
    member.inFlight++;
    const ctx: DurableContext = {
      subject: stored.subject,
      deliveryCount: count,
      redelivered: count > 1,
      sequence: stored.seq,
    };
    const msg = cloneMessage(stored.msg); // the stored copy must stay intact for redelivery
    this.bus.emit({ type: 'deliver', subject: stored.subject, durable: this.name });
    void Promise.resolve()
      .then(() => member.handler(msg, ctx))
      .then(
        () => {
          this.settle(stored.seq);
          this.bus.emit({ type: 'ack', subject: stored.subject, durable: this.name });
        },
        (error: unknown) => {
          if (count >= this.maxDeliver) {
            this.settle(stored.seq);
            this.bus.emit({ type: 'dead-letter', subject: stored.subject, durable: this.name, error });
            this.bus.log(
              'error',
              { subject: stored.subject, durable: this.name, count, err: error },
              'gave up',
            );
            try {
              member.onDeadLetter?.(cloneMessage(stored.msg), ctx, error);
            } catch (hookError) {
              this.bus.log('error', { err: hookError }, 'onDeadLetter hook threw');
            }
          } else {
            this.bus.emit({ type: 'redeliver', subject: stored.subject, durable: this.name, error });
            this.bus.log(
              'warn',
              { subject: stored.subject, durable: this.name, count, err: error },
              'redeliver',
            );
            const again = (): void => {
              this.ready.unshift(stored.seq);
              this.pump();
            };
            if (this.redeliveryDelayMs > 0) this.bus.timer(again, this.redeliveryDelayMs);
            else queueMicrotask(again);
          }
        },
      )
      .finally(() => {
        member.inFlight--;
        if (member.inFlight === 0) member.idle.splice(0).forEach((f) => f());
        this.pump();
      });
  }

  /** Acked or given up: forget it; on a work queue the message leaves the stream. */
  private settle(seq: number): void {
    this.deliveries.delete(seq);
    if (this.stream.spec.retention === 'workqueue') this.stream.msgs.delete(seq);
  }
}

/** The shared broker state: subscriptions and streams. Each connection is a Bus over it. */
export class MemoryHub {
  readonly subs = new Set<Sub>();
  readonly queueCursor = new Map<string, number>();
  readonly streams: MemStream[];
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(readonly opts: MemoryBusOptions = {}) {
    this.streams = (opts.streams ?? STREAMS).map((s) => new MemStream(s));
  }

  /** A new connection (a Bus); closing it leaves the hub and the other connections running. */
  connect(): Bus {
    return new MemoryBus(this);
  }

  emit(event: BusEvent): void {
    this.opts.onEvent?.(event);
  }

  log(level: 'warn' | 'error', obj: object, msg: string): void {
    this.opts.logger?.[level](obj, `bus: ${msg}`);
  }

  timer(f: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      f();
    }, ms);
    this.timers.add(t);
  }

  streamOf(subject: string): MemStream | undefined {
    try {
      const spec = streamFor(
        this.streams.map((s) => s.spec),
        subject,
      );
      return this.streams.find((s) => s.spec === spec);
    } catch {
      return undefined;
    }
  }

  /** Core delivery: every plain subscriber, and one member per queue group. Returns how many got it. */
  dispatch(subject: string, msg: unknown, respond?: Respond): number {
    const tokens = subject.split('.');
    const plain: Sub[] = [];
    const groups = new Map<string, Sub[]>();
    for (const s of this.subs) {
      if (!tokensMatch(s.tokens, tokens)) continue;
      if (s.queue === undefined) plain.push(s);
      else {
        const key = `${s.pattern}\u0000${s.queue}`;
        const g = groups.get(key);
        if (g) g.push(s);
        else groups.set(key, [s]);
      }
    }
    const targets = [...plain];
    for (const [key, members] of groups) {
      const i = (this.queueCursor.get(key) ?? 0) % members.length;
      this.queueCursor.set(key, i + 1);
      targets.push(members[i]);
    }
    targets.forEach((s, i) => {
      const copy = i === 0 ? msg : cloneMessage(msg);
      queueMicrotask(() => s.deliver(copy, { subject }, respond));
    });
    return targets.length;
  }
}

class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  readonly maxPayloadBytes = Number.POSITIVE_INFINITY;
  private readonly subs = new Set<Sub>();
  private readonly pendingRequests = new Set<(e: Error) => void>();
  private readonly consumers = new Set<Consumer>();
  private closed = false;

  constructor(private readonly hub: MemoryHub) {}

  private emit(event: BusEvent): void {
    this.hub.emit(event);
  }

  private log(level: 'warn' | 'error', obj: object, msg: string): void {
    this.hub.log(level, obj, msg);
  }

  private open(): void {
    if (this.closed) throw new BusError('CLOSED', 'the bus is closed');
  }

  publish(subject: string, msg: object): void {
    this.open();
    checkSubject(subject, false);
    const copy = cloneMessage(msg);
    this.emit({ type: 'publish', subject });
    this.hub.streamOf(subject)?.append(subject, cloneMessage(copy));
    this.hub.dispatch(subject, copy);
  }

  async subscribe<T = BusMessage>(
    subject: string,
    handler: (msg: T, ctx: MessageContext) => void | Promise<void>,
    opts: SubscribeOptions = {},
  ): Promise<Subscription> {
    return this.addSub(subject, opts, (msg, ctx) => {
      void Promise.resolve()
        .then(() => handler(msg as T, ctx))
        .catch((error: unknown) => {
          this.emit({ type: 'handler-error', subject: ctx.subject, error });
          this.log('error', { subject: ctx.subject, err: error }, 'subscriber threw');
        });
    });
  }

  private addSub(subject: string, opts: SubscribeOptions, deliver: Sub['deliver']): Subscription {
    this.open();
    const tokens = checkSubject(subject, true);
    if (opts.queue !== undefined) checkName('queue group', opts.queue);
    const sub: Sub = { tokens, pattern: subject, queue: opts.queue, deliver };
    this.subs.add(sub);
    this.hub.subs.add(sub);
    return {
      unsubscribe: async () => {
        this.subs.delete(sub);
        this.hub.subs.delete(sub);
      },
    };
  }

  async request<Res = BusMessage>(subject: string, msg: object, opts: RequestOptions = {}): Promise<Res> {
    this.open();
    checkSubject(subject, false);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const copy = cloneMessage(msg);
    this.emit({ type: 'request', subject });
    return new Promise<Res>((resolve, reject) => {
      let done = false;
      const finish = (f: () => void): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.pendingRequests.delete(fail);
        f();
      };
      const fail = (e: Error): void => finish(() => reject(e));
      const timer = setTimeout(
        () => fail(new BusError('TIMEOUT', `request on ${subject} got no reply within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.pendingRequests.add(fail);
      const n = this.hub.dispatch(subject, copy, (reply) =>
        finish(() => {
          if (reply.ok) resolve(cloneMessage(reply.body) as Res);
          else reject(new BusError('REMOTE', `reply handler for ${subject} failed: ${reply.message}`));
        }),
      );
      if (n === 0) fail(new BusError('NO_RESPONDERS', `no responders for request on ${subject}`));
    });
  }

  async reply<Req = BusMessage, Res extends object = BusMessage>(
    subject: string,
    handler: RequestHandler<Req, Res>,
    opts: SubscribeOptions = {},
  ): Promise<Subscription> {
    return this.addSub(subject, opts, (msg, ctx, respond) => {
      void Promise.resolve()
        .then(() => handler(msg as Req, ctx))
        .then(
          (body) => respond?.({ ok: true, body: cloneMessage(body) }),
          (error: unknown) => {
            this.emit({ type: 'handler-error', subject: ctx.subject, error });
            respond?.({ ok: false, message: error instanceof Error ? error.message : String(error) });
          },
        )
        .catch((error: unknown) => respond?.({ ok: false, message: String(error) }));
    });
  }

  async send(subject: string, msg: object, opts: SendOptions = {}): Promise<void> {
    this.open();
    checkSubject(subject, false);
    const stream = this.hub.streamOf(subject);
    if (!stream) streamFor([], subject); // throws NOT_DURABLE with the message
    const copy = cloneMessage(msg);
    this.emit({ type: 'send', subject });
    (stream as MemStream).append(subject, copy, opts.msgId);
    this.hub.dispatch(subject, cloneMessage(copy));
  }

  async consume<T = BusMessage>(
    subject: string,
    durableName: string,
    handler: DurableHandler<T>,
    opts: ConsumeOptions = {},
  ): Promise<Consumer> {
    this.open();
    checkSubject(subject, true);
    checkName('durable name', durableName);
    const spec = streamFor(
      this.hub.streams.map((s) => s.spec),
      subject,
    );
    const stream = this.hub.streams.find((s) => s.spec === spec) as MemStream;
    let durable = stream.durables.get(durableName);
    if (durable && durable.pattern !== subject) {
      throw new BusError(
        'CONSUMER_CONFLICT',
        `durable ${durableName} already consumes ${durable.pattern}, not ${subject}`,
      );
    }
    if (!durable) {
      if (spec.retention === 'workqueue') {
        for (const other of stream.durables.values()) {
          if (patternsOverlap(other.pattern, subject)) {
            throw new BusError(
              'CONSUMER_CONFLICT',
              `work-queue stream ${spec.name}: durable ${other.name} already consumes ${other.pattern}, ` +
                `which overlaps ${subject}; share that durable name instead`,
            );
          }
        }
      }
      durable = new Durable(stream, durableName, subject, this.hub);
      stream.durables.set(durableName, durable);
    }
    durable.maxDeliver = opts.maxDeliver ?? DEFAULT_MAX_DELIVER;
    durable.redeliveryDelayMs = opts.redeliveryDelayMs ?? DEFAULT_REDELIVERY_DELAY_MS;
    const member: Member = {
      handler: handler as DurableHandler<unknown>,
      maxInFlight: opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
      inFlight: 0,
      stopped: false,
      onDeadLetter: opts.onDeadLetter,
      idle: [],
    };
    durable.members.push(member);
    const d = durable;
    const consumer: Consumer = {
      durableName,
      stop: async () => {
        member.stopped = true;
        const i = d.members.indexOf(member);
        if (i >= 0) d.members.splice(i, 1);
        this.consumers.delete(consumer);
        if (member.inFlight > 0) await new Promise<void>((r) => member.idle.push(r));
      },
    };
    this.consumers.add(consumer);
    queueMicrotask(() => d.pump());
    return consumer;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.stop()));
    for (const sub of this.subs) this.hub.subs.delete(sub);
    this.subs.clear();
    for (const fail of [...this.pendingRequests]) fail(new BusError('CLOSED', 'the bus was closed'));
  }
}

/**
 * An in-process bus on a hub of its own. Messages are deep-copied (bytes included) on the way in and per
 * extra receiver. For several connections on one hub (as roles on one NATS server): new MemoryHub().connect().
 */
export function createMemoryBus(opts: MemoryBusOptions = {}): Bus {
  return new MemoryHub(opts).connect();
}
