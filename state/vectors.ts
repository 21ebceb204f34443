// Generates the shared test vectors (state/vectors.json) that the Rust program checks natively and in the SBF VM.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hashHex, sha256, toHex } from './hash.ts';
import { MerkleTree } from './merkle.ts';
import { CHUNK_BYTES, chunkTree, tensorDigest, type DType, type Tensor, DTYPE_CODES } from './tensor.ts';
import { traceCommitment } from './trace.ts';
import { Keypair } from '@solana/web3.js';
import { Batch, encodeJobRecord, jobId, signResult, type JobRecord } from './job.ts';
import type { BatchIndex, ExecutorId, Hash32, ModelId } from './types.ts';

export const VECTORS_PATH = fileURLToPath(new URL('./vectors.json', import.meta.url));

/** Deterministic bytes: sha256 counter stream, so the vectors never depend on a random seed. */
function stream(label: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0, block = 0; i < n; block++) {
    const b = sha256(new TextEncoder().encode(`${label}/${block}`));
    out.set(b.subarray(0, Math.min(32, n - i)), i);
    i += 32;
  }
  return out;
}
const h = (s: string): Hash32 => hashHex(sha256(new TextEncoder().encode(s)));

export function buildVectors(): unknown {
  const merkle = [1, 2, 3, 4, 5, 8, 13].map((n) => {
    const leaves = Array.from({ length: n }, (_, i) => stream(`merkle-${n}-${i}`, (i * 7) % 50));
    const t = MerkleTree.fromData(leaves);
    return {
      leaves: leaves.map(toHex),
      root: toHex(t.root),
      proofs: leaves.map((_, i) => ({ index: i, siblings: t.proof(i).siblings.map(toHex) })),
    };
  });

  const shapes: [DType, number[]][] = [
    ['int8', [1, 16]],
    ['int32', [1, 16]],
    ['int32', [4, 64]],
    ['float32', [3, 100]],
    ['uint8', [0]],
    ['int64', []],
    ['float32', [2, 3, 4, 5]],
  ];
  const tensors = shapes.map(([dtype, dims], k) => {
    const size = { int8: 1, uint8: 1, int32: 4, float32: 4, int64: 8 }[dtype as string] ?? 1;
    const t: Tensor = { dtype, dims, data: stream(`tensor-${k}`, dims.reduce((a, b) => a * b, 1) * size) };
    return {
      dtype: DTYPE_CODES[dtype],
      dims,
      bytes: toHex(t.data),
      chunkRoot: toHex(chunkTree(t.data).root),
      digest: tensorDigest(t),
    };
  });

  const traces = [1, 2, 8, 13].map((n) => {
    const input = {
      modelId: h(`model-${n}`) as ModelId,
      inputDigest: h(`input-${n}`),
      profileHash: h('profile'),
    };
    const layerDigests = Array.from({ length: n }, (_, i) => h(`trace-${n}-layer-${i}`));
    const c = traceCommitment({ ...input, layerDigests });
    return { ...input, layerDigests, seed: c.seed, prefixes: c.prefixes, root: c.root };
  });

  // A fixed executor key (from the seed 0x01..0x20; Ed25519 is deterministic), so the vector file is stable.
  const executorKey = Keypair.fromSeed(new Uint8Array(32).map((_, i) => i + 1));
  const batches = [1, 3, 6].map((n, b) => {
    const records: JobRecord[] = Array.from({ length: n }, (_, i) => {
      const modelId = h(`batch-model-${b}`) as ModelId;
      const inputDigest = h(`batch-${b}-input-${i}`);
      const r = {
        jobId: jobId(i, modelId, inputDigest),
        modelId,
        inputDigest,
        outputDigest: h(`batch-${b}-output-${i}`),
        executor: executorKey.publicKey.toBase58() as ExecutorId,
        fee: BigInt(1000 + i),
      };
      return signResult(r, executorKey.secretKey);
    });
    const batch = new Batch(b as BatchIndex, records);
    return {
      records: records.map((r) => toHex(encodeJobRecord(r))),
      signatures: records.map((r) => r.signature),
      root: batch.root,
      feeSum: batch.feeSum.toString(),
      proofs: records.map((_, i) => {
        const p = batch.proof(i);
        return { index: i, siblings: p.siblings, siblingFees: p.siblingFees };
      }),
    };
  });

  return { chunkBytes: CHUNK_BYTES, merkle, tensors, traces, batches };
}

export function vectorsJson(): string {
  return JSON.stringify(buildVectors(), null, 1) + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(VECTORS_PATH, vectorsJson());
  console.log(`wrote ${VECTORS_PATH}`);
}
