// connectLocal with a real-time slot clock, connectRpc wiring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectLocal, connectRpc } from './connect.ts';

test('connectLocal: the slot clock advances in real time and stops', async () => {
  const { sender, client } = connectLocal();
  const s0 = await sender.getSlot();
  const stop = sender.startSlotClock(5);
  // Polled, not timed: a loaded machine delays the clock's timer, and the test is that it advances at all.
  const deadline = Date.now() + 10_000;
  while ((await sender.getSlot()) <= s0 + 3n && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  stop();
  const s1 = await sender.getSlot();
  assert.ok(s1 > s0 + 3n, `slot ${s0} -> ${s1}`);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(await sender.getSlot(), s1, 'stopped');
  assert.equal(await client.fetchConfig(), null);
});

test('connectRpc: a client over a Connection (no request made)', () => {
  const { client, sender, connection } = connectRpc({ rpc: 'http://127.0.0.1:9', maxAttempts: 2 });
  assert.equal(connection.rpcEndpoint, 'http://127.0.0.1:9');
  assert.equal(sender.opts.maxAttempts, 2);
  assert.ok(client.pdas.config());
});
