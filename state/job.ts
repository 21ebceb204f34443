// Job ids, the 168-byte job record, the executor's signature over it, and batches: the Merkle root over signed records with inclusion proofs.
import { hash as oneShot } from 'node:crypto';
import { PublicKey } from '@solana/web3.js';
// libsodium: Ed25519 verify in 98 µs against node:crypto's 190 µs on this machine (the sequencer checks every result).
import sodium from 'sodium-native';
import { Tag, fromHex, hashHex, taggedHash, toHex } from './hash.ts';
import { u64 } from './le.ts';
import { FeeTree, feeRootFromProof, MAX_FEE_SUM } from './fee-tree.ts';
import { leafHash } from './merkle.ts';
import type { BatchIndex, ExecutorId, Hash32, JobId, ModelId } from './types.ts';
import { OptinferError } from './errors.ts';

export const JOB_RECORD_BYTES = 168;
/**
 * A job's fee when its submitter names none (the sequencer's default, `optinfer submit`'s). It pays the executor's
 * claim with a margin: a claim_fees transaction costs 5,000 lamports and carries 1 or 2 jobs (2,500 to 5,000
 * lamports per job; docs/BENCHMARKS.md "Money flows"), and an executor skips a claim that costs more than it pays.
 */
export const DEFAULT_JOB_FEE_LAMPORTS = 10_000n;
/**
 * The least fee a node taking payments accepts (review 17, free ride): below it a job is refused with HTTP 402, so
 * "fee": 0 cannot skip the payment gate. Fees between it and an executor's claim cost are the executor's call to run.
 */
export const MIN_JOB_FEE_LAMPORTS = 1_000n;
export const SIGNATURE_BYTES = 64;
/**
 * Domain of the executor's result signature: 0xff then ASCII "optinfer result". The signed message is
 * H(RESULT_DOMAIN || record), 32 bytes: never a Solana transaction message (at least 69 bytes) nor an
 * off-chain message ("\xffsolana offchain" ...), and its preimage is no protocol hash input (tags < 0x10).
 */
export const RESULT_DOMAIN = Buffer.from('\xffoptinfer result', 'latin1');

/** A job's result before its executor signs it. */
export interface UnsignedJobRecord {
  jobId: JobId;
  modelId: ModelId;
  inputDigest: Hash32;
  outputDigest: Hash32;
  executor: ExecutorId;
  /** Fee in lamports. */
  fee: bigint;
}

export interface JobRecord extends UnsignedJobRecord {
  /** The executor's Ed25519 signature over resultDigest(record), 128 hex characters. */
  signature: string;
}

export function jobId(sequence: bigint | number, modelId: ModelId, inputDigest: Hash32): JobId {
  return hashHex<JobId>(
    taggedHash(Tag.JOB_ID, u64(sequence), fromHex(modelId, 32), fromHex(inputDigest, 32)),
  );
}

const executorCache = new Map<string, Uint8Array>();
const EXECUTOR_CACHE_MAX = 4096;

/** The 32 bytes of an executor's public key; memoized because base58 decoding dominates record encoding. */
export function executorBytes(e: ExecutorId): Uint8Array {
  let b = executorCache.get(e);
  if (b) return b;
  try {
    b = new PublicKey(e).toBytes();
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
  if (executorCache.size >= EXECUTOR_CACHE_MAX) executorCache.clear();
  executorCache.set(e, b);
  return b;
}

function writeHash(out: Buffer, hex: string, offset: number, what: string): void {
  // Buffer.write stops at the first non-hex character, so a short count means a malformed hash.
  if (hex.length !== 64 || out.write(hex, offset, 32, 'hex') !== 32) {
    throw new OptinferError(
      'INVALID_HASH',
      `job record ${what}: expected 64 hex characters, got ${JSON.stringify(hex)}`,
    );
  }
}

/** Writes the 168-byte record at `offset` of out (so a leaf can be hashed without another copy). */
function writeJobRecord(r: UnsignedJobRecord, out: Buffer, offset: number): void {
  writeHash(out, r.jobId, offset, 'jobId');
  writeHash(out, r.modelId, offset + 32, 'modelId');
  writeHash(out, r.inputDigest, offset + 64, 'inputDigest');
  writeHash(out, r.outputDigest, offset + 96, 'outputDigest');
  out.set(executorBytes(r.executor), offset + 128);
  out.writeBigUInt64LE(r.fee, offset + 160);
}

export function encodeJobRecord(r: UnsignedJobRecord): Uint8Array {
  const out = Buffer.allocUnsafe(JOB_RECORD_BYTES);
  writeJobRecord(r, out, 0);
  return new Uint8Array(out.buffer, out.byteOffset, JOB_RECORD_BYTES);
}

export function decodeJobRecord(b: Uint8Array): UnsignedJobRecord {
  if (b.length !== JOB_RECORD_BYTES) {
    throw new OptinferError(
      'INVALID_INPUT',
      `job record: expected ${JOB_RECORD_BYTES} bytes, got ${b.length}`,
    );
  }
  const h = (o: number) => toHex(b.subarray(o, o + 32)) as Hash32;
  return {
    jobId: h(0) as JobId,
    modelId: h(32) as ModelId,
    inputDigest: h(64),
    outputDigest: h(96),
    executor: new PublicKey(b.subarray(128, 160)).toBase58() as ExecutorId,
    fee: new DataView(b.buffer, b.byteOffset + 160, 8).getBigUint64(0, true),
  };
}

/** resultDigest of an encoded 168-byte record. */
export function resultDigestOf(record: Uint8Array): Uint8Array {
  if (record.length !== JOB_RECORD_BYTES) {
    throw new OptinferError(
      'INVALID_INPUT',
      `job record: expected ${JOB_RECORD_BYTES} bytes, got ${record.length}`,
    );
  }
  return oneShot('sha256', Buffer.concat([RESULT_DOMAIN, record]), 'buffer');
}

/** The message the executor signs: H(RESULT_DOMAIN || record). */
export function resultDigest(r: UnsignedJobRecord): Buffer {
  const buf = Buffer.allocUnsafe(RESULT_DOMAIN.length + JOB_RECORD_BYTES);
  RESULT_DOMAIN.copy(buf, 0);
  writeJobRecord(r, buf, RESULT_DOMAIN.length);
  return oneShot('sha256', buf, 'buffer');
}

/** Signs a result with the executor's 64-byte Solana secret key (seed || public key); the key must be r.executor's. */
export function signResult(r: UnsignedJobRecord, secretKey: Uint8Array): JobRecord {
  if (secretKey.length !== sodium.crypto_sign_SECRETKEYBYTES) {
    throw new OptinferError(
      'INVALID_INPUT',
      `executor secret key: expected 64 bytes, got ${secretKey.length}`,
    );
  }
  const sig = Buffer.alloc(sodium.crypto_sign_BYTES);
  sodium.crypto_sign_detached(sig, resultDigest(r), Buffer.from(secretKey.buffer, secretKey.byteOffset, 64));
  return { ...r, signature: toHex(sig) };
}

/**
 * Whether `signature` is r.executor's Ed25519 signature over resultDigest(r); a malformed one is simply false.
 * libsodium's check is strict (canonical S, no small-order key or R, canonical key), so nothing it accepts is
 * refused by the Ed25519 program on chain: a result the sequencer takes can always be disputed and answered
 * (programs/tests/signature-strictness.test.ts checks the edge cases against the precompile).
 */
export function verifyResult(r: UnsignedJobRecord, signature: string): boolean {
  if (!/^[0-9a-f]{128}$/.test(signature)) return false;
  const key = executorBytes(r.executor);
  return sodium.crypto_sign_verify_detached(
    Buffer.from(signature, 'hex'),
    resultDigest(r),
    Buffer.from(key.buffer, key.byteOffset, key.length),
  );
}

function writeSignature(out: Buffer, hex: string, offset: number): void {
  if (
    hex.length !== 2 * SIGNATURE_BYTES ||
    out.write(hex, offset, SIGNATURE_BYTES, 'hex') !== SIGNATURE_BYTES
  ) {
    throw new OptinferError(
      'INVALID_INPUT',
      `job record signature: expected ${2 * SIGNATURE_BYTES} hex characters, got ${JSON.stringify(hex)}`,
    );
  }
}

/** H(0x00 || record || signature), encoded straight into the hash input: the leaf commits to the signature. */
export function jobLeaf(r: JobRecord): Uint8Array {
  const buf = Buffer.allocUnsafe(1 + JOB_RECORD_BYTES + SIGNATURE_BYTES);
  buf[0] = Tag.LEAF;
  writeJobRecord(r, buf, 1);
  writeSignature(buf, r.signature, 1 + JOB_RECORD_BYTES);
  return oneShot('sha256', buf, 'buffer');
}

/** An inclusion proof in the JSON shape served by the API. */
export interface InclusionProof {
  batchIndex: BatchIndex;
  batchRoot: Hash32;
  jobCount: number;
  index: number;
  record: string;
  /** The executor's signature over the record (hex); the leaf is H(0x00 || record || signature). */
  signature: string;
  /** Batch tree siblings (state/fee-tree.ts), leaf row upwards. */
  siblings: Hash32[];
  /** The fee sum under each sibling, decimal lamports. */
  siblingFees: string[];
  /** The batch tree's fee sum (what the sequencer escrowed), decimal lamports. */
  feeSum: string;
}

/** What an instruction opening the batch tree takes (open_dispute, prove_record_fault, claim_fees), from an API proof. */
export function openingOf(p: InclusionProof) {
  return {
    batchIndex: BigInt(p.batchIndex),
    jobIndex: p.index,
    record: fromHex(p.record, JOB_RECORD_BYTES),
    signature: fromHex(p.signature, SIGNATURE_BYTES),
    siblings: p.siblings.map((s) => fromHex(s, 32)),
    siblingFees: siblingFeesOf(p),
  };
}

/** The proof's sibling fee sums as u64 lamports; an INVALID_PROOF error naming the bad one. */
export function siblingFeesOf(p: Pick<InclusionProof, 'siblingFees'>): bigint[] {
  if (!Array.isArray(p.siblingFees))
    throw new OptinferError(
      'INVALID_PROOF',
      'inclusion proof: expected siblingFees, an array of decimal lamports',
    );
  return p.siblingFees.map((f, i) => {
    if (typeof f !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(f) || BigInt(f) > MAX_FEE_SUM)
      throw new OptinferError(
        'INVALID_PROOF',
        `inclusion proof siblingFees[${i}]: expected decimal lamports below 2^64, got ${JSON.stringify(f)}`,
      );
    return BigInt(f);
  });
}

export class Batch {
  readonly index: BatchIndex;
  readonly records: JobRecord[];
  readonly tree: FeeTree;

  constructor(index: BatchIndex, records: JobRecord[]) {
    if (records.length === 0)
      throw new OptinferError('INVALID_INPUT', 'batch: expected at least one job, got none');
    this.index = index;
    this.records = records;
    this.tree = FeeTree.fromLeaves(records.map((r) => ({ hash: jobLeaf(r), fee: r.fee })));
  }

  get root(): Hash32 {
    return hashHex(this.tree.root);
  }

  /** The sum of the records' fees: what commit_batch escrows (`fee_total`). */
  get feeSum(): bigint {
    return this.tree.feeSum;
  }

  proof(position: number): InclusionProof {
    const p = this.tree.proof(position);
    return {
      batchIndex: this.index,
      batchRoot: this.root,
      jobCount: this.records.length,
      index: position,
      record: toHex(encodeJobRecord(this.records[position])),
      signature: this.records[position].signature,
      siblings: p.siblings.map((s) => hashHex(s)),
      siblingFees: p.siblingFees.map((f) => f.toString()),
      feeSum: this.tree.feeSum.toString(),
    };
  }
}

export function batchRoot(records: JobRecord[]): Hash32 {
  return new Batch(0 as BatchIndex, records).root;
}

/**
 * Checks an inclusion proof from the API: the record is at `index` of the batch with that root, and the
 * tree's fee sum is the proof's `feeSum`.
 */
export function verifyInclusion(p: InclusionProof): boolean {
  if (typeof p.signature !== 'string' || !/^[0-9a-f]{128}$/.test(p.signature)) return false;
  let fees: bigint[];
  try {
    fees = siblingFeesOf(p);
  } catch {
    return false;
  }
  const record = fromHex(p.record, JOB_RECORD_BYTES);
  const body = Buffer.concat([record, Buffer.from(p.signature, 'hex')]);
  const fee = Buffer.from(record).readBigUInt64LE(160);
  const r = feeRootFromProof(
    { hash: leafHash(body), fee },
    { index: p.index, siblings: p.siblings.map((s) => fromHex(s, 32)), siblingFees: fees },
    p.jobCount,
  );
  return r !== null && toHex(r.root) === p.batchRoot && r.feeSum.toString() === p.feeSum;
}
