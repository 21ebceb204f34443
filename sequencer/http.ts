// The sequencer's HTTP API (fastify): models, jobs with results and inclusion proofs, batches, the chain's views, health, metrics and the explorer.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import { PublicKey, type Keypair } from '@solana/web3.js';
import {
  OptinferError,
  errorKind,
  httpStatus,
  isOptinferError,
  type OptinferErrorCode,
} from '../state/errors.ts';
import { MIN_JOB_FEE_LAMPORTS } from '../state/job.ts';
import { decodeInputsJson, encodeTensorsJson } from '../state/tensor-json.ts';
import { asBatchIndex, asJobId, asModelId } from '../state/types.ts';
import type { Logger } from '../common/log.ts';
import type { PromMetrics } from '../common/metrics.ts';
import type { SettlementClient } from '../settlement/index.ts';
import { ModelProtoScan } from './models.ts';
import type { Sequencer } from './sequencer.ts';
import type { ClaimsView, OperatorView } from '../client/types.ts';
import { parsePayment, type PaymentGate } from './payments.ts';
import { chainBatchView, disputesView, operatorStatusView, operatorsView, ownerKey } from './chain-views.ts';

/** The chain the node settles on, for the read-only chain routes; `roles` names the node's own keys (executor, challenger). */
export interface HttpChain {
  client: SettlementClient;
  roles?: () => ReadonlyMap<string, string>;
  /** The fee claimer's table of one of the node's executors (executor/fees.ts), undefined for any other key. */
  claims?: (owner: string) => Promise<ClaimsView | undefined>;
}

export interface HttpConfig {
  /** Largest job request body accepted (JSON with inline tensors). Model uploads are capped by the sequencer. */
  maxJobBytes: number;
  /** API keys accepted for POST /v1/models and POST /v1/jobs (`Authorization: Bearer KEY`); none: open. */
  apiKeys: readonly string[];
  /** Requests per second to those routes per key (per client address when open) (fixed one-second windows, @fastify/rate-limit); 0: no limit. */
  rateLimit: number;
  /** Model uploads streaming to disk at once (each up to the model cap); one more is a 429. */
  maxUploadsInFlight: number;
  /** Of those, uploads one caller (API key, or client address on an open node) may stream at once. */
  maxUploadsPerCaller: number;
  /** Bytes of job bodies being received and parsed at once (Content-Length, or the job cap when chunked). */
  maxJobBytesInFlight: number;
  /** Milliseconds a whole request (headers and body) may take to arrive; past it, a 408 and the connection closes. */
  requestTimeoutMs: number;
}

export const DEFAULT_HTTP_CONFIG: HttpConfig = {
  maxJobBytes: 16 * 1024 * 1024,
  apiKeys: [],
  rateLimit: 0,
  maxUploadsInFlight: 4,
  maxUploadsPerCaller: 2,
  maxJobBytesInFlight: 128 * 1024 * 1024,
  requestTimeoutMs: 300_000,
};

const JSON_TYPE = 'application/json';
const MODEL_TYPES = ['application/octet-stream', 'application/onnx'];
const U64_MAX = (1n << 64n) - 1n;

// ---- Messages fit for the outside: no filesystem paths, no onnxruntime source locations ---------------------

/** `graph.cc:123 FunctionName ` as onnxruntime prefixes its messages. */
const SOURCE_LOCATION = /\b[\w-]+\.(?:cc|cpp|cxx|c|h|hpp):\d+(?:\s+[A-Z]\w*(?=\s))?\s*/g;
/** An absolute path of two segments or more (not one of our routes, not inside a URL). */
const ABSOLUTE_PATH =
  /(?<![\w.:/\\-])(?:[A-Za-z]:[\\/]|\/)(?!v1\/|healthz|metrics)[^\s"'`<>|,;()[\]]*[\\/][^\s"'`<>|,;()[\]]*/g;

/** A message as API clients see it: paths become `<path>`, library source locations are dropped. */
export function scrubMessage(message: string): string {
  return message.replace(SOURCE_LOCATION, '').replace(ABSOLUTE_PATH, '<path>');
}

/** A value shown in a message, cut short: a client's 16 MB string is not echoed back. */
function show(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'nothing' : JSON.stringify(v);
  return s.length > 48 ? `${s.slice(0, 45)}...` : s;
}

// ---- Exact integers from JSON ------------------------------------------------------------------------------

/**
 * The raw text of a top-level member of a JSON object (the last one, as JSON.parse keeps), or undefined. The text
 * must already have parsed: this only finds where the value is, so a number beyond 2^53 is read digit for digit.
 */
export function rawTopLevelMember(text: string, key: string): string | undefined {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const skipString = () => {
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
  };
  // A byte order mark before the object: the JSON parser skips it, so must this.
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  ws();
  if (text[i] !== '{') return undefined;
  i++;
  let found: string | undefined;
  for (;;) {
    ws();
    if (text[i] !== '"') return found;
    const keyStart = i;
    skipString();
    const k = text.slice(keyStart, i);
    const name = k.includes('\\') ? (JSON.parse(k) as string) : k.slice(1, -1);
    ws();
    i++; // ':'
    ws();
    const valueStart = i;
    let depth = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        skipString();
        if (depth === 0) break;
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        if (depth === 0) break;
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      } else if (depth === 0 && (c === ',' || ' \t\n\r'.includes(c))) break;
      i++;
    }
    if (name === key) found = text.slice(valueStart, i);
    ws();
    if (text[i] === ',') i++;
  }
}

/** The fee in lamports: JSON digits (exact at any size) or a decimal string, 0..2^64-1; anything else is a 400. */
export function parseFee(value: unknown, rawNumber: string | undefined): bigint | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value : typeof value === 'number' ? rawNumber : undefined;
  const expected =
    'fee: expected a whole number of lamports (0..18446744073709551615) as digits or a decimal string';
  if (text === undefined || !/^\d{1,40}$/.test(text)) {
    throw new OptinferError('INVALID_INPUT', `${expected}, got ${show(text ?? value)}`);
  }
  const fee = BigInt(text);
  if (fee > U64_MAX) throw new OptinferError('INVALID_INPUT', `${expected}, got ${text} (over 2^64 - 1)`);
  return fee;
}

// ---- The server --------------------------------------------------------------------------------------------

/** The error body; the status is the code's (state/errors.ts) unless fastify already chose a finer 4xx. */
function sendError(
  reply: FastifyReply,
  code: OptinferErrorCode,
  message: string,
  status = httpStatus(code),
): FastifyReply {
  // A body left unread (an upload refused part way) is not drained: the connection closes after the answer.
  if (!reply.request.raw.complete) reply.header('connection', 'close');
  return reply.code(status).send({ error: { code, message: scrubMessage(message) } });
}

/** Errors Node's HTTP parser finds before fastify sees a request (431, 408, malformed), written in our shape. */
function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, `request headers: expected at most ${maxHeaderSize} bytes in all`]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request: not received in time']
        : [400, 'request: expected a well-formed HTTP/1.1 request'];
  const body = JSON.stringify({ error: { code: 'INVALID_REQUEST', message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

function mediaType(req: FastifyRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

/** Why fastify's JSON parser refused a body, in our words: the syntax error, or a prototype-poisoning key. */
function jsonError(err: Error & { code?: string }, text: string): Error {
  if (err.code !== 'FST_ERR_CTP_INVALID_JSON_BODY') return err;
  try {
    JSON.parse(text);
  } catch (e) {
    return new OptinferError(
      'INVALID_REQUEST',
      `request body: expected valid JSON (${(e as Error).message})`,
    );
  }
  return new OptinferError(
    'INVALID_REQUEST',
    'request body: expected JSON without "__proto__" or "constructor" keys',
  );
}

/** Raw JSON numbers of parsed job bodies, so the fee is read from its digits. */
const rawFees = new WeakMap<object, string>();

export function buildHttp(opts: {
  sequencer: Sequencer;
  config?: Partial<HttpConfig>;
  logger?: Logger;
  metrics?: PromMetrics;
  chain?: HttpChain;
  /** When set, a job with a fee must carry the user's voucher, and its deposit must cover the fee (HTTP 402). */
  payments?: PaymentGate;
  /** With payments: who pays a job that carries no `payment` (the dev node's funded default; the node signs its voucher). */
  defaultPayer?: Keypair;
}): FastifyInstance {
  return build(opts) as unknown as FastifyInstance;
}

function build(opts: {
  sequencer: Sequencer;
  config?: Partial<HttpConfig>;
  logger?: Logger;
  metrics?: PromMetrics;
  chain?: HttpChain;
  /** When set, a job with a fee must carry the user's voucher, and its deposit must cover the fee (HTTP 402). */
  payments?: PaymentGate;
  /** With payments: who pays a job that carries no `payment` (the dev node's funded default; the node signs its voucher). */
  defaultPayer?: Keypair;
}) {
  const cfg = { ...DEFAULT_HTTP_CONFIG, ...opts.config };
  const seq = opts.sequencer;
  const maxModelBytes = seq.config.maxModelBytes;
  // Fastify's own request logging stays off: errors are logged below, and the node logs what matters.
  const app = Fastify({
    logger: false,
    bodyLimit: cfg.maxJobBytes,
    // Fastify turns Node's request timeout off: a client trickling a body would hold its upload slot for ever.
    requestTimeout: cfg.requestTimeoutMs,
    http: {
      headersTimeout: Math.min(60_000, cfg.requestTimeoutMs),
      // Node would answer a missing Host itself, in its own shape; the hook below answers it in ours.
      requireHostHeader: false,
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(cfg.requestTimeoutMs / 10))),
    },
    clientErrorHandler: clientError,
    frameworkErrors: (err, _req, reply) => {
      const e = err as { code?: string; statusCode?: number };
      const message =
        e.code === 'FST_ERR_BAD_URL'
          ? 'URL: expected a valid percent-encoded path'
          : e.code === 'FST_ERR_MAX_PARAM_LENGTH'
            ? 'URL: a path parameter is longer than any id (expected at most 100 characters)'
            : 'request: not understood';
      void sendError(reply, 'INVALID_REQUEST', message, e.statusCode ?? 400);
    },
  });

  // Requests Node answers itself unless someone listens: CONNECT (dropped unanswered) and an unknown Expect (a bare 417).
  const rawError = (status: number, code: OptinferErrorCode, message: string) => {
    const body = JSON.stringify({ error: { code, message } });
    return (
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
    );
  };
  app.server.on('connect', (_req: unknown, socket: Socket) => {
    if (socket.writable)
      socket.write(rawError(404, 'NOT_FOUND', 'no route CONNECT (this node is not a proxy)'));
    socket.destroy();
  });
  app.server.on(
    'checkExpectation',
    (req: { headers: Record<string, unknown> }, res: import('node:http').ServerResponse) => {
      const body = JSON.stringify({
        error: {
          code: 'INVALID_REQUEST',
          message: `Expect: only "100-continue" is understood, got ${show(req.headers.expect)}`,
        },
      });
      res.writeHead(417, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      });
      res.end(body);
    },
  );
  app.addHook('onRequest', async (req) => {
    if (req.raw.httpVersion === '1.1' && req.headers.host === undefined) {
      throw new OptinferError(
        'INVALID_REQUEST',
        'Host: missing; expected a Host header in an HTTP/1.1 request',
      );
    }
  });

  // Only the two bodies the API takes: JSON for jobs, ONNX bytes (as a stream, never buffered) for models.
  app.removeAllContentTypeParsers();
  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser(JSON_TYPE, { parseAs: 'string' }, (req, text, done) => {
    json(req, text as string, (err: Error | null, body?: unknown) => {
      if (err) return done(jsonError(err, text as string), undefined);
      const fee = (body as { fee?: unknown } | null)?.fee;
      if (typeof fee === 'number') {
        const raw = rawTopLevelMember(text as string, 'fee');
        if (raw !== undefined) rawFees.set(body as object, raw);
      }
      done(null, body);
    });
  });
  app.addContentTypeParser(MODEL_TYPES, (_req, payload, done) => done(null, payload));

  app.setErrorHandler((err, req, reply) => {
    if (isOptinferError(err)) {
      if (errorKind(err.code) === 'internal') {
        opts.logger?.error({ code: err.code, err: err.message, url: req.url }, 'internal error');
      }
      return sendError(reply, err.code, err.message);
    }
    const e = err as { statusCode?: number; code?: string; message: string; name?: string };
    switch (e.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(
          reply,
          'PAYLOAD_TOO_LARGE',
          `request body: expected at most ${cfg.maxJobBytes} bytes for a job (${maxModelBytes} for a model)`,
        );
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(
          reply,
          'UNSUPPORTED_MEDIA_TYPE',
          `Content-Type: expected ${JSON_TYPE} for jobs, application/octet-stream for models, got ${show(req.headers['content-type'])}`,
        );
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendError(reply, 'INVALID_REQUEST', 'request body: expected a JSON object, got an empty body');
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return sendError(reply, 'INVALID_REQUEST', 'request body: its size does not match Content-Length');
    }
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return sendError(reply, 'INVALID_REQUEST', e.message, e.statusCode);
    }
    opts.logger?.error({ err: e.message, url: req.url }, 'internal error');
    return sendError(reply, 'INTERNAL', 'internal error; see the node log');
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(
      reply,
      'NOT_FOUND',
      `no route ${req.method} ${req.url.length > 80 ? `${req.url.slice(0, 77)}...` : req.url}`,
    ),
  );

  // ---- Who may write: API keys, rate limits, body types (all before the body is read) ----

  const keys = new Map(cfg.apiKeys.map((k, i) => [createHash('sha256').update(k).digest('hex'), `key-${i}`]));
  /** Uploads streaming to disk now: with the cap on each, this bounds the disk they can take at once. */
  let uploading = 0;
  /** Uploads streaming now per caller: no one caller (one key, one address) can hold every upload slot. */
  const uploadsOf = new Map<string, number>();
  /** Bytes of job bodies being received now: many clients sending 16 MiB bodies at once cannot exhaust memory. */
  let jobBytes = 0;
  const callers = new WeakMap<FastifyRequest, string>();
  // @fastify/rate-limit counts requests per caller in fixed one-second windows; it runs inside the guard below,
  // after the caller is known, so an unknown key is a 401 and never spends anybody's budget.
  if (cfg.rateLimit > 0) void app.register(rateLimit, { global: false });
  let limiter: ReturnType<FastifyInstance['createRateLimit']> | undefined;
  const overLimit = async (req: FastifyRequest): Promise<number | null> => {
    if (cfg.rateLimit <= 0) return null;
    limiter ??= app.createRateLimit({
      max: cfg.rateLimit,
      timeWindow: 1000,
      keyGenerator: (r: FastifyRequest) => callers.get(r) ?? 'unknown',
    });
    const r = await limiter(req);
    return !r.isAllowed && r.isExceeded ? Math.max(1, r.ttl) : null;
  };

  /** The caller's identity for rate limits: its key's index, or its address on an open node. */
  const caller = (req: FastifyRequest): string => {
    // IPv6 clients are counted per /64: one host holds a whole /64 and could otherwise take a new address per request.
    if (keys.size === 0) return `addr-${normalizeIP(req.ip)}`;
    const auth = req.headers.authorization;
    if (auth === undefined) {
      throw new OptinferError(
        'UNAUTHORIZED',
        `${req.method} ${req.routeOptions.url}: expected an API key (Authorization: Bearer KEY); this node requires one`,
      );
    }
    const m = /^Bearer (\S+)$/i.exec(auth);
    if (!m) throw new OptinferError('UNAUTHORIZED', 'Authorization: expected "Bearer KEY"');
    // Looked up by hash: the time taken does not depend on how much of a key matched.
    const id = keys.get(createHash('sha256').update(m[1]).digest('hex'));
    if (!id) throw new OptinferError('UNAUTHORIZED', 'API key: not known to this node');
    return id;
  };

  const guard = (types: string[], expected: string) => async (req: FastifyRequest, reply: FastifyReply) => {
    let who: string;
    try {
      who = caller(req);
    } catch (e) {
      reply.header('www-authenticate', 'Bearer realm="optinfer"');
      throw e;
    }
    callers.set(req, who);
    const retryAfterMs = await overLimit(req);
    if (retryAfterMs !== null) {
      reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
      throw new OptinferError(
        'RATE_LIMITED',
        `${req.method} ${req.routeOptions.url}: over ${cfg.rateLimit} requests per second for this ${keys.size ? 'API key' : 'address'}; retry after ${retryAfterMs} ms`,
      );
    }
    if (!types.includes(mediaType(req))) {
      throw new OptinferError(
        'UNSUPPORTED_MEDIA_TYPE',
        `Content-Type: expected ${expected}, got ${show(req.headers['content-type'])}`,
      );
    }
    if (types.includes(JSON_TYPE)) {
      // Reserved before the body is read, released when the answer is done or the connection gone.
      const declared = Number(req.headers['content-length']);
      const size =
        Number.isSafeInteger(declared) && declared >= 0
          ? Math.min(declared, cfg.maxJobBytes)
          : cfg.maxJobBytes;
      if (jobBytes > 0 && jobBytes + size > cfg.maxJobBytesInFlight) {
        reply.header('retry-after', '1');
        throw new OptinferError(
          'RATE_LIMITED',
          `${req.method} ${req.routeOptions.url}: ${jobBytes} bytes of job bodies are being received, the most this node takes at once; retry shortly`,
        );
      }
      jobBytes += size;
      reply.raw.once('close', () => (jobBytes -= size));
    }
  };

  // 503 once the node found its state damaged (and stopped taking jobs), so a load balancer takes it out.
  app.get('/healthz', async (_req, reply) => {
    const h = seq.health();
    if (!h.ok) reply.code(503);
    return { ...h, ...seq.stats() };
  });

  app.get('/metrics', async (_req, reply) => {
    if (!opts.metrics) return sendError(reply, 'NOT_FOUND', 'metrics are disabled');
    reply.header('content-type', opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });

  app.post(
    '/v1/models',
    { onRequest: guard(MODEL_TYPES, 'application/octet-stream (the ONNX file bytes) for a model') },
    async (req, reply) => {
      const declared = Number(req.headers['content-length']);
      if (declared > maxModelBytes) {
        throw new OptinferError(
          'PAYLOAD_TOO_LARGE',
          `model: expected at most ${maxModelBytes} bytes, got ${declared} (Content-Length)`,
        );
      }
      if (uploading >= cfg.maxUploadsInFlight) {
        reply.header('retry-after', '1');
        throw new OptinferError(
          'RATE_LIMITED',
          `POST /v1/models: ${uploading} uploads are in flight, the most this node takes at once; retry shortly`,
        );
      }
      const who = callers.get(req) ?? '';
      const mine = uploadsOf.get(who) ?? 0;
      if (mine >= cfg.maxUploadsPerCaller) {
        reply.header('retry-after', '1');
        throw new OptinferError(
          'RATE_LIMITED',
          `POST /v1/models: ${mine} uploads of this ${keys.size ? 'API key' : 'address'} are in flight, the most one caller may stream at once; retry shortly`,
        );
      }
      const q = req.query as { name?: string };
      const name = typeof q.name === 'string' && q.name.length > 0 ? q.name.slice(0, 128) : 'model';
      const body = req.body as Readable | undefined;
      if (!body) {
        throw new OptinferError(
          'INVALID_MODEL',
          'model: expected the ONNX file bytes as the request body (Content-Type: application/octet-stream)',
        );
      }
      // Not destroyed when refused part way: the answer is written first, then the connection closes.
      const chunks = body.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>;
      uploading++;
      uploadsOf.set(who, mine + 1);
      try {
        const info = await seq.registerModel(scanned(chunks, new ModelProtoScan(`model '${name}'`)), name);
        return reply.code(201).send(info);
      } finally {
        uploading--;
        const left = (uploadsOf.get(who) ?? 1) - 1;
        if (left > 0) uploadsOf.set(who, left);
        else uploadsOf.delete(who);
      }
    },
  );

  // The explorer (explorer/dist, built by scripts/build-explorer.mjs and committed): its assets, and its page at
  // every other address under /explorer, so /explorer/jobs/<id> is a link anyone can open.
  const page = (file: string) => explorerFile(file) ?? explorerFile('index.html');
  const sendExplorer = (reply: FastifyReply, name: string) => {
    const f = page(name);
    if (!f) {
      return sendError(
        reply,
        'NOT_FOUND',
        'the explorer is not built in this checkout (explorer/dist); run npm run build:explorer',
      );
    }
    return reply.header('content-type', f.type).header('cache-control', 'no-cache').send(f.body);
  };
  app.get('/explorer', async (_req, reply) => sendExplorer(reply, 'index.html'));
  app.get('/explorer/*', async (req, reply) => {
    const rest = (req.params as { '*': string })['*'];
    return sendExplorer(reply, EXPLORER_ASSETS.has(rest) ? rest : 'index.html');
  });

  app.get('/v1/models', async () => seq.listModels());

  app.get('/v1/models/:id', async (req) => {
    const id = asModelId((req.params as { id: string }).id, 'model id');
    const m = seq.getModel(id);
    if (!m) throw new OptinferError('NOT_FOUND', `model ${id} is not registered`);
    return m;
  });

  app.get('/v1/models/:id/file', async (req, reply) => {
    const id = asModelId((req.params as { id: string }).id, 'model id');
    const bytes = seq.modelBytes(id);
    reply.header('content-type', 'application/octet-stream');
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  });

  app.post('/v1/jobs', { onRequest: guard([JSON_TYPE], JSON_TYPE) }, async (req, reply) => {
    const body = req.body as { modelId?: unknown; inputs?: unknown; fee?: unknown } | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new OptinferError(
        'INVALID_INPUT',
        'job: expected a JSON object {"modelId": "...", "inputs": {...}}',
      );
    }
    const modelId = asModelId(body.modelId, 'modelId');
    if (body.inputs === undefined)
      throw new OptinferError('INVALID_INPUT', 'inputs: missing, expected {"NAME": {dtype, dims, data}}');
    const inputs = decodeInputsJson({ inputs: body.inputs });
    const fee = parseFee(body.fee, rawFees.get(body));
    const payment = parsePayment((body as { payment?: unknown }).payment);
    const charged = fee ?? seq.config.defaultFeeLamports;
    const gate = opts.payments;
    // Free ride (review 17): "fee": 0 (or 1) would skip the gate. The least fee is MIN_JOB_FEE_LAMPORTS, or the
    // node's own default when that is lower.
    const least =
      seq.config.defaultFeeLamports < MIN_JOB_FEE_LAMPORTS
        ? seq.config.defaultFeeLamports
        : MIN_JOB_FEE_LAMPORTS;
    if (gate && (charged < least || charged === 0n))
      throw new OptinferError(
        'PAYMENT_REQUIRED',
        `job fee ${charged} lamports is below this node's minimum of ${least > 0n ? least : 1n} lamports (it takes payments: name a fee of at least that, or none for its default of ${seq.config.defaultFeeLamports})`,
      );
    const undo = !gate
      ? undefined
      : !payment && opts.defaultPayer
        ? await gate.reservePaidBy(opts.defaultPayer, charged)
        : await gate.reserve(payment, charged);
    const payer = gate && (payment?.user ?? opts.defaultPayer?.publicKey)?.toBase58();
    try {
      const { jobId } = await seq.submit({ modelId, inputs, fee, payer });
      return reply.code(202).send({ jobId });
    } catch (e) {
      undo?.();
      throw e;
    }
  });

  app.get('/v1/deposits/:user', async (req) => {
    if (!opts.payments)
      throw new OptinferError('NOT_FOUND', 'this node takes no payments (no deposits to show)');
    const raw = (req.params as { user: string }).user;
    let user: PublicKey;
    try {
      user = new PublicKey(raw);
    } catch {
      throw new OptinferError('INVALID_EXECUTOR_ID', `user: ${JSON.stringify(raw)} is not a base58 key`);
    }
    // The node's default fee too: what a job sent without one is charged, so a client signs its voucher for that.
    return { ...(await opts.payments.standing(user)), defaultFee: seq.config.defaultFeeLamports.toString() };
  });

  app.get('/v1/jobs/:id', async (req) => {
    const id = asJobId((req.params as { id: string }).id, 'job id');
    const q = req.query as { outputs?: string; proof?: string };
    const view = await seq.getJob(id, { outputs: q.outputs !== 'false', proof: q.proof !== 'false' });
    if (!view) throw new OptinferError('NOT_FOUND', `job ${id} is unknown`);
    return {
      ...view,
      outputs: view.outputs && encodeTensorsJson(view.outputs),
      // An executor's failure can quote onnxruntime; what reaches the client names no path.
      error: view.error && scrubMessage(view.error),
    };
  });

  app.get('/v1/jobs/:id/inputs', async (req) => {
    const id = asJobId((req.params as { id: string }).id, 'job id');
    const inputs = await seq.getInputs(id);
    if (!inputs) throw new OptinferError('NOT_FOUND', `job ${id} is unknown`);
    return { inputs: encodeTensorsJson(inputs) };
  });

  // Each executor's bond, exposure (unfinalized jobs x stake) and why it gets no job (unbonding, at its cap).
  app.get('/v1/executors', async () => seq.executors());

  app.get('/v1/batches', async () => seq.listBatches());

  app.get('/v1/batches/:index', async (req) => {
    const raw = (req.params as { index: string }).index;
    const index = asBatchIndex(/^\d+$/.test(raw) ? Number(raw) : raw, 'batch index');
    const b = await seq.getBatch(index);
    if (!b) throw new OptinferError('NOT_FOUND', `batch ${index} does not exist yet`);
    return b;
  });

  // ---- The chain the node settles on, read-only: batches, disputes and bonds as the program holds them ----

  const onChain = <T>(what: string, read: (c: SettlementClient) => Promise<T>): Promise<T> => {
    if (!opts.chain) {
      throw new OptinferError(
        'NOT_FOUND',
        `${what}: this node settles without a chain (local timer); start it with --chain litesvm or --rpc URL, or read a cluster with --rpc`,
      );
    }
    const client = opts.chain.client;
    return read(client).catch((e: unknown) => {
      if (isOptinferError(e)) throw e;
      throw new OptinferError(
        'UNAVAILABLE',
        `${what}: the node cannot read its chain: ${(e as Error).message}`,
      );
    });
  };

  app.get('/v1/chain/batches/:index', async (req) => {
    const raw = (req.params as { index: string }).index;
    if (!/^\d{1,20}$/.test(raw) || BigInt(raw) > U64_MAX)
      throw new OptinferError(
        'INVALID_BATCH_INDEX',
        `batch index: expected a non-negative integer, got ${show(raw)}`,
      );
    return onChain(`batch ${raw}`, (c) => chainBatchView(c, BigInt(raw)));
  });

  app.get('/v1/disputes', async (req) => {
    const open = (req.query as { open?: string }).open;
    if (open !== undefined && open !== 'true' && open !== 'false')
      throw new OptinferError('INVALID_INPUT', `open: expected true or false, got ${show(open)}`);
    return onChain('disputes', (c) => disputesView(c, { open: open === 'true' }));
  });

  /** `v` with its claims when it is one of the node's executors. */
  const withClaims = async <V extends OperatorView>(v: V): Promise<V> => {
    const claims = await opts.chain?.claims?.(v.owner).catch(() => undefined);
    return claims ? { ...v, claims } : v;
  };

  /** `?outstanding=true`: also what comes back to each key when its accounts close (more chain reads). */
  const outstandingQuery = (q: unknown) => {
    const v = (q as { outstanding?: string }).outstanding;
    if (v !== undefined && v !== 'true' && v !== 'false')
      throw new OptinferError('INVALID_INPUT', `outstanding: expected true or false, got ${show(v)}`);
    return { outstanding: v === 'true' };
  };

  app.get('/v1/operators', async (req) => {
    const o = outstandingQuery(req.query);
    const all = await onChain('operators', (c) => operatorsView(c, opts.chain?.roles?.(), o));
    return { ...all, operators: await Promise.all(all.operators.map(withClaims)) };
  });

  app.get('/v1/operators/:owner', async (req) => {
    const owner = ownerKey('operator', (req.params as { owner: string }).owner);
    const o = outstandingQuery(req.query);
    return withClaims(
      await onChain(`operator ${owner.toBase58()}`, (c) =>
        operatorStatusView(c, owner, opts.chain?.roles?.(), o),
      ),
    );
  });

  return app;
}

/** The files explorer/dist holds, by name, with their media types. */
const EXPLORER_ASSETS = new Map([
  ['index.html', 'text/html; charset=utf-8'],
  ['explorer.js', 'text/javascript; charset=utf-8'],
  ['explorer.css', 'text/css; charset=utf-8'],
]);
const EXPLORER_DIST = new URL('../explorer/dist/', import.meta.url);
const explorerCache = new Map<string, { type: string; body: Buffer }>();

/** One file of the built explorer (read once), or undefined when this checkout has no build. */
function explorerFile(name: string): { type: string; body: Buffer } | undefined {
  const type = EXPLORER_ASSETS.get(name);
  if (!type) return undefined;
  let f = explorerCache.get(name);
  if (!f) {
    try {
      f = { type, body: readFileSync(new URL(name, EXPLORER_DIST)) };
    } catch {
      return undefined;
    }
    explorerCache.set(name, f);
  }
  return f;
}

/** Passes an upload through, refusing it (INVALID_MODEL) as soon as its bytes stop looking like an ONNX model. */
async function* scanned(body: AsyncIterable<Uint8Array>, scan: ModelProtoScan): AsyncIterable<Uint8Array> {
  for await (const chunk of body) {
    scan.push(chunk);
    yield chunk;
  }
  scan.end();
}
