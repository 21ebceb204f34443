// `optinfer trace --model M.onnx --input IN.json`: runs the model under the canonical profile and prints its layer trace.
import { loadModelFile } from '../../executor/model.ts';
import { releaseTraceCache, traceModel, type TraceResult } from '../../executor/trace.ts';
import { printJson, readInputsFile, reportError, requireOption } from '../../executor/cli-support.ts';
import { encodeTensorsJson } from '../../state/tensor-json.ts';
import { createProgress } from '../../common/progress.ts';

/** The JSON a trace prints; `verify --claim` accepts it back as a claim. */
export function traceJson(modelName: string, t: TraceResult): Record<string, unknown> {
  return {
    modelId: t.modelId,
    modelName,
    profile: t.profile,
    profileHash: t.profileHash,
    inputDigest: t.inputDigest,
    outputDigest: t.outputDigest,
    traceRoot: t.traceRoot,
    layerCount: t.layerCount,
    branches: t.branches,
    layers: t.layers.map((l) => ({
      index: l.index,
      name: l.name,
      op: l.op,
      digest: l.digest,
      dtype: l.dtype,
      dims: l.dims,
    })),
    outputs: encodeTensorsJson(t.outputs),
  };
}

export async function traceCommand(opts: { model: string; input: string }): Promise<number> {
  try {
    const modelPath = requireOption(opts.model, '--model', 'trace');
    const inputPath = requireOption(opts.input, '--input', 'trace');
    const model = await loadModelFile(modelPath);
    try {
      const inputs = await readInputsFile(inputPath);
      // The JSON goes to stdout; how far the trace is goes to stderr (a bar on a terminal, else lines).
      const progress = createProgress({ prefix: 'optinfer trace: ' });
      printJson(traceJson(model.name, await traceModel(model, inputs, { progress })));
      return 0;
    } finally {
      await releaseTraceCache(model);
      await model.close();
    }
  } catch (e) {
    return reportError(e, 'trace');
  }
}
