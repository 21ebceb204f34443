// Framing: a sequencer commits records naming a bonded executor that never signed them; its accomplice disputes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PARAMS, World } from './lib/game.ts';
import { mlpModel } from './lib/model.ts';
import * as P from './lib/protocol.ts';

const SOL = 1_000_000_000n;

test("framing: the sequencer commits a record naming a victim that never signed it; the accomplice's dispute is refused and the victim's bond is intact", async () => {
  const world = new World();
  await world.init();
  await world.registerModel(mlpModel());
  const victim = await world.operator(10n * SOL);
  const accomplice = await world.operator(5n * SOL);
  const before = await world.operatorOf(victim.publicKey);
  // An output digest nobody can open: the victim never ran this job.
  const b = await world.commitBatch(0, victim.publicKey, P.sha(Buffer.from('victim never ran this')));
  const { dispute, res } = await world.openDispute(accomplice, b, 1);
  if (res.ok) {
    // Today: the victim cannot commit a trace ending at that digest and loses on time.
    world.warp(PARAMS.clockSlots + 1n);
    world.must(await world.claimTimeout(accomplice, dispute), 'claim_timeout');
  }
  const after = await world.operatorOf(victim.publicKey);
  assert.equal(after.bonded, before.bonded, "the victim's bond is intact");
  assert.equal(after.locked, 0n);
  assert.equal(res.ok, false, "the accomplice's dispute is refused");
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});
