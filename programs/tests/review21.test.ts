// Review 21: a hostile sequencer answers a data request after the batch's challenge window has closed, so the lie
// in the posted data can no longer be disputed. Each test asserts the property the protocol promises (a withheld
// lie is demanded on chain and then disputed, or its timeout claimed); a failing test is an attack that succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, attempt, type CommittedBatch } from './lib/game.ts';
import { mlpModel } from './lib/model.ts';
import * as P from './lib/protocol.ts';
import { DATA_ANSWER_SLOTS, minUnbondingSlots } from '../../settlement/instructions.ts';

const SOL = 1_000_000_000n;

function postInputs(inputs: [string, P.Tensor][]): Buffer {
  const sorted = inputs.slice().sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
  const parts: Buffer[] = [P.u32(sorted.length)];
  for (const [name, t] of sorted) {
    const nb = Buffer.from(name, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16LE(nb.length);
    parts.push(len, nb, P.headerBytes(t), t.bytes);
  }
  return Buffer.concat(parts);
}

async function answer(world: World, b: CommittedBatch, job: number, inputs: Buffer) {
  return attempt(
    world.client
      .answerData(world.sequencer, b.index, job, {
        record: b.records[job],
        signature: b.signatures[job],
        inputs,
        ...P.batchProof(b.levels, job),
      })
      .then((r) => r[r.length - 1]),
  );
}

// `optinfer chain init` defaults: a 150-slot window and 150-slot clocks; a request's answer time is
// max(clock, DATA_ANSWER_SLOTS) = 156 slots, longer than the whole window.
const CASES = [
  { name: 'chain init defaults, inputs withheld (requested at once)', window: 150n, clock: 150n, requestAt: 1n },
  { name: 'a 300-slot window, proof withheld (requested at half the window)', window: 300n, clock: 150n, requestAt: 150n },
] as const;

for (const c of CASES) {
  test(`late answer (${c.name}): the sequencer withholds a lie's data, answers the request just before its deadline, after the window; the challenger must still be able to dispute the lie it finds in the answer`, async () => {
    const m = mlpModel();
    const world = new World();
    await world.init({
      challengeWindow: c.window,
      clockSlots: c.clock,
      unbondingSlots: minUnbondingSlots(c.window, c.clock),
    });
    await world.registerModel(m);
    const executor = await world.operator(10n * SOL);
    const challenger = await world.operator(10n * SOL);
    const lie = P.sha(Buffer.from('a made-up output'));
    const b = await world.commitBatch(0, executor, lie);
    world.warp(c.requestAt);
    world.must(await attempt(world.client.requestData(challenger, b.index, 1)), 'request_data');
    const answerSlots = BigInt(Math.max(Number(c.clock), DATA_ANSWER_SLOTS));
    assert.ok(c.requestAt + answerSlots > c.window, 'the deadline falls after the window');
    // The sequencer answers at the last slot it may.
    world.warp(answerSlots - 1n);
    world.must(await answer(world, b, 1, postInputs(m.inputs)), 'answer_data (late, but before the deadline)');
    // The challenger reads the answer at once and opens its dispute on the lie.
    const open = await world.openDispute(challenger, b, 1);
    const fin = await world.finalize(challenger, 0);
    assert.ok(
      open.res.ok,
      `the lie found in the answer cannot be disputed: open_dispute ${open.res.error}; finalize_batch ${fin.ok ? 'lands, the lie is final' : fin.error}; the sequencer kept the deposit`,
    );
  });
}
