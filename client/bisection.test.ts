// The bisection replay: the layer ranges and chunk nodes a dispute went through, from its state alone, as the program narrows them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { narrowing } from './bisection.ts';

const base = {
  layerCount: 7,
  agreed: null,
  disagree: null,
  headerMismatch: false,
  chunkDepth: null,
  chunkLevel: null,
  chunkIndex: null,
};

/** The program's layer rounds (bisect_layer.rs) run against a dishonest layer `bad`. */
function program(n: number, bad: number): [number, number][] {
  let [lo, hi] = [0, n - 1];
  const out: [number, number][] = [[lo, hi]];
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (bad > mid) lo = mid + 1;
    else hi = mid;
    out.push([lo, hi]);
  }
  return out;
}

test('layers: the replay from the final [agreed, disagree] is the program’s sequence of rounds, for every layer of every size', () => {
  for (let n = 1; n <= 40; n++) {
    for (let bad = 0; bad < n; bad++) {
      const steps = narrowing({ ...base, layerCount: n, agreed: bad, disagree: bad });
      assert.deepEqual(
        steps.map((s) => (s.kind === 'layers' ? [s.lo, s.hi] : s.kind)),
        program(n, bad),
        `n ${n} bad ${bad}`,
      );
    }
  }
});

test('layers mid-game: the path stops at the current range', () => {
  const steps = narrowing({ ...base, layerCount: 16, agreed: 8, disagree: 11 });
  assert.deepEqual(
    steps.map((s) => (s.kind === 'layers' ? [s.lo, s.hi] : s.kind)),
    [
      [0, 15],
      [8, 15],
      [8, 11],
    ],
  );
});

test('chunks: from the root of the revealed layer down the bits of the chunk index; a header mismatch ends the path', () => {
  const steps = narrowing({
    ...base,
    layerCount: 2,
    agreed: 1,
    disagree: 1,
    chunkDepth: 3,
    chunkLevel: 0,
    chunkIndex: 5,
  });
  assert.deepEqual(
    steps.filter((s) => s.kind === 'chunk').map((s) => (s.kind === 'chunk' ? [s.level, s.index] : [])),
    [
      [3, 0],
      [2, 1],
      [1, 2],
      [0, 5],
    ],
  );
  const header = narrowing({ ...base, layerCount: 2, agreed: 0, disagree: 0, headerMismatch: true });
  assert.equal(header.at(-1)!.kind, 'header');
  assert.deepEqual(narrowing(base), [], 'nothing before the traces');
});
