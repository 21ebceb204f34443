// Independent TypeScript implementation of the PROTOCOL.md commitments the program verifies (test side).
import { createHash, createPrivateKey, sign as edSign } from 'node:crypto';

export const CHUNK_BYTES = 256;
export const ZERO = Buffer.alloc(32);

export function sha(...parts: Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}
export const leafHash = (d: Uint8Array) => sha(Buffer.from([0]), d);
export const nodeHash = (l: Uint8Array, r: Uint8Array) => sha(Buffer.from([1]), l, r);

export function depth(n: number): number {
  let d = 0;
  while (2 ** d < n) d++;
  return d;
}

/** Levels of the padded tree; levels[0] = leaf hashes row, last = [root]. */
export function tree(leafHashes: Buffer[]): Buffer[][] {
  const row = leafHashes.slice();
  const p = 2 ** depth(leafHashes.length);
  while (row.length < p) row.push(ZERO);
  const levels = [row];
  let cur = row;
  while (cur.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < cur.length; i += 2) next.push(nodeHash(cur[i], cur[i + 1]));
    levels.push(next);
    cur = next;
  }
  return levels;
}
export const rootOf = (levels: Buffer[][]) => levels[levels.length - 1][0];
export function proof(levels: Buffer[][], index: number): Buffer[] {
  const sib: Buffer[] = [];
  for (let k = 0; k < levels.length - 1; k++) sib.push(levels[k][(index >> k) ^ 1]);
  return sib;
}

/** A batch tree node (PROTOCOL.md "Batch tree"): its hash and the sum of its leaves' record fees. */
export interface BatchNode {
  hash: Buffer;
  fee: bigint;
}
const le64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
};
/** H(0x09 || left || left fees || right || right fees). */
export const feeNodeHash = (l: BatchNode, r: BatchNode) =>
  sha(Buffer.from([9]), l.hash, le64(l.fee), r.hash, le64(r.fee));
/** Levels of the padded batch tree over (signed leaf, record fee); padding is (ZERO, 0). */
export function batchTree(leaves: BatchNode[]): BatchNode[][] {
  const row = leaves.slice();
  const p = 2 ** depth(leaves.length);
  while (row.length < p) row.push({ hash: ZERO, fee: 0n });
  const levels = [row];
  let cur = row;
  while (cur.length > 1) {
    const next: BatchNode[] = [];
    for (let i = 0; i < cur.length; i += 2)
      next.push({ hash: feeNodeHash(cur[i], cur[i + 1]), fee: cur[i].fee + cur[i + 1].fee });
    levels.push(next);
    cur = next;
  }
  return levels;
}
export const batchRoot = (levels: BatchNode[][]) => levels[levels.length - 1][0].hash;
/** The batch tree's fee sum: what an honest sequencer escrows. */
export const batchFees = (levels: BatchNode[][]) => levels[levels.length - 1][0].fee;
/** The siblings of leaf `index` and the fee sum under each, leaf row upwards. */
export function batchProof(
  levels: BatchNode[][],
  index: number,
): { siblings: Buffer[]; siblingFees: bigint[] } {
  const siblings: Buffer[] = [];
  const siblingFees: bigint[] = [];
  for (let k = 0; k < levels.length - 1; k++) {
    const s = levels[k][(index >> k) ^ 1];
    siblings.push(s.hash);
    siblingFees.push(s.fee);
  }
  return { siblings, siblingFees };
}
/** The record's fee (bytes 160..168, u64 LE). */
export const recordFee = (record: Buffer) => record.readBigUInt64LE(160);
/** The batch tree of signed records. */
export const recordTree = (records: Buffer[], signatures: Buffer[]) =>
  batchTree(records.map((r, j) => ({ hash: signedLeaf(r, signatures[j]), fee: recordFee(r) })));

export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6 } as const;
export const dtypeSize = (dt: number) => ({ 1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 9: 1 })[dt] as number;

export interface Tensor {
  dtype: number;
  dims: number[];
  bytes: Buffer;
}
export function chunks(bytes: Buffer): Buffer[] {
  if (bytes.length === 0) return [Buffer.alloc(0)];
  const out: Buffer[] = [];
  for (let s = 0; s < bytes.length; s += CHUNK_BYTES) out.push(bytes.subarray(s, s + CHUNK_BYTES));
  return out;
}
export function headerBytes(t: { dtype: number; dims: number[] }): Buffer {
  const b = Buffer.alloc(2 + 8 * t.dims.length);
  b[0] = t.dtype;
  b[1] = t.dims.length;
  t.dims.forEach((d, i) => b.writeBigUInt64LE(BigInt(d), 2 + 8 * i));
  return b;
}
export const chunkTree = (t: Tensor) => tree(chunks(t.bytes).map(leafHash));
export const digestFromRoot = (t: { dtype: number; dims: number[] }, root: Buffer) =>
  sha(Buffer.from([2]), headerBytes(t), root);
export const tensorDigest = (t: Tensor) => digestFromRoot(t, rootOf(chunkTree(t)));

export function tensorSetDigest(entries: [string, Buffer][]): Buffer {
  const sorted = entries.slice().sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  const parts: Buffer[] = [Buffer.from([5]), u32(sorted.length)];
  for (const [name, dig] of sorted) parts.push(u16(Buffer.byteLength(name)), Buffer.from(name), dig);
  return sha(...parts);
}

export const u16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
export const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
export const u64 = (v: number | bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
};

export const traceSeed = (modelId: Buffer, inputDigest: Buffer, profileHash: Buffer) =>
  sha(Buffer.from([3]), modelId, inputDigest, profileHash);
export const traceStep = (prev: Buffer, i: number, d: Buffer) => sha(Buffer.from([4]), prev, u32(i), d);
export function prefixes(seed: Buffer, layerDigests: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  let p = seed;
  layerDigests.forEach((d, i) => {
    p = traceStep(p, i, d);
    out.push(p);
  });
  return out;
}

/** The 168-byte job record. */
export function jobRecord(r: {
  jobId: Buffer;
  modelId: Buffer;
  inputDigest: Buffer;
  outputDigest: Buffer;
  executor: Uint8Array;
  fee: bigint;
}): Buffer {
  return Buffer.concat([
    r.jobId,
    r.modelId,
    r.inputDigest,
    r.outputDigest,
    Buffer.from(r.executor),
    u64(r.fee),
  ]);
}

/** Serialized tensor as the program reads it from proof buffers and check data. */
export const tensorBlob = (t: Tensor) => Buffer.concat([headerBytes(t), u32(t.bytes.length), t.bytes]);

/** A 24-byte op entry: u8 op, u8 n_inputs, 4 x u16 refs, 14 attribute bytes (docs/PROGRAM.md "Op entry"). */
export function opEntry(op: number, refs: number[], attrs: Uint8Array = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(24);
  b[0] = op;
  b[1] = refs.length;
  refs.forEach((r, i) => b.writeUInt16LE(r, 2 + 2 * i));
  b.set(attrs.subarray(0, 14), 10);
  return b;
}

/** The executor's result signature: Ed25519 over H("\xffoptinfer result" || record). */
export const RESULT_DOMAIN = Buffer.from('\xffoptinfer result', 'latin1');
export const resultDigest = (record: Uint8Array) => sha(RESULT_DOMAIN, record);
export function signRecord(record: Uint8Array, secretKey: Uint8Array): Buffer {
  const der = Buffer.concat([
    Buffer.from('302e020100300506032b657004220420', 'hex'),
    secretKey.subarray(0, 32),
  ]);
  return edSign(null, resultDigest(record), createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}
/** A job's leaf: H(0x00 || record || signature). */
export const signedLeaf = (record: Uint8Array, signature: Uint8Array) =>
  sha(Buffer.from([0]), record, signature);

/** The posted form of `inputs` answer_data takes (u32 count, then per tensor in name order: u16 nameLen, name, header, bytes). */
export function postInputs(inputs: [string, Tensor][]): Buffer {
  const sorted = inputs.slice().sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  const parts: Buffer[] = [u32(sorted.length)];
  for (const [name, t] of sorted) {
    const nb = Buffer.from(name, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16LE(nb.length);
    parts.push(len, nb, headerBytes(t), t.bytes);
  }
  return Buffer.concat(parts);
}
