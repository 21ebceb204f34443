// The bus's binary tensor-map codec: exact round trips, smaller than JSON, and clear errors on bad input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BusError } from './bus.ts';
import { decodeMessage, encodeMessage } from './codec.ts';
import * as messages from './messages.ts';
import { decodeTensors, encodeTensors } from './tensors.ts';
import type { TensorMap } from '../state/tensor-map.ts';

const map: TensorMap = {
  x: { dtype: 'int8', dims: [1, 16], data: Uint8Array.from({ length: 16 }, (_, i) => i * 7) },
  'é scalar': { dtype: 'float32', dims: [], data: new Uint8Array(new Float32Array([1.5]).buffer) },
  empty: { dtype: 'int64', dims: [0, 3], data: new Uint8Array(0) },
};

function throwsInvalid(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BusError, String(e));
    assert.equal(e.code, 'INVALID_MESSAGE');
    assert.match(e.message, re);
    return true;
  });
}

test('a tensor map round-trips exactly, through the blob and through a bus message', () => {
  const blob = encodeTensors(map);
  assert.deepEqual(decodeTensors(blob), map);
  // Each tensor's data is its own aligned copy.
  const f = decodeTensors(blob)['é scalar'];
  assert.equal(f.data.byteOffset, 0);
  assert.equal(new Float32Array(f.data.buffer)[0], 1.5);
  const wire = messages.ASSIGN.batch!.pack({ jobId: 'j', modelId: 'm', fee: '1', inputs: map } as never);
  const back = messages.ASSIGN.batch!.unpack(decodeMessage(encodeMessage(wire)), 'assign');
  assert.deepEqual(back.inputs, map);
  // No base64, no per-tensor JSON: 16 data bytes cost 16 bytes plus a small fixed header.
  const one = encodeTensors({ x: map.x });
  assert.equal(one.byteLength, 5 + 2 + 1 + 2 + 8 + 4 + 16);
});

test('a tensor named __proto__ stays a tensor', () => {
  const blob = encodeTensors(
    JSON.parse('{"__proto__": {"dtype":"uint8","dims":[1],"data":null}}', (k, v) =>
      k === 'data' ? new Uint8Array([9]) : v,
    ) as TensorMap,
  );
  const back = decodeTensors(blob);
  assert.deepEqual(Object.keys(back), ['__proto__']);
  assert.equal(Object.getPrototypeOf(back), Object.prototype);
});

test('encoding refuses a tensor whose bytes do not match its dtype and dims, naming it', () => {
  throwsInvalid(
    () => encodeTensors({ x: { dtype: 'int32', dims: [2], data: new Uint8Array(7) } }, 'job 1 inputs'),
    /^job 1 inputs\.x: int32 \[2\] needs 8 bytes, data has 7$/,
  );
  throwsInvalid(
    () => encodeTensors({ x: { dtype: 'complex64' as never, dims: [1], data: new Uint8Array(8) } }),
    /^tensor map\.x: unknown dtype "complex64"$/,
  );
  throwsInvalid(
    () => encodeTensors({ x: { dtype: 'uint8', dims: [-1], data: new Uint8Array(0) } }),
    /dims must be integers in 0\.\.4294967295, got \[-1\]$/,
  );
});

test('decoding refuses bad bytes with an error that says what and where', () => {
  const blob = encodeTensors({ x: map.x });
  throwsInvalid(
    () => decodeTensors(new Uint8Array([1, 2, 3]), 'r'),
    /^r: truncated at byte 0: the header needs 5 bytes, 3 left$/,
  );
  throwsInvalid(() => decodeTensors(Uint8Array.of(0x7b, 0x7d, 1, 0, 0)), /bad magic/);
  const v2 = blob.slice();
  v2[2] = 2;
  throwsInvalid(() => decodeTensors(v2), /unsupported tensor map version 2 \(expected 1\)$/);
  throwsInvalid(
    () => decodeTensors(blob.subarray(0, blob.byteLength - 1), 'r'),
    /^r: truncated at byte 22: r\.x's data needs 16 bytes, 15 left$/,
  );
  throwsInvalid(
    () => decodeTensors(Uint8Array.from([...blob, 0])),
    /^tensor map: 1 bytes left over after 1 tensors$/,
  );
  const dtype = blob.slice();
  dtype[8] = 99; // after magic(3) count(2) nameLen(2) name(1)
  throwsInvalid(() => decodeTensors(dtype), /^tensor map\.x: unknown dtype code 99$/);
  const len = blob.slice();
  new DataView(len.buffer).setUint32(18, 15, true); // the data length field
  throwsInvalid(() => decodeTensors(len), /^tensor map\.x: int8 \[1,16\] needs 16 bytes, the frame says 15$/);
  const twice = encodeTensors({ x: map.x, y: map.x });
  twice[twice.indexOf(0x79)] = 0x78; // rename y to x
  throwsInvalid(() => decodeTensors(twice), /^tensor map\.x: appears twice$/);
});

test('a wire item whose tensors are not bytes is refused by the message kind', () => {
  throwsInvalid(
    () => messages.ASSIGN.batch!.unpack({ jobId: 'j', inputs: { x: [1, 2] } }, 'item 0'),
    /^item 0: inputs must be an encoded tensor map \(bytes\)$/,
  );
  throwsInvalid(() => messages.RESULT.batch!.unpack('nope', 'item 3'), /^item 3: expected an object$/);
  // A result without outputs (an error) passes as it is.
  assert.deepEqual(messages.RESULT.batch!.unpack({ jobId: 'j', error: 'boom' }, 'item 0'), {
    jobId: 'j',
    error: 'boom',
  });
});
