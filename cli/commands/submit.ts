// `optinfer submit`: register the model if given a file, submit a job, optionally wait for its final state.
import { existsSync, readFileSync } from 'node:fs';
import { OptinferError, isOptinferErrorCode } from '../../state/errors.ts';
import { parseInputsJson, encodeTensorsJson } from '../../state/tensor-json.ts';
import { isHash32 } from '../../state/types.ts';
import { verifyInclusion, type InclusionProof } from '../../state/job.ts';

interface SubmitOptions {
  model: string;
  input: string;
  url: string;
  /** Sent as `Authorization: Bearer KEY` with the upload and the job. */
  apiKey?: string;
  wait: boolean;
  timeoutMs: number;
}

const POLL_MS = 250;
const TERMINAL = new Set(['finalized', 'invalid', 'failed']);

async function call(url: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch {
    throw new OptinferError(
      'UNAVAILABLE',
      `cannot reach the sequencer at ${new URL(url).origin} (is \`npx optinfer dev\` running? pass --url)`,
    );
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Non-JSON bodies are reported as text.
  }
  if (res.status >= 400) {
    const err = (body as { error?: { code?: string; message?: string } })?.error;
    throw new OptinferError(
      isOptinferErrorCode(err?.code) ? err.code : 'REMOTE',
      `sequencer refused (HTTP ${res.status}): ${err?.message ?? text}`,
    );
  }
  return { status: res.status, body };
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    throw new OptinferError('INVALID_INPUT', `${what} '${path}': cannot be read`);
  }
}

export async function submitCommand(o: SubmitOptions): Promise<number> {
  const auth: Record<string, string> = o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {};
  const inputs = parseInputsJson(readFile(o.input, 'input file').toString('utf8'), `input file '${o.input}'`);
  let modelId: string;
  if (existsSync(o.model)) {
    const name = encodeURIComponent(
      o.model
        .split('/')
        .pop()!
        .replace(/\.onnx$/i, ''),
    );
    const r = await call(`${o.url}/v1/models?name=${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', ...auth },
      body: new Uint8Array(readFile(o.model, 'model file')),
    });
    modelId = (r.body as { modelId: string }).modelId;
  } else if (isHash32(o.model)) {
    modelId = o.model;
  } else {
    throw new OptinferError(
      'INVALID_INPUT',
      `--model: expected an ONNX file or a 64-hex model id, got '${o.model}' (no such file)`,
    );
  }
  const r = await call(`${o.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ modelId, inputs: encodeTensorsJson(inputs) }),
  });
  const { jobId } = r.body as { jobId: string };
  if (!o.wait) {
    process.stdout.write(JSON.stringify({ jobId, modelId }) + '\n');
    return 0;
  }
  process.stderr.write(`job ${jobId} accepted\n`);
  const deadline = Date.now() + o.timeoutMs;
  let last = '';
  for (;;) {
    const { body } = await call(`${o.url}/v1/jobs/${jobId}`);
    const job = body as { status: string; proof?: InclusionProof; batch?: { index: number } };
    if (job.status !== last) {
      last = job.status;
      process.stderr.write(
        `  ${new Date().toISOString()}  ${job.status}${job.batch ? ` (batch ${job.batch.index})` : ''}\n`,
      );
    }
    if (TERMINAL.has(job.status)) {
      const proofOk = job.proof ? verifyInclusion(job.proof) : false;
      process.stdout.write(JSON.stringify({ ...job, proofVerified: proofOk }, null, 2) + '\n');
      return job.status === 'finalized' && proofOk ? 0 : 1;
    }
    if (Date.now() > deadline) {
      process.stderr.write(
        `optinfer: gave up waiting after ${o.timeoutMs} ms; job ${jobId} is ${job.status}\n`,
      );
      return 1;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
