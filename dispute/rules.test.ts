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

test("recordFault: an unbonded executor or an unregistered model is the sequencer's fault, proven instead of disputed", () => {
  const bonded = toyOperator({ bonded: 5n });
  assert.equal(rules.recordFault(null, toyModel()), 'unbondedExecutor');
  assert.equal(rules.recordFault({ ...bonded, bonded: 0n }, toyModel()), 'unbondedExecutor');
  assert.equal(rules.recordFault(bonded, null), 'unregisteredModel');
  assert.equal(rules.recordFault(bonded, toyModel({ opsLoaded: 7 })), 'unregisteredModel');
  assert.equal(rules.recordFault(bonded, toyModel()), null);
});

rule('notDisputedYet', () => {
  allowed(rules.notDisputedYet(null));
  refused(rules.notDisputedYet(toyDispute()), 'notDisputedYet', /this challenger already/);
});

rule('jobNotInvalidated', () => {
  const job = {
    batch: EXECUTOR,
    payer: CHALLENGER,
    executorStake: 5n,
    jobIndex: 1,
    openGames: 1,
    invalidated: 0,
    bump: 255,
  };
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
  const c = toyConfig();
  refused(r(d, SIDE.CHALLENGER, c, 1100n), 'timeoutOnlyWhenClockRanOut', /clock until game slot 1101/);
  allowed(r(d, SIDE.CHALLENGER, c, 1101n));
  refused(r(d, SIDE.EXECUTOR, c, 5000n), 'timeoutOnlyWhenClockRanOut', /this side is to move/);
  refused(
    r({ ...d, phase: PHASE.RESOLVED }, SIDE.CHALLENGER, c, 5000n),
    'timeoutOnlyWhenClockRanOut',
    /resolved/,
  );
});

test('timeoutOnlyWhenClockRanOut counts game time: a game paused mid-clock is not timed out when unpaused with clock left', () => {
  const r = rules.timeoutOnlyWhenClockRanOut;
  // The executor moves at game slot 1000 with 100 slots of clock; the program pauses at slot 1050 for 500 slots.
  const d = toyDispute({ phase: PHASE.LAYER_BISECT, turn: SIDE.EXECUTOR, lastMoveSlot: 1000n });
  const paused = toyConfig({ paused: 1, pauseStart: 1050n });
  // While paused, no claim at all (claim_timeout is refused with Paused), however many real slots go by.
  refused(r(d, SIDE.CHALLENGER, paused, 1200n), 'timeoutOnlyWhenClockRanOut', /paused/);
  refused(r(d, SIDE.CHALLENGER, paused, 9000n), 'timeoutOnlyWhenClockRanOut', /paused/);
  const unpaused = toyConfig({ pausedSlots: 500n });
  // Real slot 1560 is game slot 1060: 40 slots of the executor's clock are left; the claim must wait.
  refused(r(d, SIDE.CHALLENGER, unpaused, 1560n), 'timeoutOnlyWhenClockRanOut', /game slot 1101/);
  refused(r(d, SIDE.CHALLENGER, unpaused, 1600n), 'timeoutOnlyWhenClockRanOut', /real slot 1601/);
  // And the other way: at real slot 1601 (game slot 1101) the clock has run out and the claim is due.
  allowed(r(d, SIDE.CHALLENGER, unpaused, 1601n));
});

test('windowIsOpen counts game time: a batch paused inside its window stays disputable after the unpause', () => {
  const b = toyBatch({ commitSlot: 1000n, challengeWindow: 100n });
  refused(
    rules.windowIsOpen(b, toyConfig({ paused: 1, pauseStart: 1050n }), 1060n, 0),
    'windowIsOpen',
    /paused/,
  );
  const unpaused = toyConfig({ pausedSlots: 500n });
  allowed(rules.windowIsOpen(b, unpaused, 1599n, 0));
  refused(rules.windowIsOpen(b, unpaused, 1600n, 0), 'windowIsOpen', /closed/);
});

rule('playOnlyFromOwnTrace', () => {
  refused(rules.playOnlyFromOwnTrace(null), 'playOnlyFromOwnTrace', /only claim timeouts/);
  refused(rules.playOnlyFromOwnTrace(undefined), 'playOnlyFromOwnTrace', /only claim timeouts/);
  allowed(rules.playOnlyFromOwnTrace({ trace: toyTrace() }));
});

test('every rule has its test', () => {
  assert.deepEqual([...tested].sort(), [...rules.RULES].sort());
});
