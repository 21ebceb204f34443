// Job ids, the 168-byte job record, and batches: the Merkle root over job records with inclusion proofs.
import { PublicKey } from '@solana/web3.js';
import { Tag, fromHex, hashHex, taggedHash, toHex, u64 } from './hash.ts';
import { MerkleTree, leafHash, rootFromProof, type MerkleProof } from './merkle.ts';
import type { BatchIndex, ExecutorId, Hash32, JobId, ModelId } from './types.ts';
import { OptinferError } from './errors.ts';

export const JOB_RECORD_BYTES = 168;

export interface JobRecord {
  jobId: JobId;
  modelId: ModelId;
  inputDigest: Hash32;
  outputDigest: Hash32;
  executor: ExecutorId;
  /** Fee in lamports. */
  fee: bigint;
}

export function jobId(sequence: bigint | number, modelId: ModelId, inputDigest: Hash32): JobId {
  return hashHex(taggedHash(Tag.JOB_ID, u64(sequence), fromHex(modelId, 32), fromHex(inputDigest, 32)));
}

export function executorBytes(e: ExecutorId): Uint8Array {
  try {
    return new PublicKey(e).toBytes();
  } catch (cause) {
    throw new OptinferError(
      'INVALID_EXECUTOR_ID',
      `executor: expected a base58 public key, got ${e}`,
      undefined,
      {
        cause,
      },
    );
  }
}

export function encodeJobRecord(r: JobRecord): Uint8Array {
  const out = new Uint8Array(JOB_RECORD_BYTES);
  out.set(fromHex(r.jobId, 32), 0);
  out.set(fromHex(r.modelId, 32), 32);
  out.set(fromHex(r.inputDigest, 32), 64);
  out.set(fromHex(r.outputDigest, 32), 96);
  out.set(executorBytes(r.executor), 128);
  out.set(u64(r.fee), 160);
  return out;
}

export function decodeJobRecord(b: Uint8Array): JobRecord {
  if (b.length !== JOB_RECORD_BYTES) {
    throw new OptinferError(
      'INVALID_INPUT',
      `job record: expected ${JOB_RECORD_BYTES} bytes, got ${b.length}`,
    );
  }
  const h = (o: number) => toHex(b.subarray(o, o + 32)) as Hash32;
  return {
    jobId: h(0),
    modelId: h(32),
    inputDigest: h(64),
    outputDigest: h(96),
    executor: new PublicKey(b.subarray(128, 160)).toBase58() as ExecutorId,
    fee: new DataView(b.buffer, b.byteOffset + 160, 8).getBigUint64(0, true),
  };
}

export function jobLeaf(r: JobRecord): Uint8Array {
  return leafHash(encodeJobRecord(r));
}

/** An inclusion proof in the JSON shape served by the API. */
export interface InclusionProof {
  batchIndex: BatchIndex;
  batchRoot: Hash32;
  jobCount: number;
  index: number;
  record: string;
  siblings: Hash32[];
}

export class Batch {
  readonly index: BatchIndex;
  readonly records: JobRecord[];
  readonly tree: MerkleTree;

  constructor(index: BatchIndex, records: JobRecord[]) {
    if (records.length === 0)
      throw new OptinferError('INVALID_INPUT', 'batch: expected at least one job, got none');
    this.index = index;
    this.records = records;
    this.tree = MerkleTree.fromLeafHashes(records.map(jobLeaf));
  }

  get root(): Hash32 {
    return hashHex(this.tree.root);
  }

  proof(position: number): InclusionProof {
    const p = this.tree.proof(position);
    return {
      batchIndex: this.index,
      batchRoot: this.root,
      jobCount: this.records.length,
      index: position,
      record: toHex(encodeJobRecord(this.records[position])),
      siblings: p.siblings.map((s) => hashHex(s)),
    };
  }
}

export function batchRoot(records: JobRecord[]): Hash32 {
  return hashHex(MerkleTree.fromLeafHashes(records.map(jobLeaf)).root);
}

/** Checks an inclusion proof from the API: the record is at `index` of the batch with that root. */
export function verifyInclusion(p: InclusionProof): boolean {
  const proof: MerkleProof = { index: p.index, siblings: p.siblings.map((s) => fromHex(s, 32)) };
  const r = rootFromProof(leafHash(fromHex(p.record, JOB_RECORD_BYTES)), proof, p.jobCount);
  return r !== null && toHex(r) === p.batchRoot;
}
