// The one Bus interface shared by the in-process and NATS implementations, with its errors and options.
import { OptinferError } from '../state/errors.ts';

/** A value that can travel on the bus: JSON plus Uint8Array (bytes survive the codec untouched). */
export type BusValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | readonly BusValue[]
  | { readonly [key: string]: BusValue | undefined };

/** A message is a plain object whose fields are BusValues (checked at run time on every send). */
export type BusMessage = { readonly [key: string]: BusValue | undefined };

export type BusErrorCode =
  | 'CONNECT' // the server cannot be reached or has no JetStream
  | 'CLOSED' // the bus was closed
  | 'TIMEOUT' // a request got no answer in time, or JetStream did not acknowledge a send
  | 'NO_RESPONDERS' // a request found no subscriber at all
  | 'REMOTE' // the reply handler threw; the message carries its error message
  | 'PAYLOAD_TOO_LARGE' // the encoded message exceeds the server's max_payload
  | 'INVALID_MESSAGE' // not a plain JSON-compatible object (or uses the reserved key "$bytes")
  | 'INVALID_SUBJECT' // empty token, whitespace, or a wildcard where none is allowed
  | 'NOT_DURABLE' // send/consume on a subject that no durable stream captures
  | 'CONSUMER_CONFLICT'; // a durable consumer clashes with an existing one

/** An OptinferError whose code is one of the bus's own; its kind (state/errors.ts) sets statuses and exit codes. */
export class BusError extends OptinferError {
  override readonly name = 'BusError';
  declare readonly code: BusErrorCode;

  constructor(code: BusErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, undefined, options);
  }
}

export interface MessageContext {
  /** The concrete subject the message was published on (never a wildcard). */
  readonly subject: string;
}

export interface DurableContext extends MessageContext {
  /** 1 on first delivery; incremented on every redelivery. */
  readonly deliveryCount: number;
  readonly redelivered: boolean;
  /** The stream sequence number of the message (stable across redeliveries). */
  readonly sequence: number;
}

export type MessageHandler<T> = (msg: T, ctx: MessageContext) => void | Promise<void>;
export type RequestHandler<Req, Res> = (msg: Req, ctx: MessageContext) => Res | Promise<Res>;
export type DurableHandler<T> = (msg: T, ctx: DurableContext) => void | Promise<void>;

export interface SubscribeOptions {
  /** Queue group: each message goes to exactly one member of the group. */
  queue?: string;
}

export interface RequestOptions {
  timeoutMs?: number;
}

export interface SendOptions {
  /** Deduplication id: a second send with the same id inside the duplicate window is dropped. */
  msgId?: string;
}

export interface ConsumeOptions {
  /** How long a delivered message may go without ack (or a progress heartbeat) before redelivery. */
  ackWaitMs?: number;
  /** Deliveries before the message is given up (then onDeadLetter is called). */
  maxDeliver?: number;
  /** Handlers running at once in this consumer. */
  maxInFlight?: number;
  /** Delay before a message whose handler threw is redelivered. */
  redeliveryDelayMs?: number;
  /** Called once when a message is given up after maxDeliver failed deliveries. */
  onDeadLetter?: (msg: unknown, ctx: DurableContext, error: unknown) => void;
}

export interface Subscription {
  unsubscribe(): Promise<void>;
}

export interface Consumer {
  readonly durableName: string;
  /** Stops fetching and waits for handlers in flight to finish (and be acked or nacked). */
  stop(): Promise<void>;
}

/** A durable stream: the subjects it captures and how long it keeps messages. */
export interface StreamSpec {
  readonly name: string;
  readonly subjects: readonly string[];
  /**
   * 'workqueue': a message is removed once one consumer acks it; at most one durable per subject.
   * 'limits': every durable sees every message; messages age out by maxAgeMs / maxMsgs / maxBytes.
   */
  readonly retention: 'workqueue' | 'limits';
  readonly maxAgeMs?: number;
  readonly maxMsgs?: number;
  readonly maxBytes?: number;
}

export type BusEvent =
  | { type: 'publish' | 'send' | 'request'; subject: string; bytes?: number }
  | { type: 'deliver' | 'ack'; subject: string; durable?: string }
  | {
      type: 'redeliver' | 'dead-letter' | 'handler-error' | 'send-retry';
      subject: string;
      durable?: string;
      error: unknown;
    }
  | { type: 'disconnect' | 'reconnect' | 'error'; detail?: string };

/** The subset of pino's logger the bus uses; pino loggers fit as they are. */
export interface BusLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface BusOptions {
  /** Durable streams; defaults to STREAMS from subjects.ts. */
  streams?: readonly StreamSpec[];
  logger?: BusLogger;
  /** Metrics hook, called synchronously; must not throw. */
  onEvent?: (event: BusEvent) => void;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;
export const DEFAULT_ACK_WAIT_MS = 30_000;
export const DEFAULT_MAX_DELIVER = 5;
export const DEFAULT_MAX_IN_FLIGHT = 1;
export const DEFAULT_REDELIVERY_DELAY_MS = 100;
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000;

export interface Bus {
  readonly kind: 'memory' | 'nats';
  /** Largest encoded message the bus accepts (NATS: server max_payload less header room; memory: Infinity). */
  readonly maxPayloadBytes: number;
  /** Fire-and-forget. Throws synchronously on an invalid subject/message or one too large. */
  publish(subject: string, msg: object): void;
  /** Resolves once the subscription is active (on NATS: the server has it). Wildcards * and > allowed. */
  subscribe<T = BusMessage>(
    subject: string,
    handler: MessageHandler<T>,
    opts?: SubscribeOptions,
  ): Promise<Subscription>;
  /** Resolves with the first reply; BusError TIMEOUT / NO_RESPONDERS / REMOTE otherwise. */
  request<Res = BusMessage>(subject: string, msg: object, opts?: RequestOptions): Promise<Res>;
  /** Answers requests on subject with the handler's return value (an object); a throw reaches the caller as REMOTE. */
  reply<Req = BusMessage, Res extends object = BusMessage>(
    subject: string,
    handler: RequestHandler<Req, Res>,
    opts?: SubscribeOptions,
  ): Promise<Subscription>;
  /** Durable send: resolves only once the bus has persisted the message. */
  send(subject: string, msg: object, opts?: SendOptions): Promise<void>;
  /**
   * Durable consumer `durableName` on subject (wildcards allowed, inside one stream). Consumers started
   * with the same name share the work; the handler's resolve acks, a throw redelivers after
   * redeliveryDelayMs, a consumer that dies without acking gets the message redelivered after ackWaitMs.
   */
  consume<T = BusMessage>(
    subject: string,
    durableName: string,
    handler: DurableHandler<T>,
    opts?: ConsumeOptions,
  ): Promise<Consumer>;
  /** Stops consumers (waiting for their handlers), drops subscriptions, flushes and disconnects. */
  close(): Promise<void>;
}
