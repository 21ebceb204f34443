// Little-endian integers: known bytes at the edges of each width, and values that do not fit refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOptinferError } from './errors.ts';
import { u16, u32, u64 } from './le.ts';

const invalid = (e: unknown) => isOptinferError(e, 'INVALID_INPUT');

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('known bytes: least significant byte first', () => {
  assert.equal(hex(u16(0)), '0000');
  assert.equal(hex(u16(0x1234)), '3412');
  assert.equal(hex(u16(0xffff)), 'ffff');
  assert.equal(hex(u32(1)), '01000000');
  assert.equal(hex(u32(0xdeadbeef)), 'efbeadde');
  assert.equal(hex(u64(300)), '2c01000000000000');
  assert.equal(hex(u64(0x0102030405060708n)), '0807060504030201');
  assert.equal(hex(u64(2n ** 64n - 1n)), 'ffffffffffffffff');
});

test('values that do not fit are refused instead of wrapping', () => {
  assert.throws(() => u16(0x10000), {
    code: 'INVALID_INPUT',
    message: /u16: expected an integer in \[0, 65535\], got 65536/,
  });
  assert.throws(() => u16(-1), invalid);
  assert.throws(() => u32(2 ** 32), { code: 'INVALID_INPUT', message: /u32: .* got 4294967296/ });
  assert.throws(() => u32(1.5), invalid);
  assert.throws(() => u64(-1), { code: 'INVALID_INPUT', message: /u64: .* got -1/ });
  assert.throws(() => u64(2n ** 64n), invalid);
  assert.throws(() => u64(0.5), { code: 'INVALID_INPUT', message: /u64: expected an integer, got 0.5/ });
});
