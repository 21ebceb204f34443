// buildTransaction: the bytes web3.js's own signing gives, multi-signer order, size limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair, Transaction } from '@solana/web3.js';
import { isOptinferError } from '../state/errors.ts';
import { buildTransaction } from './sender.ts';
import { instructions } from './instructions.ts';

const blockhash = Keypair.generate().publicKey.toBase58();

test('buildTransaction signs exactly as web3.js Transaction.sign does', () => {
  const owner = Keypair.generate();
  const payer = Keypair.generate();
  const ixs = [instructions.bond({ owner: owner.publicKey, amount: 5n })];
  const ref = new Transaction({ feePayer: payer.publicKey, recentBlockhash: blockhash });
  ref.add(...ixs);
  ref.sign(payer, owner);
  const { wire, tx } = buildTransaction(ixs, [owner], blockhash, payer);
  assert.ok(wire.equals(ref.serialize()));
  assert.ok(tx.verifySignatures());
  // Without an explicit payer, the first signer pays.
  const single = buildTransaction(ixs, [owner], blockhash);
  const ref2 = new Transaction({ feePayer: owner.publicKey, recentBlockhash: blockhash });
  ref2.add(...ixs);
  ref2.sign(owner);
  assert.ok(single.wire.equals(ref2.serialize()));
});

test('data too large for a transaction is refused with TRANSACTION_TOO_LARGE', () => {
  const owner = Keypair.generate();
  const write = (n: number) =>
    instructions.writeProofBuffer({
      owner: owner.publicKey,
      dispute: Keypair.generate().publicKey,
      offset: 0,
      data: Buffer.alloc(n),
    });
  assert.throws(
    () => write(1100),
    (e) => isOptinferError(e, 'TRANSACTION_TOO_LARGE'),
  );
  const ix = write(980);
  assert.throws(
    () => buildTransaction([ix, write(100)], [owner], blockhash),
    (e) => isOptinferError(e, 'TRANSACTION_TOO_LARGE'),
  );
  assert.ok(buildTransaction([write(900)], [owner], blockhash).wire.length <= 1232);
});
