// One-step ops: the SBF VM, the native build (cargo test, same fixture) and the JS reference agree bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Harness, PROGRAMS } from './lib/svm.ts';
import { buildCases, type OpCase } from './lib/op-cases.ts';
import { headerBytes, u32 } from './lib/protocol.ts';

const FIXTURE = path.join(PROGRAMS, 'tests/fixtures/op-cases.json');
const cases = JSON.parse(readFileSync(FIXTURE, 'utf8')) as OpCase[];
const h = new Harness('test');
const payer = h.fund();

test('the committed op fixture matches the JS reference', () => {
  assert.deepEqual(
    buildCases(),
    cases,
    'fixture is stale: run node --import tsx programs/tests/gen-op-cases.ts',
  );
});

for (const c of cases) {
  test(`VM: ${c.name}`, () => {
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
    assert.ok(r.size <= 1232);
    assert.equal(r.returnData.subarray(0, 26).toString('hex'), c.header, 'output header');
    assert.equal(r.returnData.subarray(26).toString('hex'), c.out, 'output chunk bytes');
  });
}
