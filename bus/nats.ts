// NATS Bus for roles in separate processes: core pub/sub and request/reply, JetStream for durable work.
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  DiscardPolicy,
  nanos,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerMessages,
  type Consumer as JsConsumer,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type NatsConnection,
  type StreamConfig,
} from 'nats';
import {
  BusError,
  DEFAULT_ACK_WAIT_MS,
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
  type MessageHandler,
  type RequestHandler,
  type RequestOptions,
  type SendOptions,
  type StreamSpec,
  type SubscribeOptions,
  type Subscription,
} from './bus.ts';
import { decodeMessage, encodeMessage } from './codec.ts';
import { checkName, checkSubject, streamFor } from './match.ts';
import { STREAMS } from './subjects.ts';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_RECONNECT_WAIT_MS = 500;
/** How long one pull request waits on the server before it is renewed (nats.js minimum 1000 ms). */
export const DEFAULT_PULL_EXPIRES_MS = 5_000;
/** How long send() waits for JetStream's acknowledgement that the message is stored. */
export const DEFAULT_SEND_TIMEOUT_MS = 10_000;
/**
 * How long send() keeps retrying a stream that exists but answers 503 (no leader, as while a JetStream cluster
 * elects one after a server died) or does not confirm in time. The message id makes retries idempotent.
 */
export const DEFAULT_SEND_RETRY_MS = 30_000;
/** Room left in max_payload for the protocol line and headers (subject, Nats-Msg-Id). */
const HEADER_ALLOWANCE_BYTES = 1_024;

export interface NatsBusOptions extends BusOptions {
  url?: string;
  /** Connection name shown by the server's monitoring (e.g. "optinfer-executor-<id>"). */
  name?: string;
  connectTimeoutMs?: number;
  reconnectWaitMs?: number;
  /** -1 (default): keep reconnecting forever. */
  maxReconnectAttempts?: number;
  /** 'file' (default) survives a server restart; 'memory' is for throwaway set-ups. */
  storage?: 'file' | 'memory';
  pullExpiresMs?: number;
  sendTimeoutMs?: number;
  /** See DEFAULT_SEND_RETRY_MS; 0 fails at the first 503 or timeout. */
  sendRetryMs?: number;
  /**
   * Copies of each durable stream across a JetStream cluster (1..5; at most the cluster's size). Unset: new streams
   * get 1 and existing ones are left as they are; set: existing streams are scaled to it.
   */
  replicas?: number;
}

/** JetStream keeps at most 5 copies of a stream. */
export const MAX_STREAM_REPLICAS = 5;

type Envelope = { ok: true; body: unknown } | { ok: false; error: { message: string } };

function errCode(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}
function apiErrCode(e: unknown): number | undefined {
  return (e as { api_error?: { err_code?: number } } | null)?.api_error?.err_code;
}
function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Connects, checks JetStream and creates the durable streams (idempotently). */
export async function connectNatsBus(opts: NatsBusOptions = {}): Promise<Bus> {
  const url = opts.url ?? DEFAULT_NATS_URL;
  const r = opts.replicas;
  if (r !== undefined && (!Number.isInteger(r) || r < 1 || r > MAX_STREAM_REPLICAS)) {
    throw new BusError('CONNECT', `stream replicas: expected 1..${MAX_STREAM_REPLICAS}, got ${r}`);
  }
  let nc: NatsConnection;
  try {
    nc = await connect({
      // A comma-separated list names several servers of one cluster: any of them gets the client in.
      servers: url.split(',').map((u) => u.trim()),
      name: opts.name ?? 'optinfer',
      timeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      reconnectTimeWait: opts.reconnectWaitMs ?? DEFAULT_RECONNECT_WAIT_MS,
      maxReconnectAttempts: opts.maxReconnectAttempts ?? -1,
      waitOnFirstConnect: false,
    });
  } catch (e) {
    throw new BusError(
      'CONNECT',
      `cannot connect to NATS at ${url}: ${messageOf(e)} — start nats-server -js or pass --nats URL`,
      { cause: e },
    );
  }
  let jsm: JetStreamManager;
  try {
    jsm = await nc.jetstreamManager();
  } catch (e) {
    await nc.close().catch(() => undefined);
    throw new BusError(
      'CONNECT',
      `NATS at ${url} has no JetStream (${messageOf(e)}) — start the server with nats-server -js`,
      { cause: e },
    );
  }
  const bus = new NatsBus(nc, jsm, url, opts);
  try {
    await bus.ensureStreams();
  } catch (e) {
    await nc.close().catch(() => undefined);
    throw e;
  }
  bus.watchStatus();
  bus.log('info', { url, maxPayloadBytes: nc.info?.max_payload }, 'connected to NATS');
  return bus;
}

class NatsBus implements Bus {
  readonly kind = 'nats' as const;
  private readonly js: JetStreamClient;
  private readonly streams: readonly StreamSpec[];
  private readonly subs = new Set<{ unsubscribe(): void }>();
  private readonly consumers = new Set<NatsConsumer>();
  private closed = false;
  /** Set while the connection is down: JetStream API requests made then are lost, so they wait. */
  private down: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    readonly url: string,
    readonly opts: NatsBusOptions,
  ) {
    this.js = nc.jetstream();
    this.streams = opts.streams ?? STREAMS;
  }

  emit(event: BusEvent): void {
    this.opts.onEvent?.(event);
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', obj: object, msg: string): void {
    this.opts.logger?.[level](obj, `bus: ${msg}`);
  }

  /** Creates each stream, or checks an existing one and adds missing subjects. Safe to run concurrently. */
  async ensureStreams(): Promise<void> {
    for (const spec of this.streams) {
      checkName('stream name', spec.name);
      const config: Partial<StreamConfig> & { name: string } = {
        name: spec.name,
        subjects: [...spec.subjects],
        retention: spec.retention === 'workqueue' ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
        storage: this.opts.storage === 'memory' ? StorageType.Memory : StorageType.File,
        discard: DiscardPolicy.Old,
        duplicate_window: nanos(DEFAULT_DUPLICATE_WINDOW_MS),
        max_age: spec.maxAgeMs === undefined ? 0 : nanos(spec.maxAgeMs),
        max_msgs: spec.maxMsgs ?? -1,
        max_bytes: spec.maxBytes ?? -1,
        num_replicas: this.opts.replicas ?? 1,
      };
      for (let attempt = 0; ; attempt++) {
        try {
          const info = await this.withRetry(() =>
            this.jsm.streams.info(spec.name).catch((e: unknown) => {
              if (apiErrCode(e) === 10059 || errCode(e) === '404') return undefined; // stream not found
              throw e;
            }),
          );
          if (!info) {
            await this.jsm.streams.add(config).catch((e: unknown) => this.replicaError(spec.name, e));
            this.log('info', { stream: spec.name, replicas: config.num_replicas }, 'created stream');
          } else {
            if (info.config.retention !== config.retention) {
              throw new BusError(
                'CONSUMER_CONFLICT',
                `stream ${spec.name} exists with retention ${info.config.retention}, expected ${config.retention}; ` +
                  `delete it (nats stream rm ${spec.name}) to recreate`,
              );
            }
            const missing = spec.subjects.filter((s) => !info.config.subjects.includes(s));
            const rescale =
              this.opts.replicas !== undefined && info.config.num_replicas !== this.opts.replicas;
            if (missing.length > 0 || rescale) {
              await this.jsm.streams
                .update(spec.name, {
                  subjects: [...info.config.subjects, ...missing],
                  ...(rescale ? { num_replicas: this.opts.replicas } : {}),
                })
                .catch((e: unknown) => this.replicaError(spec.name, e));
              if (rescale) {
                const was = info.config.num_replicas;
                this.log('info', { stream: spec.name, was, replicas: this.opts.replicas }, 'rescaled stream');
              }
            }
          }
          break;
        } catch (e) {
          if (e instanceof BusError || attempt >= 2) {
            throw e instanceof BusError
              ? e
              : new BusError('CONNECT', `cannot set up stream ${spec.name}: ${messageOf(e)}`, { cause: e });
          }
          await sleep(50); // lost a creation race with another process: look again
        }
      }
    }
  }

  /** The server's refusal of a replica count says little; say what to change. Other errors pass through. */
  private replicaError(stream: string, e: unknown): never {
    const replicas = this.opts.replicas ?? 1;
    const why = messageOf(e);
    if (replicas > 1 && /replicas|insufficient resources|non-clustered|no suitable peers/i.test(why)) {
      throw new BusError(
        'CONNECT',
        `stream ${stream}: cannot keep ${replicas} replicas on the NATS servers at ${this.url} (${why}); ` +
          `replicas must be at most the number of JetStream servers in the cluster — lower --nats-replicas ` +
          `or add servers`,
        { cause: e },
      );
    }
    throw e;
  }

  watchStatus(): void {
    void (async () => {
      for await (const s of this.nc.status()) {
        const detail = typeof s.data === 'string' ? s.data : JSON.stringify(s.data);
        if (s.type === 'disconnect') {
          if (!this.down) {
            let resolve = (): void => undefined;
            const promise = new Promise<void>((r) => (resolve = r));
            this.down = { promise, resolve };
          }
          this.emit({ type: 'disconnect', detail });
          this.log('warn', { server: detail }, 'disconnected from NATS, reconnecting');
        } else if (s.type === 'reconnect') {
          this.down?.resolve();
          this.down = undefined;
          this.emit({ type: 'reconnect', detail });
          this.log('info', { server: detail }, 'reconnected to NATS');
          // A server restarted on a fresh store has lost streams and consumers: recreate them.
          this.ensureStreams()
            .then(() => Promise.all([...this.consumers].map((c) => c.ensure())))
            .catch((e: unknown) => this.log('error', { err: e }, 'cannot restore streams after reconnect'));
        } else if (s.type === 'error') {
          this.emit({ type: 'error', detail });
          this.log('error', { detail }, 'NATS error');
        }
      }
    })().catch(() => undefined);
  }

  private open(): void {
    if (this.closed || this.nc.isClosed()) throw new BusError('CLOSED', 'the bus is closed');
  }

  /** Resolves at once when connected; while reconnecting, when the connection is back (or closed). */
  async connected(): Promise<void> {
    if (this.down) await Promise.race([this.down.promise, this.nc.closed()]);
  }

  /** Runs a JetStream API call once connected, retrying if the connection drops under it. */
  async withRetry<T>(call: () => Promise<T>, attempts = 3): Promise<T> {
    for (let i = 1; ; i++) {
      await this.connected();
      try {
        return await call();
      } catch (e) {
        if (errCode(e) !== 'TIMEOUT' || i >= attempts || this.nc.isClosed()) throw e;
        this.log('warn', { err: e, attempt: i }, 'JetStream request timed out, retrying');
      }
    }
  }

  get maxPayloadBytes(): number {
    const max = this.nc.info?.max_payload;
    return max === undefined ? Number.POSITIVE_INFINITY : max - HEADER_ALLOWANCE_BYTES;
  }

  /** Encodes and checks the size against the server's max_payload. */
  encode(subject: string, msg: unknown): Uint8Array {
    const data = encodeMessage(msg);
    const max = this.nc.info?.max_payload;
    if (max !== undefined && data.byteLength > this.maxPayloadBytes) {
      throw new BusError(
        'PAYLOAD_TOO_LARGE',
        `message on ${subject} is ${data.byteLength} bytes encoded; the NATS server at ${this.url} accepts ` +
          `at most ${max} bytes per message (max_payload, less ${HEADER_ALLOWANCE_BYTES} for headers) — ` +
          `raise max_payload in the server config (up to 64MB) or send less`,
      );
    }
    return data;
  }

  publish(subject: string, msg: object): void {
    this.open();
    checkSubject(subject, false);
    const data = this.encode(subject, msg);
    this.nc.publish(subject, data);
    this.emit({ type: 'publish', subject, bytes: data.byteLength });
  }

  private async addSub(
    subject: string,
    opts: SubscribeOptions,
    onMsg: (data: Uint8Array, ctx: MessageContext, respond: (d: Uint8Array) => void) => void,
  ): Promise<Subscription> {
    this.open();
    checkSubject(subject, true);
    if (opts.queue !== undefined) checkName('queue group', opts.queue);
    const sub = this.nc.subscribe(subject, {
      queue: opts.queue,
      callback: (err, m) => {
        if (err) {
          this.log('error', { subject, err }, 'subscription error');
          return;
        }
        onMsg(m.data, { subject: m.subject }, (d) => m.respond(d));
      },
    });
    this.subs.add(sub);
    await this.nc.flush(); // the server has the subscription once the flush returns
    return {
      unsubscribe: async () => {
        this.subs.delete(sub);
        if (!sub.isClosed()) sub.unsubscribe();
      },
    };
  }

  async subscribe<T = BusMessage>(
    subject: string,
    handler: MessageHandler<T>,
    opts: SubscribeOptions = {},
  ): Promise<Subscription> {
    return this.addSub(subject, opts, (data, ctx) => {
      void Promise.resolve()
        .then(() => handler(decodeMessage<T>(data), ctx))
        .catch((error: unknown) => {
          this.emit({ type: 'handler-error', subject: ctx.subject, error });
          this.log('error', { subject: ctx.subject, err: error }, 'subscriber threw');
        });
    });
  }

  async request<Res = BusMessage>(subject: string, msg: object, opts: RequestOptions = {}): Promise<Res> {
    this.open();
    checkSubject(subject, false);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const data = this.encode(subject, msg);
    this.emit({ type: 'request', subject, bytes: data.byteLength });
    let reply;
    try {
      reply = await this.nc.request(subject, data, { timeout: timeoutMs });
    } catch (e) {
      const code = errCode(e);
      if (code === '503') throw new BusError('NO_RESPONDERS', `no responders for request on ${subject}`);
      if (code === 'TIMEOUT') {
        throw new BusError('TIMEOUT', `request on ${subject} got no reply within ${timeoutMs} ms`);
      }
      throw new BusError('CLOSED', `request on ${subject} failed: ${messageOf(e)}`, { cause: e });
    }
    const env = decodeMessage<Envelope>(reply.data);
    if (!env.ok) throw new BusError('REMOTE', `reply handler for ${subject} failed: ${env.error.message}`);
    return env.body as Res;
  }

  async reply<Req = BusMessage, Res extends object = BusMessage>(
    subject: string,
    handler: RequestHandler<Req, Res>,
    opts: SubscribeOptions = {},
  ): Promise<Subscription> {
    return this.addSub(subject, opts, (data, ctx, respond) => {
      const fail = (error: unknown): void => {
        this.emit({ type: 'handler-error', subject: ctx.subject, error });
        respond(encodeMessage({ ok: false, error: { message: messageOf(error) } }));
      };
      void Promise.resolve()
        .then(() => handler(decodeMessage<Req>(data), ctx))
        .then((body) => respond(this.encode(ctx.subject, { ok: true, body })), fail)
        .catch(fail);
    });
  }

  async send(subject: string, msg: object, opts: SendOptions = {}): Promise<void> {
    this.open();
    checkSubject(subject, false);
    streamFor(this.streams, subject); // NOT_DURABLE before touching the network
    const data = this.encode(subject, msg);
    const budget = this.opts.sendRetryMs ?? DEFAULT_SEND_RETRY_MS;
    const started = Date.now();
    for (let delay = 200; ; delay = Math.min(2 * delay, 2_000)) {
      try {
        await this.connected();
        await this.js.publish(subject, data, {
          msgID: opts.msgId,
          timeout: this.opts.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
        });
        break;
      } catch (e) {
        const code = errCode(e);
        // The stream is configured (checked above): a 503 is a stream with no leader for now (a cluster electing
        // one), a timeout an unconfirmed store; both pass, and a retry under the same message id is stored once.
        if ((code === '503' || code === 'TIMEOUT') && Date.now() - started + delay <= budget) {
          this.emit({ type: 'send-retry', subject, error: e });
          this.log('warn', { subject, code, retryInMs: delay }, 'send not stored yet; retrying');
          await sleep(delay);
          this.open();
          continue;
        }
        if (code === '503') {
          throw new BusError('NOT_DURABLE', `no JetStream stream on ${this.url} captures ${subject}`, {
            cause: e,
          });
        }
        if (code === 'TIMEOUT') {
          throw new BusError('TIMEOUT', `JetStream did not confirm storing the message on ${subject}`, {
            cause: e,
          });
        }
        throw new BusError('CLOSED', `send on ${subject} failed: ${messageOf(e)}`, { cause: e });
      }
    }
    this.emit({ type: 'send', subject, bytes: data.byteLength });
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
    const stream = streamFor(this.streams, subject);
    const consumer = new NatsConsumer(
      this,
      stream.name,
      subject,
      durableName,
      handler as DurableHandler<unknown>,
      {
        ackWaitMs: opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS,
        maxDeliver: opts.maxDeliver ?? DEFAULT_MAX_DELIVER,
        maxInFlight: opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
        redeliveryDelayMs: opts.redeliveryDelayMs ?? DEFAULT_REDELIVERY_DELAY_MS,
        onDeadLetter: opts.onDeadLetter,
      },
    );
    await consumer.ensure();
    this.consumers.add(consumer);
    consumer.start(() => this.consumers.delete(consumer));
    return consumer;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.stop()));
    for (const s of this.subs) s.unsubscribe();
    this.subs.clear();
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
  }
}

interface ConsumerSettings {
  ackWaitMs: number;
  maxDeliver: number;
  maxInFlight: number;
  redeliveryDelayMs: number;
  onDeadLetter?: ConsumeOptions['onDeadLetter'];
}

class NatsConsumer implements Consumer {
  private stopped = false;
  private inFlight = 0;
  private wake: (() => void) | undefined;
  private fetch: ConsumerMessages | undefined;
  private loop: Promise<void> = Promise.resolve();
  private js: JsConsumer | undefined;

  constructor(
    private readonly bus: NatsBus,
    private readonly stream: string,
    private readonly filter: string,
    readonly durableName: string,
    private readonly handler: DurableHandler<unknown>,
    private readonly s: ConsumerSettings,
  ) {}

  /** Creates the durable consumer, or checks the existing one and updates its ack wait / max deliver. */
  async ensure(): Promise<void> {
    const { jsm } = this.bus;
    const wanted: Partial<ConsumerConfig> = {
      durable_name: this.durableName,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: this.filter,
      ack_wait: nanos(this.s.ackWaitMs),
      max_deliver: this.s.maxDeliver,
    };
    try {
      const info = await this.bus.withRetry(() =>
        jsm.consumers.info(this.stream, this.durableName).catch((e: unknown) => {
          if (apiErrCode(e) === 10014 || errCode(e) === '404') return undefined; // consumer not found
          throw e;
        }),
      );
      if (!info) {
        await this.bus.withRetry(() => jsm.consumers.add(this.stream, wanted));
      } else if ((info.config.filter_subject ?? '') !== this.filter) {
        throw new BusError(
          'CONSUMER_CONFLICT',
          `durable ${this.durableName} already consumes ${info.config.filter_subject}, not ${this.filter}`,
        );
      } else if (info.config.ack_wait !== wanted.ack_wait || info.config.max_deliver !== wanted.max_deliver) {
        await this.bus.withRetry(() =>
          jsm.consumers.update(this.stream, this.durableName, {
            ack_wait: wanted.ack_wait,
            max_deliver: wanted.max_deliver,
          }),
        );
      }
    } catch (e) {
      if (e instanceof BusError) throw e;
      if (apiErrCode(e) === 10100 || /not unique/i.test(messageOf(e))) {
        throw new BusError(
          'CONSUMER_CONFLICT',
          `work-queue stream ${this.stream}: another durable already consumes a subject overlapping ` +
            `${this.filter}; share that durable name instead (${messageOf(e)})`,
          { cause: e },
        );
      }
      throw new BusError('CONNECT', `cannot set up consumer ${this.durableName}: ${messageOf(e)}`, {
        cause: e,
      });
    }
    this.js = await this.bus.nc.jetstream().consumers.get(this.stream, this.durableName);
  }

  start(onStopped: () => void): void {
    this.loop = this.run().finally(onStopped);
  }

  private async run(): Promise<void> {
    const expires = this.bus.opts.pullExpiresMs ?? DEFAULT_PULL_EXPIRES_MS;
    while (!this.stopped) {
      if (this.inFlight >= this.s.maxInFlight) {
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      try {
        await this.bus.connected();
        if (!this.js) await this.ensure();
        const iter = await (this.js as JsConsumer).fetch({
          max_messages: this.s.maxInFlight - this.inFlight,
          expires,
        });
        this.fetch = iter;
        const started = Date.now();
        let received = 0;
        for await (const m of iter) {
          received++;
          if (this.stopped) m.nak();
          else this.dispatch(m);
        }
        // A pull that ends at once with nothing (server-side error status) must not become a busy loop.
        if (received === 0 && Date.now() - started < expires / 2) await sleep(200);
      } catch (e) {
        if (this.stopped) break;
        this.bus.log('warn', { durable: this.durableName, err: e }, 'fetch failed, retrying');
        this.js = undefined;
        await sleep(Math.min(1_000, expires));
      } finally {
        this.fetch = undefined;
      }
    }
  }

  private dispatch(m: JsMsg): void {
    this.inFlight++;
    const ctx: DurableContext = {
      subject: m.subject,
      deliveryCount: m.info.deliveryCount,
      redelivered: m.info.redelivered,
      sequence: m.seq,
    };
    const { bus } = this;
    bus.emit({ type: 'deliver', subject: m.subject, durable: this.durableName });
    // Progress heartbeats keep a long handler from being redelivered while this process is alive.
    const heartbeat = setInterval(() => m.working(), Math.max(100, Math.floor(this.s.ackWaitMs / 3)));
    let msg: unknown;
    void Promise.resolve()
      .then(() => {
        msg = decodeMessage(m.data);
        return this.handler(msg, ctx);
      })
      .then(
        () => {
          m.ack();
          bus.emit({ type: 'ack', subject: m.subject, durable: this.durableName });
        },
        (error: unknown) => {
          if (ctx.deliveryCount >= this.s.maxDeliver || msg === undefined) {
            m.term(messageOf(error).slice(0, 200));
            bus.emit({ type: 'dead-letter', subject: m.subject, durable: this.durableName, error });
            bus.log('error', { subject: m.subject, durable: this.durableName, ctx, err: error }, 'gave up');
            try {
              this.s.onDeadLetter?.(msg, ctx, error);
            } catch (hookError) {
              bus.log('error', { err: hookError }, 'onDeadLetter hook threw');
            }
          } else {
            m.nak(this.s.redeliveryDelayMs);
            bus.emit({ type: 'redeliver', subject: m.subject, durable: this.durableName, error });
            bus.log('warn', { subject: m.subject, durable: this.durableName, ctx, err: error }, 'redeliver');
          }
        },
      )
      .finally(() => {
        clearInterval(heartbeat);
        this.inFlight--;
        const w = this.wake;
        this.wake = undefined;
        w?.();
      });
  }

  async stop(): Promise<void> {
    if (this.stopped) return this.loop;
    this.stopped = true;
    this.fetch?.stop();
    const w = this.wake;
    this.wake = undefined;
    w?.();
    await this.loop;
    while (this.inFlight > 0) await new Promise<void>((r) => (this.wake = r));
    // acks/naks are plain publishes: make sure they left before the caller closes the connection.
    if (!this.bus.nc.isClosed()) await this.bus.nc.flush().catch(() => undefined);
  }
}
