// The sequencer's HTTP API (fastify): models, jobs with results and inclusion proofs, batches, health and metrics.
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { OptinferError, httpStatus, isOptinferError, type OptinferErrorCode } from '../state/errors.ts';
import { decodeInputsJson, encodeTensorsJson } from '../state/tensor-json.ts';
import { asBatchIndex, asJobId, asModelId } from '../state/types.ts';
import type { Logger } from '../common/log.ts';
import type { PromMetrics } from '../common/metrics.ts';
import type { Sequencer } from './sequencer.ts';

export interface HttpConfig {
  /** Largest job request body accepted (JSON with inline tensors). */
  maxJobBytes: number;
  /** Largest model upload accepted. */
  maxModelBytes: number;
}

export const DEFAULT_HTTP_CONFIG: HttpConfig = {
  maxJobBytes: 16 * 1024 * 1024,
  maxModelBytes: 256 * 1024 * 1024,
};

/** The error body; the status is the code's (state/errors.ts) unless fastify already chose a 4xx. */
function sendError(
  reply: FastifyReply,
  code: OptinferErrorCode,
  message: string,
  status = httpStatus(code),
): FastifyReply {
  return reply.code(status).send({ error: { code, message } });
}

export function buildHttp(opts: {
  sequencer: Sequencer;
  config?: Partial<HttpConfig>;
  logger?: Logger;
  metrics?: PromMetrics;
}): FastifyInstance {
  return build(opts) as unknown as FastifyInstance;
}

function build(opts: {
  sequencer: Sequencer;
  config?: Partial<HttpConfig>;
  logger?: Logger;
  metrics?: PromMetrics;
}) {
  const cfg = { ...DEFAULT_HTTP_CONFIG, ...opts.config };
  const seq = opts.sequencer;
  // Fastify's own request logging stays off: errors are logged below, and the node logs what matters.
  const app = Fastify({ logger: false, bodyLimit: cfg.maxJobBytes });

  app.addContentTypeParser(
    ['application/octet-stream', 'application/onnx'],
    { parseAs: 'buffer', bodyLimit: cfg.maxModelBytes },
    (_req, body, done) => done(null, body),
  );

  app.setErrorHandler((err, _req, reply) => {
    if (isOptinferError(err)) return sendError(reply, err.code, err.message);
    const e = err as { statusCode?: number; code?: string; message: string };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendError(
        reply,
        'PAYLOAD_TOO_LARGE',
        `request body: expected at most ${cfg.maxJobBytes} bytes for a job (${cfg.maxModelBytes} for a model)`,
      );
    }
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return sendError(
        reply,
        'UNSUPPORTED_MEDIA_TYPE',
        'expected Content-Type application/json for jobs, application/octet-stream for models',
      );
    }
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return sendError(reply, 'INVALID_REQUEST', e.message, e.statusCode);
    }
    opts.logger?.error({ err: e.message }, 'internal error');
    return sendError(reply, 'INTERNAL', 'internal error; see the node log');
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 'NOT_FOUND', `no route ${req.method} ${req.url}`));

  app.get('/healthz', async () => ({ ok: true, ...seq.stats() }));

  app.get('/metrics', async (_req, reply) => {
    if (!opts.metrics) return sendError(reply, 'NOT_FOUND', 'metrics are disabled');
    reply.header('content-type', opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });

  app.post('/v1/models', async (req, reply) => {
    const body = req.body;
    if (!Buffer.isBuffer(body) || body.length === 0) {
      throw new OptinferError(
        'INVALID_MODEL',
        'model: expected the ONNX file bytes as the request body (Content-Type: application/octet-stream)',
      );
    }
    const q = req.query as { name?: string };
    const name = typeof q.name === 'string' && q.name.length > 0 ? q.name.slice(0, 128) : 'model';
    const info = await seq.registerModel(new Uint8Array(body), name);
    return reply.code(201).send(info);
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
    reply.header('content-type', 'application/octet-stream');
    return Buffer.from(seq.modelBytes(id));
  });

  app.post('/v1/jobs', async (req, reply) => {
    const body = req.body as { modelId?: unknown; inputs?: unknown; fee?: unknown } | undefined;
    if (!body || typeof body !== 'object') {
      throw new OptinferError(
        'INVALID_INPUT',
        'job: expected a JSON object {"modelId": "...", "inputs": {...}}',
      );
    }
    const modelId = asModelId(body.modelId, 'modelId');
    if (body.inputs === undefined)
      throw new OptinferError('INVALID_INPUT', 'inputs: missing, expected {"NAME": {dtype, dims, data}}');
    const inputs = decodeInputsJson({ inputs: body.inputs });
    let fee: bigint | undefined;
    if (body.fee !== undefined) {
      if ((typeof body.fee !== 'number' && typeof body.fee !== 'string') || !/^\d+$/.test(String(body.fee))) {
        throw new OptinferError(
          'INVALID_INPUT',
          `fee: expected a non-negative integer of lamports, got ${JSON.stringify(body.fee)}`,
        );
      }
      fee = BigInt(body.fee);
    }
    const { jobId } = await seq.submit({ modelId, inputs, fee });
    return reply.code(202).send({ jobId });
  });

  app.get('/v1/jobs/:id', async (req) => {
    const id = asJobId((req.params as { id: string }).id, 'job id');
    const q = req.query as { outputs?: string; proof?: string };
    const view = await seq.getJob(id, { outputs: q.outputs !== 'false', proof: q.proof !== 'false' });
    if (!view) throw new OptinferError('NOT_FOUND', `job ${id} is unknown`);
    return { ...view, outputs: view.outputs && encodeTensorsJson(view.outputs) };
  });

  app.get('/v1/jobs/:id/inputs', async (req) => {
    const id = asJobId((req.params as { id: string }).id, 'job id');
    const inputs = await seq.getInputs(id);
    if (!inputs) throw new OptinferError('NOT_FOUND', `job ${id} is unknown`);
    return { inputs: encodeTensorsJson(inputs) };
  });

  app.get('/v1/batches', async () => seq.listBatches());

  app.get('/v1/batches/:index', async (req) => {
    const raw = (req.params as { index: string }).index;
    const index = asBatchIndex(/^\d+$/.test(raw) ? Number(raw) : raw, 'batch index');
    const b = await seq.getBatch(index);
    if (!b) throw new OptinferError('NOT_FOUND', `batch ${index} does not exist yet`);
    return b;
  });

  return app;
}
