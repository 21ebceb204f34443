// The op table and tensor headers: constants equal the Rust sources, known bytes, round trips, and the
// program harness's independent encoders (programs/tests/lib/protocol.ts) agree byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as P from '../programs/tests/lib/protocol.ts';
import { isOptinferError, type OptinferErrorCode } from './errors.ts';
import {
  MAX_OP_INPUTS,
  MAX_RANK,
  MAX_REF_INDEX,
  MODE,
  OP,
  OP_ATTR_BYTES,
  OP_ENTRY_BYTES,
  OPS_PER_PAGE,
  REF_KIND,
  STORED_HEADER_BYTES,
  decodeOpEntry,
  isTolerantOp,
  decodeStoredHeader,
  decodeTensorHeader,
  encodeOpEntry,
  encodeStoredHeader,
  encodeTensorHeader,
  opName,
  opRef,
  refIndex,
  refKind,
} from './optable.ts';
import { VECTORS_PATH } from './vectors.ts';
import { sha256, toHex } from './hash.ts';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../programs/optinfer/src');
const rust = (f: string) => readFileSync(path.join(SRC, f), 'utf8');
const rustConsts = (f: string) =>
  Object.fromEntries(
    [...rust(f).matchAll(/pub const (\w+): \w+ = (\d+);/g)].map((m) => [m[1], Number(m[2])] as const),
  );
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function prng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

function throwsOptinfer(f: () => unknown, code: OptinferErrorCode, message: RegExp) {
  assert.throws(f, (e: unknown) => isOptinferError(e, code) && message.test((e as Error).message));
}

test('op codes, entry layout and page size equal pure/ops.rs, pure/tensor.rs and state/model.rs', () => {
  const ops = rustConsts('pure/ops.rs');
  const fromRust = Object.fromEntries(
    Object.entries(ops)
      .filter(([k]) => k.startsWith('OP_') && k !== 'OP_ENTRY_BYTES')
      .map(([k, v]) => [k.slice(3).replaceAll('_', ''), v]),
  );
  const ours = Object.fromEntries(Object.entries(OP).map(([k, v]) => [k.toUpperCase(), v]));
  assert.deepEqual(ours, fromRust);
  assert.equal(Object.keys(ours).length, 40);
  const model = rustConsts('state/model.rs');
  assert.deepEqual({ exact: model.MODE_EXACT, tolerant: model.MODE_TOLERANT }, { ...MODE });
  assert.deepEqual(Object.values(OP).filter(isTolerantOp), [
    ops.OP_EXP,
    ops.OP_LOG,
    ops.OP_TANH,
    ops.OP_SIGMOID,
    ops.OP_MATMUL,
  ]);
  assert.equal(OP_ENTRY_BYTES, ops.OP_ENTRY_BYTES);
  assert.equal(MAX_OP_INPUTS, ops.MAX_OP_INPUTS);
  assert.deepEqual({ LAYER: ops.REF_LAYER, INPUT: ops.REF_INPUT, WEIGHT: ops.REF_WEIGHT }, { ...REF_KIND });
  assert.match(rust('pure/ops.rs'), new RegExp(`pub attrs: \\[u8; ${OP_ATTR_BYTES}\\]`));
  assert.equal(2 + 2 * MAX_OP_INPUTS + OP_ATTR_BYTES, OP_ENTRY_BYTES);
  assert.equal(rustConsts('state/model.rs').OPS_PER_PAGE, OPS_PER_PAGE);
  assert.equal(rustConsts('pure/tensor.rs').MAX_RANK, MAX_RANK);
  assert.match(rust('state/dispute.rs'), new RegExp(`pub header: \\[\\[u8; ${STORED_HEADER_BYTES}\\]; 2\\]`));
});

test('op names: every code maps back to its ONNX op, unknown codes to nothing', () => {
  for (const [name, code] of Object.entries(OP)) assert.equal(opName(code), name);
  assert.equal(opName(0), undefined);
  assert.equal(opName(42), undefined);
});

test('refs: kind in the top two bits, a 14-bit index', () => {
  assert.equal(opRef(REF_KIND.LAYER, 5), 5);
  assert.equal(opRef(REF_KIND.INPUT, 0), 0x4000);
  assert.equal(opRef(REF_KIND.WEIGHT, MAX_REF_INDEX), 0xbfff);
  assert.deepEqual([refKind(0xbfff), refIndex(0xbfff)], [REF_KIND.WEIGHT, MAX_REF_INDEX]);
  throwsOptinfer(() => opRef(REF_KIND.WEIGHT, MAX_REF_INDEX + 1), 'INVALID_MODEL', /index in \[0, 16383\]/);
  throwsOptinfer(() => opRef(REF_KIND.LAYER, -1), 'INVALID_MODEL', /got -1/);
});

test('op entries: known bytes', () => {
  // MatMulInteger(x, W, a_zero_point, b_zero_point), int8 x int8.
  const mm = encodeOpEntry({
    op: OP.MatMulInteger,
    refs: [opRef(REF_KIND.INPUT, 0), opRef(REF_KIND.WEIGHT, 0), opRef(REF_KIND.WEIGHT, 1), 0x8002],
    attrs: Uint8Array.of(3, 3),
  });
  assert.equal(hex(mm), '0904' + '0040' + '0080' + '0180' + '0280' + '0303' + '00'.repeat(12));
  // Reshape of layer 2 to [16, 300]: rank, then u32 dims.
  const reshape = encodeOpEntry({
    op: OP.Reshape,
    refs: [2],
    attrs: Uint8Array.of(2, 16, 0, 0, 0, 44, 1, 0, 0),
  });
  assert.equal(
    hex(reshape),
    '0201' + '0200' + '0000'.repeat(3) + '02' + '10000000' + '2c010000' + '00'.repeat(5),
  );
  // No attributes: zero-filled; unused ref slots stay zero.
  assert.equal(hex(encodeOpEntry({ op: OP.Relu, refs: [7] })), '0501' + '0700' + '00'.repeat(20));
});

test('op entries: round trip and the harness encoder agree on 500 random entries', () => {
  const r = prng(11);
  for (let k = 0; k < 500; k++) {
    const refs = Array.from({ length: r(MAX_OP_INPUTS + 1) }, () => r(0x10000));
    const attrs = Uint8Array.from({ length: r(OP_ATTR_BYTES + 1) }, () => r(256));
    const e = { op: r(256), refs, attrs };
    const b = encodeOpEntry(e);
    assert.equal(b.length, OP_ENTRY_BYTES);
    assert.deepEqual(b, P.opEntry(e.op, refs, attrs));
    const padded = Buffer.alloc(OP_ATTR_BYTES);
    padded.set(attrs);
    assert.deepEqual(decodeOpEntry(b), { op: e.op, refs, attrs: padded });
  }
});

test('op entries: what the program cannot read is refused, naming what was expected', () => {
  throwsOptinfer(() => encodeOpEntry({ op: 256, refs: [] }), 'INVALID_MODEL', /u8 op code, got 256/);
  throwsOptinfer(
    () => encodeOpEntry({ op: OP.Add, refs: [0, 1, 2, 3, 4] }),
    'INVALID_MODEL',
    /at most 4 inputs, got 5/,
  );
  throwsOptinfer(
    () => encodeOpEntry({ op: OP.Add, refs: [0], attrs: new Uint8Array(15) }),
    'INVALID_MODEL',
    /at most 14 attribute bytes, got 15/,
  );
  assert.throws(
    () => encodeOpEntry({ op: OP.Add, refs: [0x10000] }),
    (e) => isOptinferError(e, 'INVALID_INPUT'),
  );
  throwsOptinfer(() => decodeOpEntry(new Uint8Array(23)), 'INVALID_MODEL', /expected 24 bytes, got 23/);
  const five = new Uint8Array(OP_ENTRY_BYTES);
  five[1] = 5;
  throwsOptinfer(() => decodeOpEntry(five), 'INVALID_MODEL', /at most 4 inputs, got 5/);
});

test('tensor headers: known bytes, and the digest of every state/vectors.json tensor hashes them', () => {
  assert.equal(
    hex(encodeTensorHeader({ dtype: 3, dims: [1, 16] })),
    '0302' + '0100000000000000' + '1000000000000000',
  );
  assert.equal(hex(encodeTensorHeader({ dtype: 1, dims: [] })), '0100');
  const v = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as {
    tensors: { dtype: number; dims: number[]; chunkRoot: string; digest: string }[];
  };
  assert.ok(v.tensors.length > 3);
  for (const t of v.tensors) {
    const header = encodeTensorHeader(t);
    assert.equal(toHex(sha256(Uint8Array.of(2), header, Buffer.from(t.chunkRoot, 'hex'))), t.digest);
  }
});

test('tensor headers: round trip and the harness encoder agree on 300 random headers', () => {
  const r = prng(5);
  for (let k = 0; k < 300; k++) {
    const dims = Array.from({ length: r(8) }, () =>
      r(4) === 0 ? r(0x100000) * 0x10000 + r(0x10000) : r(50),
    );
    const h = { dtype: 1 + r(13), dims };
    const b = encodeTensorHeader(h);
    assert.deepEqual(b, P.headerBytes(h));
    // Read from inside a larger buffer: openings carry the header followed by the tensor.
    const tail = Buffer.concat([Buffer.alloc(3, 9), b, Buffer.from('rest')]).subarray(3);
    assert.deepEqual(decodeTensorHeader(tail), { ...h, bytes: b.length });
  }
});

test('tensor headers: short or out-of-range bytes are refused', () => {
  throwsOptinfer(() => decodeTensorHeader(Uint8Array.of(1)), 'INVALID_INPUT', /expected 2 bytes, got 1/);
  throwsOptinfer(
    () => decodeTensorHeader(Uint8Array.of(1, 2, 0)),
    'INVALID_INPUT',
    /expected 18 bytes, got 3/,
  );
  const huge = encodeTensorHeader({ dtype: 7, dims: [1] });
  huge.writeBigUInt64LE(1n << 60n, 2);
  throwsOptinfer(() => decodeTensorHeader(huge), 'INVALID_INPUT', /dim 0 .* past 2\^53 - 1/);
  throwsOptinfer(
    () => encodeTensorHeader({ dtype: 1, dims: new Array(256).fill(1) }),
    'INVALID_INPUT',
    /rank <= 255, got 256/,
  );
  throwsOptinfer(() => encodeTensorHeader({ dtype: 300, dims: [] }), 'INVALID_INPUT', /u8 dtype code/);
  assert.throws(
    () => encodeTensorHeader({ dtype: 1, dims: [-1] }),
    (e) => isOptinferError(e, 'INVALID_INPUT'),
  );
});

test('stored headers (Dispute account): known bytes, round trip, refusals', () => {
  const h = { dtype: 6, dims: [32, 8] };
  const b = encodeStoredHeader(h);
  assert.equal(hex(b), '0602' + '20000000' + '08000000' + '00'.repeat(16));
  assert.deepEqual(decodeStoredHeader(b), h);
  assert.deepEqual(decodeStoredHeader(new Uint8Array(STORED_HEADER_BYTES)), { dtype: 0, dims: [] });
  const full = { dtype: 1, dims: [1, 2, 3, 4, 5, 0xffffffff] };
  assert.deepEqual(decodeStoredHeader(encodeStoredHeader(full)), full);
  throwsOptinfer(
    () => encodeStoredHeader({ dtype: 1, dims: [1, 1, 1, 1, 1, 1, 1] }),
    'INVALID_INPUT',
    /rank <= 6, got 7/,
  );
  throwsOptinfer(() => decodeStoredHeader(new Uint8Array(25)), 'INVALID_INPUT', /expected 26 bytes, got 25/);
  const seven = Buffer.alloc(STORED_HEADER_BYTES);
  seven[1] = 7;
  throwsOptinfer(() => decodeStoredHeader(seven), 'INVALID_INPUT', /rank <= 6, got 7/);
});
