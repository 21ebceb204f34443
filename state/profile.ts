// The execution profile: every onnxruntime setting that changes output bits, recorded and hashed.
import { Tag, hashHex, taggedHash } from './hash.ts';
import type { Hash32 } from './types.ts';

export interface ExecutionProfile {
  runtime: 'onnxruntime-node';
  runtimeVersion: string;
  executionProvider: 'cpu';
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  intraOpNumThreads: number;
  interOpNumThreads: number;
  executionMode: 'sequential' | 'parallel';
}

/** The profile every honest party runs in exact mode (DESIGN.md, "Determinism"). */
export const CANONICAL_PROFILE: Readonly<ExecutionProfile> = Object.freeze({
  runtime: 'onnxruntime-node',
  runtimeVersion: '1.30.0',
  executionProvider: 'cpu',
  graphOptimizationLevel: 'disabled',
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
});

/** JSON with keys sorted at every level and no whitespace. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v as object).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function profileHash(p: ExecutionProfile): Hash32 {
  return hashHex(taggedHash(Tag.PROFILE, Buffer.from(canonicalJson(p), 'utf8')));
}
