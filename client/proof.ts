// Inclusion proofs checked the way the sequencer builds them (docs/PROTOCOL.md), in plain JS: SHA-256 by @noble/hashes, no node: imports.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { InclusionProof, JobRecordFields } from './types.ts';

/**
 * Domain tags: a leaf is H(0x00 || data); a batch tree node H(0x09 || left || left fees || right || right
 * fees), each side's hash with the sum of the record fees under it (u64 little-endian).
 */
const TAG_LEAF = 0x00;
const TAG_FEE_NODE = 0x09;
const U64_MAX = 2n ** 64n - 1n;
export const JOB_RECORD_BYTES = 168;
export const SIGNATURE_BYTES = 64;
const ZERO32 = new Uint8Array(32);

/** Bytes of a hex string of exactly `bytes` bytes, or null when it is not that. */
function hexOf(hex: unknown, bytes: number): Uint8Array | null {
  if (typeof hex !== 'string' || hex.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(hex)) return null;
  return hexToBytes(hex);
}

function tagged(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let n = 1;
  for (const p of parts) n += p.length;
  const buf = new Uint8Array(n);
  buf[0] = tag;
  let off = 1;
  for (const p of parts) {
    buf.set(p, off);
    off += p.length;
  }
  return sha256(buf);
}

/** The batch leaf of a signed job record: H(0x00 || record || signature). */
export function jobLeafHash(record: Uint8Array, signature: Uint8Array): Uint8Array {
  return tagged(TAG_LEAF, record, signature);
}

function le64(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

/** A batch tree node: its hash and the sum of the record fees under it. */
export interface BatchNode {
  hash: Uint8Array;
  fee: bigint;
}

/** The parent of two batch tree nodes; its fee sum saturates at 2^64 - 1, as the program's does. */
export function nodeHash(left: BatchNode, right: BatchNode): BatchNode {
  const fee = left.fee + right.fee;
  return {
    hash: tagged(TAG_FEE_NODE, left.hash, le64(left.fee), right.hash, le64(right.fee)),
    fee: fee > U64_MAX ? U64_MAX : fee,
  };
}

/** Levels above the leaf row for n leaves: ceil(log2(n)), 0 for one leaf. */
export function treeDepth(n: number): number {
  let d = 0;
  while (2 ** d < n) d++;
  return d;
}

/** The batch tree's root over its leaves, padded with (zero hash, 0) to a power of two (for tests and small batches). */
export function merkleRoot(leaves: BatchNode[]): BatchNode {
  if (leaves.length === 0) throw new RangeError('merkleRoot: expected at least one leaf');
  let row = leaves.slice();
  while (row.length < 2 ** treeDepth(leaves.length)) row.push({ hash: ZERO32, fee: 0n });
  while (row.length > 1) {
    const next: BatchNode[] = [];
    for (let i = 0; i < row.length; i += 2) next.push(nodeHash(row[i], row[i + 1]));
    row = next;
  }
  return row[0];
}

/** A decimal u64 of lamports, or null. */
function lamportsOf(v: unknown): bigint | null {
  if (typeof v !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(v)) return null;
  const n = BigInt(v);
  return n <= U64_MAX ? n : null;
}

/** Why a proof does not hold, or null when it does: its leaf, walked up its siblings, gives its batch root. */
export function inclusionProofError(p: InclusionProof): string | null {
  if (!p || typeof p !== 'object') return 'proof: expected an object';
  if (!Number.isSafeInteger(p.jobCount) || p.jobCount < 1)
    return `jobCount: expected a positive integer, got ${p.jobCount}`;
  if (!Number.isSafeInteger(p.index) || p.index < 0 || p.index >= p.jobCount)
    return `index: expected 0..${p.jobCount - 1}, got ${p.index}`;
  const record = hexOf(p.record, JOB_RECORD_BYTES);
  if (!record) return `record: expected ${JOB_RECORD_BYTES} bytes of hex`;
  const signature = hexOf(p.signature, SIGNATURE_BYTES);
  if (!signature) return `signature: expected ${SIGNATURE_BYTES} bytes of hex`;
  const root = hexOf(p.batchRoot, 32);
  if (!root) return 'batchRoot: expected 32 bytes of hex';
  const depth = treeDepth(p.jobCount);
  if (!Array.isArray(p.siblings) || p.siblings.length !== depth)
    return `siblings: expected ${depth} for ${p.jobCount} jobs, got ${Array.isArray(p.siblings) ? p.siblings.length : 'none'}`;
  if (!Array.isArray(p.siblingFees) || p.siblingFees.length !== depth)
    return `siblingFees: expected ${depth} for ${p.jobCount} jobs, got ${Array.isArray(p.siblingFees) ? p.siblingFees.length : 'none'}`;
  const feeSum = lamportsOf(p.feeSum);
  if (feeSum === null) return 'feeSum: expected decimal lamports below 2^64';
  let acc: BatchNode = {
    hash: jobLeafHash(record, signature),
    fee: new DataView(record.buffer, record.byteOffset + 160, 8).getBigUint64(0, true),
  };
  let i = p.index;
  for (const [k, s] of p.siblings.entries()) {
    const hash = hexOf(s, 32);
    if (!hash) return `siblings[${k}]: expected 32 bytes of hex`;
    const fee = lamportsOf(p.siblingFees[k]);
    if (fee === null) return `siblingFees[${k}]: expected decimal lamports below 2^64`;
    acc = i & 1 ? nodeHash({ hash, fee }, acc) : nodeHash(acc, { hash, fee });
    i >>= 1;
  }
  const got = bytesToHex(acc.hash);
  if (got !== p.batchRoot.toLowerCase())
    return `the proof leads to root ${got}, not the batch root ${p.batchRoot}`;
  return acc.fee === feeSum ? null : `the proof's fees sum to ${acc.fee}, not its feeSum ${p.feeSum}`;
}

/** Whether the proof's record (with its signature) is at `index` of the batch with root `batchRoot`. */
export function verifyInclusionProof(p: InclusionProof): boolean {
  return inclusionProofError(p) === null;
}

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** Base58 (Bitcoin alphabet) of bytes: how Solana writes a public key. */
export function base58(bytes: Uint8Array): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let s = '';
  while (n > 0n) {
    s = BASE58[Number(n % 58n)] + s;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    s = '1' + s;
  }
  return s;
}

/** The fields of a 168-byte job record (hex): jobId, modelId, inputDigest, outputDigest, executor, fee. */
export function decodeJobRecord(recordHex: string): JobRecordFields {
  const b = hexOf(recordHex, JOB_RECORD_BYTES);
  if (!b) throw new RangeError(`job record: expected ${JOB_RECORD_BYTES} bytes of hex`);
  const h = (o: number) => bytesToHex(b.subarray(o, o + 32));
  let fee = 0n;
  for (let i = 7; i >= 0; i--) fee = (fee << 8n) | BigInt(b[160 + i]);
  return {
    jobId: h(0),
    modelId: h(32),
    inputDigest: h(64),
    outputDigest: h(96),
    executor: base58(b.subarray(128, 160)),
    fee: fee.toString(),
  };
}
