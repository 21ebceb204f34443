// Keypair files in the Solana CLI format, connectLocal with a real-time slot clock, connectRpc wiring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Keypair } from '@solana/web3.js';
import { isOptinferError } from '../state/errors.ts';
import { connectLocal, connectRpc, loadKeypair, saveKeypair } from './connect.ts';

test('keypair files: written and read back in the Solana CLI format; malformed files refused', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'optinfer-kp-'));
  const k = Keypair.generate();
  const f = path.join(dir, 'id.json');
  saveKeypair(f, k);
  assert.equal(statSync(f).mode & 0o777, 0o600);
  assert.ok(loadKeypair(f).publicKey.equals(k.publicKey));
  for (const [name, body] of [
    ['short.json', '[1,2,3]'],
    ['text.json', 'hello'],
    ['range.json', JSON.stringify(new Array(64).fill(256))],
  ]) {
    writeFileSync(path.join(dir, name), body);
    assert.throws(
      () => loadKeypair(path.join(dir, name)),
      (e) => isOptinferError(e, 'INVALID_CONFIG'),
    );
  }
  assert.throws(
    () => loadKeypair(path.join(dir, 'missing.json')),
    (e) => isOptinferError(e, 'INVALID_CONFIG') && /no such file/.test((e as Error).message),
  );
});

test('connectLocal: the slot clock advances in real time and stops', async () => {
  const { sender, client } = connectLocal();
  const s0 = await sender.getSlot();
  const stop = sender.startSlotClock(5);
  await new Promise((r) => setTimeout(r, 60));
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
