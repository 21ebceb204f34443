// `optinfer verify --model M.onnx --input IN.json --claim CLAIM.json`: re-executes and checks a claimed trace or output.
import { loadModelFile } from '../../executor/model.ts';
import { runModel } from '../../executor/run.ts';
import { releaseTraceCache, traceModel } from '../../executor/trace.ts';
import {
  parseJsonText,
  printJson,
  readInputsFile,
  readTextFile,
  reportError,
  requireOption,
} from '../../executor/cli-support.ts';
import { OptinferError } from '../../state/errors.ts';
import { tensorSetDigest } from '../../state/tensor.ts';
import { asHash32, type Hash32 } from '../../state/types.ts';

/** What verify reads from a claim: a full trace JSON, or just an output digest. */
export interface Claim {
  modelId?: Hash32;
  inputDigest?: Hash32;
  profileHash?: Hash32;
  outputDigest: Hash32;
  traceRoot?: Hash32;
  layers?: { index: number; digest: Hash32 }[];
}

export function parseClaim(doc: unknown, what: string): Claim {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new OptinferError('INVALID_INPUT', `${what}: expected a JSON object with at least outputDigest`);
  }
  const c = doc as Record<string, unknown>;
  if (c.outputDigest === undefined) throw new OptinferError('INVALID_INPUT', `${what}: missing outputDigest`);
  const hash = (v: unknown, field: string) => {
    try {
      return asHash32(v, `${what}: ${field}`);
    } catch (e) {
      throw new OptinferError('INVALID_INPUT', (e as Error).message);
    }
  };
  const claim: Claim = { outputDigest: hash(c.outputDigest, 'outputDigest') };
  for (const k of ['modelId', 'inputDigest', 'profileHash', 'traceRoot'] as const) {
    if (c[k] !== undefined) claim[k] = hash(c[k], k);
  }
  if (c.layers !== undefined) {
    if (!Array.isArray(c.layers))
      throw new OptinferError('INVALID_INPUT', `${what}: expected layers to be an array`);
    claim.layers = c.layers.map((l: unknown, i: number) => {
      const digest = l !== null && typeof l === 'object' ? (l as { digest?: unknown }).digest : undefined;
      const index = l !== null && typeof l === 'object' ? (l as { index?: unknown }).index : undefined;
      if (index !== undefined && index !== i) {
        throw new OptinferError(
          'INVALID_INPUT',
          `${what}: layers[${i}] has index ${String(index)}, expected ${i}`,
        );
      }
      return { index: i, digest: hash(digest, `layers[${i}].digest`) };
    });
  }
  return claim;
}

function mismatch(what: string, claimed: string, actual: string, flag: string): OptinferError {
  return new OptinferError(
    'INVALID_INPUT',
    `claim: ${what} is ${claimed}, but ${flag} gives ${actual}; the claim is about something else`,
  );
}

export async function verifyCommand(opts: { model: string; input: string; claim: string }): Promise<number> {
  try {
    const modelPath = requireOption(opts.model, '--model', 'verify');
    const inputPath = requireOption(opts.input, '--input', 'verify');
    const claimPath = requireOption(opts.claim, '--claim', 'verify');
    const claimWhat = `claim file '${claimPath}'`;
    const claim = parseClaim(
      parseJsonText(await readTextFile(claimPath, 'claim file'), claimWhat),
      claimWhat,
    );
    const model = await loadModelFile(modelPath);
    try {
      const inputs = await readInputsFile(inputPath);
      // Claims about another model, input or profile cannot be judged by this re-execution: that is a usage error.
      if (claim.modelId && claim.modelId !== model.modelId)
        throw mismatch('modelId', claim.modelId, model.modelId, '--model');
      if (claim.profileHash && claim.profileHash !== model.profileHash) {
        throw mismatch('profileHash', claim.profileHash, model.profileHash, 'the canonical profile');
      }
      if (claim.inputDigest) {
        const inputDigest = tensorSetDigest(inputs);
        if (claim.inputDigest !== inputDigest)
          throw mismatch('inputDigest', claim.inputDigest, inputDigest, '--input');
      }
      if (!claim.layers) {
        const run = await runModel(model, inputs);
        if (run.outputDigest !== claim.outputDigest) {
          printJson({
            valid: false,
            firstDivergentLayer: null,
            reason: 'output digest differs',
            claimed: claim.outputDigest,
            actual: run.outputDigest,
          });
          return 1;
        }
        printJson({ valid: true, modelId: model.modelId, outputDigest: run.outputDigest });
        return 0;
      }
      const t = await traceModel(model, inputs);
      const n = Math.max(t.layers.length, claim.layers.length);
      for (let k = 0; k < n; k++) {
        const actual = t.layers[k]?.digest;
        const claimed = claim.layers[k]?.digest;
        if (actual !== claimed) {
          printJson({
            valid: false,
            firstDivergentLayer: k,
            reason:
              actual === undefined || claimed === undefined ? 'layer counts differ' : 'layer digest differs',
            layer: t.layers[k] ? { name: t.layers[k].name, op: t.layers[k].op } : null,
            claimed: claimed ?? null,
            actual: actual ?? null,
          });
          return 1;
        }
      }
      if (t.outputDigest !== claim.outputDigest || (claim.traceRoot && claim.traceRoot !== t.traceRoot)) {
        const what = t.outputDigest !== claim.outputDigest ? 'outputDigest' : 'traceRoot';
        printJson({
          valid: false,
          firstDivergentLayer: null,
          reason: `every layer agrees but ${what} differs`,
          claimed: what === 'outputDigest' ? claim.outputDigest : claim.traceRoot,
          actual: what === 'outputDigest' ? t.outputDigest : t.traceRoot,
        });
        return 1;
      }
      printJson({
        valid: true,
        modelId: model.modelId,
        outputDigest: t.outputDigest,
        traceRoot: t.traceRoot,
        layerCount: t.layerCount,
      });
      return 0;
    } finally {
      await releaseTraceCache(model);
      await model.close();
    }
  } catch (e) {
    return reportError(e, 'verify');
  }
}
