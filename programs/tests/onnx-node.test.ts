// The ONNX conformance node tests for the one-step op set (exported by tools/onnx_node_cases.py)
// run inside the SBF VM; native cargo test runs the same file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Harness, PROGRAMS } from './lib/svm.ts';
import { headerBytes, u32 } from './lib/protocol.ts';
import type { OpCase } from './lib/op-cases.ts';

const fixture = JSON.parse(
  readFileSync(path.join(PROGRAMS, 'tests/fixtures/onnx-node-cases.json'), 'utf8'),
) as { onnx: string; cases: OpCase[]; skipped: { name: string; reason: string }[] };
const h = new Harness('test');
const payer = h.fund();

test('the export covers every op of the one-step set', () => {
  const ops = new Set(fixture.cases.map((c) => Buffer.from(c.entry, 'hex')[0]));
  // Cast has no float/int32/int8/uint8 conformance case in onnx, and every Slice case passes one
  // transaction's input bytes or slices 3 axes (op-cases.json covers both); the others must all be present.
  for (const op of [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
    32, 33, 34, 35,
  ])
    assert.ok(ops.has(op), `op ${op} missing`);
});

for (const c of fixture.cases) {
  test(`onnx ${fixture.onnx} ${c.name}`, () => {
    const data = Buffer.concat([
      Buffer.from(c.entry, 'hex'),
      u32(c.chunk),
      Buffer.from([c.inputs.length]),
      ...c.inputs.map((t) => {
        const bytes = Buffer.from(t.bytes, 'hex');
        return Buffer.concat([headerBytes(t), u32(bytes.length), bytes]);
      }),
    ]);
    const r = h.send([h.ix('check', { kind: 4, data }, [])], [payer]);
    assert.ok(r.ok, `${r.error ?? r.raw}`);
    assert.equal(r.returnData.subarray(0, 26).toString('hex'), c.header, 'output header');
    assert.equal(r.returnData.subarray(26).toString('hex'), c.out, 'output chunk');
  });
}
