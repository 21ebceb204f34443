// The cost model's constants against programs/optinfer/src/pure/shapes.rs (read from source): one model, two copies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SHAPE_COST } from './shapes.ts';

const SRC = readFileSync(
  fileURLToPath(new URL('../programs/optinfer/src/pure/shapes.rs', import.meta.url)),
  'utf8',
);

test('every cost constant of pure/shapes.rs has the same value in state/shapes.ts', () => {
  const rust = new Map(
    [...SRC.matchAll(/^pub const (\w+): u64 = ([^;]+);/gm)].map((m) => [
      m[1],
      Number(Function(`return ${m[2].replace(/_/g, '')}`)()),
    ]),
  );
  assert.deepEqual(Object.fromEntries(rust), { ...SHAPE_COST });
});
