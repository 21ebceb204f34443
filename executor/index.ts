// The executor's public API for the sequencer, challenger and CLI: load, validate, run, trace.
export {
  loadModel,
  loadModelFile,
  modelIdOf,
  ModelRegistry,
  sessionOptions,
  PROVABLE_OPS,
  STRUCTURAL_OPS,
  UNTRACEABLE_OPS,
  type LoadedModel,
  type LoadOptions,
  type ModelSummary,
} from './model.ts';
export { validateInputs } from './validate.ts';
export { runModel, type RunResult } from './run.ts';
export {
  traceModel,
  releaseTraceCache,
  canonicalOrder,
  type TraceLayer,
  type TraceOptions,
  type TraceResult,
} from './trace.ts';
export type { ValueSpec, ModelInfo } from './onnx/graph.ts';
