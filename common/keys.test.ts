// Key files: Solana CLI keypairs written and read back, malformed ones refused; the challenger secret file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Keypair } from '@solana/web3.js';
import { isOptinferError } from '../state/errors.ts';
import { loadKeypair, loadOrCreateKeypair, loadOrCreateSecret, saveKeypair } from './keys.ts';

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

test('loadOrCreateKeypair and loadOrCreateSecret: created once with mode 0600, then read back unchanged', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'optinfer-kp-'));
  const kf = path.join(dir, 'k.json');
  const k = loadOrCreateKeypair(kf);
  assert.equal(statSync(kf).mode & 0o777, 0o600);
  assert.ok(loadOrCreateKeypair(kf).publicKey.equals(k.publicKey));
  const sf = path.join(dir, 's.secret');
  const s = loadOrCreateSecret(sf);
  assert.equal(s.length, 32);
  assert.equal(statSync(sf).mode & 0o777, 0o600);
  assert.deepEqual(loadOrCreateSecret(sf), s);
  writeFileSync(sf, 'zz\n');
  assert.throws(
    () => loadOrCreateSecret(sf),
    (e) => isOptinferError(e, 'INVALID_CONFIG') && /64 hex/.test((e as Error).message),
  );
  assert.equal(readFileSync(sf, 'utf8'), 'zz\n', 'a bad secret file is refused, not overwritten');
});
