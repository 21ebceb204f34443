// What the node knows of a registered model: its id, interface and whether the referee can settle disputes on it.
import type { ModelId } from './types.ts';

export interface TensorSpec {
  name: string;
  dtype: string;
  /** null for a symbolic dimension. */
  dims: (number | null)[];
}

export interface ModelInfo {
  modelId: ModelId;
  name: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Every traced op can be recomputed exactly by the on-chain referee. */
  provable: boolean;
  unprovableOps: string[];
  sizeBytes: number;
  registeredAt: number;
}
