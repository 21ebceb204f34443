// Tests of the tensor JSON format: every dtype round-trips bit for bit, and every malformed input is named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeInputsJson, encodeTensorJson, parseInputsJson } from './tensor-json.ts';
import { isOptinferError } from './errors.ts';

function rejects(doc: unknown, pattern: RegExp): void {
  assert.throws(
    () => decodeInputsJson(doc),
    (e: unknown) => isOptinferError(e, 'INVALID_INPUT') && pattern.test(e.message),
  );
}

test('decodes float32 into little-endian bytes and encodes back', () => {
  const t = decodeInputsJson({ inputs: { x: { dtype: 'float32', dims: [2], data: [1.5, -2] } } }).x;
  assert.deepEqual([...t.data], [0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0]);
  assert.deepEqual(encodeTensorJson(t), { dtype: 'float32', dims: [2], data: [1.5, -2] });
});

test('int64 accepts numbers and decimal strings, and encodes values beyond 2^53 as strings', () => {
  const t = decodeInputsJson({
    inputs: { ids: { dtype: 'int64', dims: [3], data: [7, '-9223372036854775808', '9007199254740993'] } },
  }).ids;
  const v = new DataView(t.data.buffer);
  assert.equal(v.getBigInt64(0, true), 7n);
  assert.equal(v.getBigInt64(8, true), -(2n ** 63n));
  assert.equal(v.getBigInt64(16, true), 2n ** 53n + 1n);
  assert.deepEqual(encodeTensorJson(t).data, [7, '-9223372036854775808', '9007199254740993']);
});

test('base64 data is taken as raw little-endian bytes', () => {
  const raw = Buffer.from([1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  const t = decodeInputsJson({
    inputs: { a: { dtype: 'int32', dims: [2], data: { base64: raw.toString('base64') } } },
  }).a;
  assert.deepEqual(encodeTensorJson(t).data, [1, -1]);
});

test('float16, bool, uint8, -0, NaN and infinities round-trip', () => {
  const doc = {
    h: { dtype: 'float16', dims: [4], data: [1, -0.5, 65504, 1023 * 2 ** -24] },
    b: { dtype: 'bool', dims: [3], data: [true, false, 1] },
    u: { dtype: 'uint8', dims: [2], data: [0, 255] },
    f: { dtype: 'float32', dims: [4], data: ['-0', 'NaN', 'Infinity', '-Infinity'] },
  };
  const ts = decodeInputsJson({ inputs: doc });
  assert.deepEqual([...ts.h.data], [0x00, 0x3c, 0x00, 0xb8, 0xff, 0x7b, 0xff, 0x03]);
  assert.deepEqual(encodeTensorJson(ts.h).data, [1, -0.5, 65504, 1023 * 2 ** -24]);
  assert.deepEqual(encodeTensorJson(ts.b).data, [true, false, true]);
  assert.deepEqual(encodeTensorJson(ts.u).data, [0, 255]);
  assert.deepEqual(encodeTensorJson(ts.f).data, ['-0', 'NaN', 'Infinity', '-Infinity']);
});

test('element count mismatch names the input, the dims and both counts', () => {
  rejects(
    { inputs: { x: { dtype: 'float32', dims: [1, 16, 96], data: new Array(1535).fill(0) } } },
    /^input 'x': expected 1536 elements for dims \[1,16,96\], got 1535$/,
  );
});

test('malformed inputs are rejected with what was expected', () => {
  rejects(
    { inputs: { x: { dtype: 'string', dims: [1], data: ['a'] } } },
    /input 'x': expected dtype to be one of .*got "string"/,
  );
  rejects(
    { inputs: { x: { dtype: 'int8', dims: [1], data: [200] } } },
    /input 'x': element 0: expected an integer in int8 range \[-128, 127\], got 200/,
  );
  rejects(
    { inputs: { x: { dtype: 'int32', dims: [1], data: [1.5] } } },
    /input 'x': element 0: expected an integer, got 1.5/,
  );
  rejects(
    { inputs: { x: { dtype: 'int32', dims: [-1], data: [] } } },
    /input 'x': expected dims to be an array of non-negative integers/,
  );
  rejects(
    { inputs: { x: { dtype: 'int32', dims: [2], data: { base64: 'AAAA' } } } },
    /input 'x': expected 8 bytes \(2 int32 elements\) for dims \[2\], got 3/,
  );
  rejects({ inputs: { x: { dtype: 'int32', dims: [1], data: [1], extra: 1 } } }, /unexpected field 'extra'/);
  rejects({ inputs: [] }, /expected an object mapping input names/);
  rejects(7, /expected a JSON object/);
  assert.throws(() => parseInputsJson('{"inputs": ', 'in.json'), /in.json: expected valid JSON/);
});
