// What a zero-knowledge proof of the same inference costs (EZKL, halo2/KZG) next to optinfer's own cost for it
// (a plain onnxruntime run, and a layer-trace capture). Python side: bench/ezkl/prove.py, venv from bench/ezkl/setup.sh.
//
//   bash bench/ezkl/setup.sh && node --import tsx bench/ezkl.ts
//
// Environment: OPTINFER_EZKL_PYTHON (default ~/.cache/optinfer/ezkl-venv/bin/python), OPTINFER_EZKL_WORK (models,
// keys, proofs, SRS; default ~/.cache/optinfer/ezkl-work), OPTINFER_EZKL_ONLY (comma-separated model names),
// OPTINFER_EZKL_TIMEOUT (seconds per model, default 900), OPTINFER_EZKL_RESULTS (a JSONL file of an earlier
// prove.py run to reuse instead of proving again; the onnxruntime side is always measured afresh). Each proving run
// saves its raw results to $OPTINFER_EZKL_WORK/results.jsonl.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelRegistry, type LoadedModel } from '../executor/model.ts';
import { runModel } from '../executor/run.ts';
import { releaseTraceCache, traceModel } from '../executor/trace.ts';
import { tensorOf } from '../executor/onnx/builder.ts';
import type { DType, Tensor } from '../state/tensor.ts';

export interface Row {
  model: string;
  layers: number;
  params: number;
  'ezkl logrows': number | null;
  'ezkl setup s': number | null;
  'ezkl prove s': number | null;
  'ezkl verify s': number | null;
  'ezkl peak RSS MB': number | null;
  'proof bytes': number | null;
  'ort run ms': number | null;
  'trace ms': number | null;
  'prove/run ratio': number | null;
  note: string;
}

/** One line of prove.py output (only the fields used here). */
export interface EzklResult {
  model: string;
  status: 'ok' | 'error';
  layers?: number;
  params?: number;
  ezkl?: string;
  stage?: string;
  error?: string;
  stderr?: string;
  default_logrows?: number;
  default_input_scale?: number;
  calibration_scales?: number[];
  logrows?: number;
  num_rows?: number;
  t?: Partial<
    Record<
      'gen_settings' | 'calibrate' | 'compile' | 'gen_srs' | 'setup' | 'witness' | 'prove' | 'verify',
      number
    >
  >;
  peak_rss_mb?: number;
  proof_bytes?: number;
  pk_bytes?: number;
  vk_bytes?: number;
  verified?: boolean;
  max_abs_err?: number;
  max_abs_ref?: number;
  wall_s?: number;
}

interface ManifestEntry {
  name: string;
  onnx: string;
  input: string;
  dims: number[];
  dtype: DType;
  layers: number;
  params: number;
  source: string;
  note: string;
}

const SCRIPT = fileURLToPath(new URL('./ezkl/prove.py', import.meta.url));
const PYTHON = process.env.OPTINFER_EZKL_PYTHON ?? join(homedir(), '.cache/optinfer/ezkl-venv/bin/python');
const WORK = process.env.OPTINFER_EZKL_WORK ?? join(homedir(), '.cache/optinfer/ezkl-work');
const say = (m: string) => process.stderr.write(`  … ${m}\n`);
/** The raw prove.py results of the last ezklRows() call. */
export let lastEzklResults: EzklResult[] = [];

/** Why EZKL cannot run here, or undefined when it can. */
function ezklUnavailable(): string | undefined {
  if (!existsSync(PYTHON))
    return `no python at ${PYTHON} (run bash bench/ezkl/setup.sh or set OPTINFER_EZKL_PYTHON)`;
  const r = spawnSync(PYTHON, ['-c', 'import ezkl, onnx; print(ezkl.__version__)'], { encoding: 'utf8' });
  if (r.status !== 0)
    return `${PYTHON} cannot import ezkl/onnx: ${(r.stderr || String(r.error)).trim().slice(-500)}`;
  return undefined;
}

function parseLines(text: string): EzklResult[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as EzklResult);
}

/** Runs prove.py (each model proved in its own subprocess), echoing one progress line per model to stderr. */
function runProver(): Promise<EzklResult[]> {
  const args = [SCRIPT, 'run', WORK, '--timeout', process.env.OPTINFER_EZKL_TIMEOUT ?? '900'];
  if (process.env.OPTINFER_EZKL_ONLY) args.push('--only', process.env.OPTINFER_EZKL_ONLY);
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const l of lines.filter((x) => x.startsWith('{'))) {
        const r = JSON.parse(l) as EzklResult;
        say(
          r.status === 'ok'
            ? `ezkl ${r.model}: logrows ${r.logrows}, prove ${r.t?.prove}s, verified ${r.verified}`
            : `ezkl ${r.model}: failed at ${r.stage}: ${(r.stderr || r.error || '').split('\n')[0]}`,
        );
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`prove.py exited ${code}: ${err.slice(-2000)}`));
      else resolve(parseLines(out));
    });
  });
}

/** Mean milliseconds per call over `n` calls. */
async function timeIt(n: number, fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - t0) / n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const ROUNDS = 7;

/** Median over ROUNDS blocks of ~50 ms each of the per-call mean, in ms. */
async function measure(fn: () => Promise<unknown>): Promise<number> {
  await timeIt(20, fn);
  const n = Math.max(5, Math.min(5000, Math.round(50 / Math.max(0.001, await timeIt(10, fn)))));
  const t: number[] = [];
  for (let r = 0; r < ROUNDS; r++) t.push(await timeIt(n, fn));
  return median(t);
}

interface OrtSide {
  run: number | null;
  trace: number | null;
  note: string;
}

async function measureOrt(reg: ModelRegistry, m: ManifestEntry): Promise<OrtSide> {
  const values = (
    JSON.parse(readFileSync(join(WORK, `${m.name}.input.json`), 'utf8')) as { input_data: number[][] }
  ).input_data[0];
  const inputs: Record<string, Tensor> = { [m.input]: tensorOf(m.dtype, m.dims, values) };
  let model: LoadedModel;
  try {
    model = await reg.register(new Uint8Array(readFileSync(m.onnx)), { name: m.name });
  } catch (e) {
    return { run: null, trace: null, note: `ort load failed: ${(e as Error).message}` };
  }
  const run = await measure(() => runModel(model, inputs));
  let trace: number | null = null;
  let note = '';
  try {
    trace = await measure(() => traceModel(model, inputs, { keepTensors: false }));
  } catch (e) {
    note = `trace failed: ${(e as Error).message}`;
  }
  await releaseTraceCache(model);
  return { run, trace, note };
}

const round = (x: number | undefined | null, d: number): number | null =>
  x === undefined || x === null ? null : Number(x.toFixed(d));

export async function ezklRows(): Promise<Row[] | { skipped: string }> {
  const why = ezklUnavailable();
  if (why) return { skipped: why };
  let results: EzklResult[];
  if (process.env.OPTINFER_EZKL_RESULTS) {
    results = parseLines(readFileSync(process.env.OPTINFER_EZKL_RESULTS, 'utf8'));
    // The manifest (models + inputs) must exist for the onnxruntime side.
    const b = spawnSync(PYTHON, [SCRIPT, 'build', WORK], { encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`prove.py build failed: ${b.stderr}`);
  } else {
    say(`proving with ${PYTHON} into ${WORK} (one subprocess per model)`);
    results = await runProver();
    // Raw prove.py output, reusable with OPTINFER_EZKL_RESULTS.
    writeFileSync(join(WORK, 'results.jsonl'), results.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }
  lastEzklResults = results;
  const manifest = JSON.parse(readFileSync(join(WORK, 'models.json'), 'utf8')) as ManifestEntry[];
  const byName = new Map(results.map((r) => [r.model, r]));
  const reg = new ModelRegistry();
  const rows: Row[] = [];
  try {
    for (const m of manifest) {
      const z = byName.get(m.name);
      if (!z) continue;
      say(`onnxruntime ${m.name}`);
      const ort = await measureOrt(reg, m);
      const ok = z.status === 'ok';
      const notes: string[] = [];
      if (!ok)
        notes.push(`ezkl failed at ${z.stage}: ${(z.stderr || z.error || '').split('\n')[0].slice(0, 120)}`);
      if (ok && z.verified !== true) notes.push('proof did NOT verify');
      if (ok && z.max_abs_err !== undefined)
        notes.push(`max|err| ${z.max_abs_err.toPrecision(2)} of max|y| ${z.max_abs_ref?.toPrecision(3)}`);
      if (ok && z.default_logrows !== undefined)
        notes.push(
          `scales ${JSON.stringify(z.calibration_scales)}; default calibration: logrows ${z.default_logrows}`,
        );
      if (ort.note) notes.push(ort.note.slice(0, 120));
      rows.push({
        model: m.name,
        layers: m.layers,
        params: m.params,
        'ezkl logrows': ok ? (z.logrows ?? null) : null,
        'ezkl setup s': ok ? round(z.t?.setup, 2) : null,
        'ezkl prove s': ok ? round(z.t?.prove, 2) : null,
        'ezkl verify s': ok ? round(z.t?.verify, 3) : null,
        'ezkl peak RSS MB': ok ? round(z.peak_rss_mb, 0) : null,
        'proof bytes': ok ? (z.proof_bytes ?? null) : null,
        'ort run ms': round(ort.run, 4),
        'trace ms': round(ort.trace, 4),
        'prove/run ratio':
          ok && z.t?.prove !== undefined && ort.run ? Math.round((z.t.prove * 1000) / ort.run) : null,
        note: notes.join('; '),
      });
    }
  } finally {
    await reg.close();
  }
  return rows;
}

/** Per-stage detail of the EZKL side (seconds), for the record. */
export function ezklDetail(results: EzklResult[]): Record<string, unknown>[] {
  return results.map((r) => ({
    model: r.model,
    status: r.status,
    rows: r.num_rows ?? null,
    'settings+calibrate s': round((r.t?.gen_settings ?? 0) + (r.t?.calibrate ?? 0), 2),
    'compile s': round(r.t?.compile, 3),
    'gen_srs s': round(r.t?.gen_srs, 2),
    'witness s': round(r.t?.witness, 3),
    'pk MB': round(r.pk_bytes !== undefined ? r.pk_bytes / 2 ** 20 : null, 1),
    'vk KB': round(r.vk_bytes !== undefined ? r.vk_bytes / 1024 : null, 1),
    'wall s': r.wall_s,
  }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  const rows = await ezklRows();
  if ('skipped' in rows) {
    console.log(`ezkl benchmark skipped: ${rows.skipped}`);
  } else {
    const v = spawnSync(PYTHON, ['-c', 'import ezkl, sys; print(ezkl.__version__, sys.version.split()[0])'], {
      encoding: 'utf8',
    }).stdout.trim();
    console.log(
      `ezkl ${v.split(' ')[0]} (python ${v.split(' ')[1]}), node ${process.version}, work dir ${WORK}`,
    );
    console.table(rows);
    console.table(ezklDetail(lastEzklResults));
    const jsonl = process.env.OPTINFER_EZKL_RESULTS;
    if (jsonl) console.log(`(EZKL figures read from ${jsonl})`);
    console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
}
