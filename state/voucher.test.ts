// Payment vouchers: the digest's layout, signing, and every way a voucher fails to verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { Keypair } from '@solana/web3.js';
import { VOUCHER_DOMAIN, signVoucher, verifyVoucher, voucherDigest, type VoucherTerms } from './voucher.ts';
import { isOptinferError } from './errors.ts';

const user = Keypair.generate();
const terms: VoucherTerms = {
  programId: Keypair.generate().publicKey,
  user: user.publicKey,
  sequencer: Keypair.generate().publicKey,
  cumulative: 1_234_567n,
};

test('voucher digest: H(0xff "optinfer voucher" || program || user || sequencer || cumulative u64 LE)', () => {
  assert.equal(VOUCHER_DOMAIN.length, 17);
  assert.equal(VOUCHER_DOMAIN[0], 0xff);
  const le = Buffer.alloc(8);
  le.writeBigUInt64LE(terms.cumulative);
  const want = hash(
    'sha256',
    Buffer.concat([
      VOUCHER_DOMAIN,
      terms.programId.toBuffer(),
      terms.user.toBuffer(),
      terms.sequencer.toBuffer(),
      le,
    ]),
    'buffer',
  );
  assert.deepEqual(voucherDigest(terms), want);
});

test('voucher: a signed voucher verifies; changing any term or the signature breaks it', () => {
  const sig = signVoucher(terms, user.secretKey);
  assert.equal(verifyVoucher(terms, sig), true);
  const other = Keypair.generate().publicKey;
  assert.equal(verifyVoucher({ ...terms, cumulative: terms.cumulative + 1n }, sig), false, 'amount');
  assert.equal(verifyVoucher({ ...terms, sequencer: other }, sig), false, 'another sequencer');
  assert.equal(verifyVoucher({ ...terms, programId: other }, sig), false, 'another program');
  assert.equal(verifyVoucher({ ...terms, user: other }, sig), false, 'another user');
  const bad = Buffer.from(sig);
  bad[5] ^= 1;
  assert.equal(verifyVoucher(terms, bad), false, 'flipped bit');
  assert.equal(verifyVoucher(terms, sig.subarray(0, 63)), false, 'short');
  assert.equal(verifyVoucher({ ...terms, cumulative: -1n }, sig), false, 'negative');
});

test('voucher: signing refuses another key than the user, a short key and an amount outside u64', () => {
  const refuses = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e: unknown) => isOptinferError(e) && e.code === 'INVALID_INPUT' && re.test(e.message));
  refuses(() => signVoucher(terms, Keypair.generate().secretKey), /not user/);
  refuses(() => signVoucher(terms, user.secretKey.subarray(0, 32)), /64 bytes/);
  refuses(() => signVoucher({ ...terms, cumulative: 1n << 64n }, user.secretKey), /u64/);
});
