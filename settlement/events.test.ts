// Event and error decoding from raw logs and error shapes, without a chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair, SendTransactionError } from '@solana/web3.js';
import { u32, u64 } from '../state/le.ts';
import { IDL, PROGRAM_ID } from './idl.ts';
import { decodeEventData, parseEvents } from './events.ts';
import { mapThrownError, mapTransactionError } from './errors.ts';

const id = PROGRAM_ID.toBase58();
/** discriminator || fields (already little-endian bytes), as emit! writes an event. */
function encodeEvent(name: string, fields: Buffer[]): string {
  const disc = IDL.events!.find((e) => e.name === name)!.discriminator;
  return Buffer.concat([Buffer.from(disc), ...fields]).toString('base64');
}

test('parseEvents: only data lines written while the program itself is innermost', () => {
  const root = Buffer.alloc(32, 7);
  const committed = encodeEvent('BatchCommitted', [u64(5n), root, u32(9), u64(77n), u64(3000n), u64(50n)]);
  const finalized = encodeEvent('BatchFinalized', [u64(4n), u32(1)]);
  const other = Keypair.generate().publicKey.toBase58();
  const logs = [
    `Program ${id} invoke [1]`,
    'Program log: Instruction: commit_batch',
    `Program ${other} invoke [2]`,
    `Program data: ${finalized}`,
    `Program ${other} success`,
    `Program data: ${committed}`,
    `Program ${id} consumed 4436 of 200000 compute units`,
    `Program ${id} success`,
    `Program ${other} invoke [1]`,
    `Program data: ${finalized}`,
    `Program ${other} success`,
  ];
  const evs = parseEvents(logs);
  assert.equal(evs.length, 1);
  assert.deepEqual(evs[0], {
    name: 'BatchCommitted',
    data: { index: 5n, root, jobCount: 9, slot: 77n, feeTotal: 3000n, faultReserve: 50n },
  });
  assert.equal(decodeEventData('not base64 of an event'), null);
  assert.equal(decodeEventData(Buffer.alloc(12).toString('base64')), null);
});

test('error mapping: JSON-RPC shapes, logs, SendTransactionError, anchor and runtime errors', () => {
  const logs = [`Program ${id} invoke [1]`, `Program ${id} failed: custom program error: 0x1778`];
  assert.equal(
    mapTransactionError({ InstructionError: [1, { Custom: 6008 }] }, logs)?.code,
    'PROGRAM_NOTHING_UNBONDING',
  );
  assert.equal(mapTransactionError(null, logs)?.code, 'PROGRAM_NOTHING_UNBONDING');
  assert.equal(mapTransactionError(null, [])?.code, undefined);
  assert.equal(
    mapTransactionError({ InstructionError: [0, { Custom: 2040 }] })?.code,
    'PROGRAM_CONSTRAINT_DUPLICATE_MUTABLE_ACCOUNT',
  );
  assert.equal(mapTransactionError({ InstructionError: [0, 'InvalidSeeds'] })?.code, 'PROGRAM_INVALID_SEEDS');
  assert.equal(mapTransactionError('BlockhashNotFound')?.code, 'TRANSACTION_BLOCKHASH_NOT_FOUND');
  assert.equal(
    mapTransactionError({ InsufficientFundsForRent: { account_index: 2 } })?.code,
    'TRANSACTION_INSUFFICIENT_FUNDS_FOR_RENT',
  );
  const sys = [
    `Program ${id} invoke [1]`,
    'Program 11111111111111111111111111111111 invoke [2]',
    'Program 11111111111111111111111111111111 failed: custom program error: 0x0',
    `Program ${id} failed: custom program error: 0x0`,
  ];
  assert.equal(
    mapTransactionError({ InstructionError: [0, { Custom: 0 }] }, sys)?.code,
    'PROGRAM_ACCOUNT_ALREADY_IN_USE',
  );

  const e = mapTransactionError({ InstructionError: [2, { Custom: 6025 }] }, logs)!;
  assert.equal(e.code, 'PROGRAM_NOT_YOUR_TURN');
  assert.equal(e.message, "It is not this side's turn");
  assert.deepEqual(
    { ...(e.details as object), logs: undefined },
    { source: 'program', name: 'NotYourTurn', customCode: 6025, instruction: 2, logs: undefined },
  );

  const ste = new SendTransactionError({
    action: 'simulate',
    signature: '',
    transactionMessage:
      'Transaction simulation failed: Error processing Instruction 0: custom program error: 0x177c',
    logs: [],
  });
  assert.equal(mapThrownError(ste)?.code, 'PROGRAM_WINDOW_CLOSED');
  assert.equal(
    mapThrownError(
      new Error(
        'Transaction simulation failed: Error processing Instruction 1: invalid account data for instruction',
      ),
    )?.code,
    'PROGRAM_INVALID_ACCOUNT_DATA_FOR_INSTRUCTION',
  );
  assert.equal(mapThrownError(new Error('fetch failed')), null);
});
