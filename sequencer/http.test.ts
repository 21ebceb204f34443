// The HTTP edge's pieces: scrubbed messages, exact fees from raw JSON, the streaming ModelProto scan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEMO_MODEL_PATH } from '../cli/roles.ts';
import { isOptinferError } from '../state/errors.ts';
import { parseFee, rawTopLevelMember, scrubMessage } from './http.ts';
import { ModelProtoScan } from './models.ts';

test('scrubMessage: absolute paths and onnxruntime source locations are cut; routes, URLs and names stay', () => {
  assert.equal(
    scrubMessage(
      'External data path validation failed for initializer: w. tensorprotoutils.cc:461 ValidateExternalDataPathFromDir External data path does not exist: "/work/node/nosuch.bin"',
    ),
    'External data path validation failed for initializer: w. External data path does not exist: "<path>"',
  );
  assert.equal(
    scrubMessage(
      "tensorprotoutils.cc:1463 ValidateEmbeddedTensorProtoDataSizeAndShape Initializer 'w' is big",
    ),
    "Initializer 'w' is big",
  );
  assert.equal(scrubMessage('open C:\\Users\\me\\data\\k.json failed'), 'open <path> failed');
  assert.equal(
    scrubMessage('model x is missing at /home/op/.optinfer/models/x.onnx'),
    'model x is missing at <path>',
  );
  for (const kept of [
    'no route GET /v1/jobs/abc/def',
    'model ab is not registered (POST /v1/models first)',
    'the cluster at http://10.0.0.1:8899/rpc/x refused',
    "input 'x': expected dims [1,16], got [1,15]",
    'a/b relative stays (the client wrote it)',
  ]) {
    assert.equal(scrubMessage(kept), kept);
  }
});

test('rawTopLevelMember finds a top-level value as written, past nested look-alikes and escapes', () => {
  const text =
    '{"inputs": {"fee": 1, "x": {"data": [1, {"fee": 2}], "s": "\\"fee\\": 3,}"}}, "f\\u0065e" : 9007199254740993 , "z": "}"}';
  assert.equal(rawTopLevelMember(text, 'fee'), '9007199254740993');
  assert.equal(rawTopLevelMember('{"fee":1,"fee":18446744073709551615}', 'fee'), '18446744073709551615');
  assert.equal(rawTopLevelMember('{"fee":{"a":[1,2]},"b":1}', 'fee'), '{"a":[1,2]}');
  assert.equal(rawTopLevelMember('{"a":"fee"}', 'fee'), undefined);
  assert.equal(rawTopLevelMember('[{"fee":1}]', 'fee'), undefined);
  assert.equal(rawTopLevelMember('  {\n"fee"\t:\n-1.5e3\n}', 'fee'), '-1.5e3');
});

test('parseFee: exact u64 from digits or a decimal string; a fraction, exponent, sign or overflow is refused', () => {
  assert.equal(parseFee(undefined, undefined), undefined);
  assert.equal(parseFee(9007199254740992, '9007199254740993'), 9007199254740993n);
  assert.equal(parseFee('18446744073709551615', undefined), 2n ** 64n - 1n);
  const refused = (v: unknown, raw?: string) =>
    assert.throws(
      () => parseFee(v, raw),
      (e: unknown) => isOptinferError(e, 'INVALID_INPUT') && /^fee: expected a whole number/.test(e.message),
      `${String(v)} ${raw}`,
    );
  refused(1000, '1e3');
  refused(1, '1.0');
  refused(-1, '-1');
  refused('18446744073709551616');
  refused(1.8446744073709552e19, '18446744073709551616');
  refused('0x10');
  refused('');
  refused(' 1');
  refused(true);
  refused(null);
  refused('9'.repeat(100_000));
  // A number whose raw text was not found is refused rather than trusted as a rounded double.
  refused(5, undefined);
});

test('ModelProtoScan: the demo model passes in 1-byte chunks; junk and truncation are refused', () => {
  const demo = new Uint8Array(readFileSync(DEMO_MODEL_PATH));
  const ok = new ModelProtoScan('demo');
  for (const b of demo) ok.push(new Uint8Array([b]));
  ok.end();

  const refused = (bytes: Uint8Array, why: RegExp, atEnd = false) => {
    const s = new ModelProtoScan("model 'm'");
    const run = () => {
      s.push(bytes);
      s.end();
    };
    assert.throws(
      run,
      (e: unknown) =>
        isOptinferError(e, 'INVALID_MODEL') && why.test(e.message) && /model 'm'/.test(e.message),
    );
    if (!atEnd) {
      // Refused on push, before the end: the rest of an upload is never read.
      assert.throws(() => new ModelProtoScan('m').push(bytes));
    }
  };
  refused(new TextEncoder().encode('this is not a model'), /wire type 4/);
  refused(new Uint8Array(100), /numbered 0/);
  refused(new Uint8Array([0x3a, 0x01, 0x00]), /no ir_version/, true);
  refused(new Uint8Array([0x08, 0x08]), /no graph/, true);
  refused(new Uint8Array([0x0a, 0x01, 0x00]), /field 1 with wire type 2, expected 0/);
  refused(demo.subarray(0, demo.length - 3), /end inside field/, true);
  refused(new Uint8Array(0), /empty/, true);
  refused(new Uint8Array([0x32, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), /too long/);
});
