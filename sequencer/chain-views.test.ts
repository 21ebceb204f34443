// How the chain views read a dispute's account: what decided a resolved game.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PHASE } from '../settlement/index.ts';
import { toyDispute } from '../dispute/testkit.ts';
import { narrowingState } from './chain-views.ts';

test('decidedBy: a game narrowed to the one-step is decided by the one-step, unless a timeout was claimed there', () => {
  // Both traces committed and the chunk descent finished (chunk level 0): the one-step was due.
  const narrowed = {
    phase: PHASE.RESOLVED,
    traceRoot: [Buffer.alloc(32, 1), Buffer.alloc(32, 2)],
    chunkRoot: [Buffer.alloc(32, 3), Buffer.alloc(32, 4)],
    chunkLevel: 0,
    chunkIndex: 0,
  };
  assert.equal(narrowingState(toyDispute({ ...narrowed, byTimeout: 0 })).decidedBy, 'one-step');
  assert.equal(narrowingState(toyDispute({ ...narrowed, byTimeout: 1 })).decidedBy, 'timeout');
  // Before the narrowing ended, only a timeout can have decided it.
  assert.equal(narrowingState(toyDispute({ ...narrowed, chunkLevel: 3, byTimeout: 1 })).decidedBy, 'timeout');
  assert.equal(narrowingState(toyDispute({ ...narrowed, phase: PHASE.ONE_STEP })).decidedBy, null);
});
