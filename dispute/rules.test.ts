// One test per rule of dispute/rules.ts, each with a case the rule refuses and one it allows, on toy states.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PHASE } from './phases.ts';
import { SIDE, CHUNK_HEADER } from '../settlement/accounts.ts';
import * as rules from './rules.ts';
import type { RuleName, Verdict } from './rules.ts';
import {
  CHALLENGER,
  EXECUTOR,
  label,
  toyBatch,
  toyConfig,
  toyDispute,
  toyModel,
  toyOperator,
  toyTrace,
} from './testkit.ts';

/** Asserts a refusal by `rule`, with a reason matching `reason`. */
function refused(v: Verdict, rule: RuleName, reason: RegExp) {
  assert.equal(v.ok, false, `expected ${rule} to refuse`);
  if (v.ok) return;
  assert.equal(v.rule, rule);
  assert.match(v.reason, reason);
}
const allowed = (v: Verdict) => assert.deepEqual(v, { ok: true });

const tested = new Set<RuleName>();
const rule = (name: RuleName, fn: () => void) => {
  tested.add(name);
  test(`rule ${name}`, fn);
};

rule('refereeCanDecide', () => {
  refused(rules.refereeCanDecide({ provable: false, modelId: 'ab' }), 'refereeCanDecide', /model ab has ops/);
  allowed(rules.refereeCanDecide({ provable: true, modelId: 'ab' }));
});

rule('batchIsCommitted', () => {
  const f = { batchIndex: 3, batchRoot: label('batch').toString('hex') };
  refused(rules.batchIsCommitted(null, f), 'batchIsCommitted', /batch 3 is not committed on chain/);
  refused(
    rules.batchIsCommitted(toyBatch({ root: label('other') }), f),
    'batchIsCommitted',
    /on-chain batch root differs/,
  );
  allowed(rules.batchIsCommitted(toyBatch(), f));
});

rule('windowIsOpen', () => {
  const b = toyBatch({ commitSlot: 1000n });
  const c = toyConfig({ challengeWindow: 100n });
  allowed(rules.windowIsOpen(b, c, 1099n, 0));
  refused(rules.windowIsOpen(b, c, 1100n, 0), 'windowIsOpen', /batch 0's challenge window has closed/);
  refused(rules.windowIsOpen(toyBatch({ finalized: 1 }), c, 1000n, 0), 'windowIsOpen', /closed/);
});

rule('modelIsLoaded', () => {
  refused(rules.modelIsLoaded(null, 'ab'), 'modelIsLoaded', /model ab is not registered/);
  refused(rules.modelIsLoaded(toyModel({ opsLoaded: 7 }), 'ab'), 'modelIsLoaded', /not registered/);
  allowed(rules.modelIsLoaded(toyModel(), 'ab'));
});

rule('notDisputedYet', () => {
  allowed(rules.notDisputedYet(null));
  refused(rules.notDisputedYet(toyDispute()), 'notDisputedYet', /this challenger already/);
});

rule('jobNotInvalidated', () => {
  const job = { batch: EXECUTOR, executorStake: 5n, jobIndex: 1, openGames: 1, invalidated: 0, bump: 255 };
  allowed(rules.jobNotInvalidated(null));
  // Another challenger's open game does not stop this one.
  allowed(rules.jobNotInvalidated(job));
  refused(rules.jobNotInvalidated({ ...job, invalidated: 1 }), 'jobNotInvalidated', /already proved/);
});

rule('neverCounterYourself', () => {
  refused(rules.neverCounterYourself(CHALLENGER.toBase58(), CHALLENGER), 'neverCounterYourself', /own key/);
  allowed(rules.neverCounterYourself(EXECUTOR.toBase58(), CHALLENGER));
});

rule('stakeIsBonded', () => {
  const c = toyConfig({ minChallengerBond: 10n });
  const none = rules.stakeIsBonded(null, c);
  refused(none, 'stakeIsBonded', /free bond 0 is below the stake 10/);
  assert.equal(!none.ok && none.short, 10n);
  // Locked and unbonding lamports cannot back a new stake.
  const busy = rules.stakeIsBonded(toyOperator({ bonded: 30n, locked: 15n, unbonding: 9n }), c);
  assert.equal(!busy.ok && busy.short, 4n);
  allowed(rules.stakeIsBonded(toyOperator({ bonded: 30n, locked: 15n, unbonding: 5n }), c));
});

rule('neverMoveOutOfTurn', () => {
  const d = toyDispute({ phase: PHASE.LAYER_BISECT, turn: SIDE.CHALLENGER });
  allowed(rules.neverMoveOutOfTurn(d, SIDE.CHALLENGER));
  refused(rules.neverMoveOutOfTurn(d, SIDE.EXECUTOR), 'neverMoveOutOfTurn', /other side's turn/);
  // The one-step and a resolved game take no turn move, whoever is named to move.
  const leaf = toyDispute({ phase: PHASE.ONE_STEP, turn: SIDE.CHALLENGER });
  refused(rules.neverMoveOutOfTurn(leaf, SIDE.CHALLENGER), 'neverMoveOutOfTurn', /one-step/);
  const over = toyDispute({ phase: PHASE.RESOLVED, turn: SIDE.EXECUTOR });
  refused(rules.neverMoveOutOfTurn(over, SIDE.EXECUTOR), 'neverMoveOutOfTurn', /resolved/);
});

rule('stepOnlyAtLeaf', () => {
  refused(
    rules.stepOnlyAtLeaf(toyDispute({ phase: PHASE.CHUNK_BISECT, chunkLevel: 1 })),
    'stepOnlyAtLeaf',
    /not at the one-step \(phase 4\)/,
  );
  refused(
    rules.stepOnlyAtLeaf(toyDispute({ phase: PHASE.ONE_STEP, chunkLevel: 2 })),
    'stepOnlyAtLeaf',
    /no chunk located/,
  );
  allowed(rules.stepOnlyAtLeaf(toyDispute({ phase: PHASE.ONE_STEP, chunkLevel: 0, chunkIndex: 3 })));
  allowed(rules.stepOnlyAtLeaf(toyDispute({ phase: PHASE.ONE_STEP, chunkIndex: CHUNK_HEADER })));
});

rule('timeoutOnlyWhenClockRanOut', () => {
  // The executor is to move with 100 slots left from slot 1000: the claim succeeds from slot 1101.
  const d = toyDispute({ phase: PHASE.LAYER_BISECT, turn: SIDE.EXECUTOR, lastMoveSlot: 1000n });
  const r = rules.timeoutOnlyWhenClockRanOut;
  refused(r(d, SIDE.CHALLENGER, 1100n), 'timeoutOnlyWhenClockRanOut', /clock until slot 1101/);
  allowed(r(d, SIDE.CHALLENGER, 1101n));
  refused(r(d, SIDE.EXECUTOR, 5000n), 'timeoutOnlyWhenClockRanOut', /this side is to move/);
  refused(
    r({ ...d, phase: PHASE.RESOLVED }, SIDE.CHALLENGER, 5000n),
    'timeoutOnlyWhenClockRanOut',
    /resolved/,
  );
});

rule('playOnlyFromOwnTrace', () => {
  refused(rules.playOnlyFromOwnTrace(null), 'playOnlyFromOwnTrace', /only claim timeouts/);
  refused(rules.playOnlyFromOwnTrace(undefined), 'playOnlyFromOwnTrace', /only claim timeouts/);
  allowed(rules.playOnlyFromOwnTrace({ trace: toyTrace() }));
});

test('every rule has its test', () => {
  assert.deepEqual([...tested].sort(), [...rules.RULES].sort());
});
