// Bonding on joining the chain: top up to the larger of the configured bond and the program's minimum, once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair, type PublicKey } from '@solana/web3.js';
import { silentLogger } from '../common/log.ts';
import type { SettlementClient } from '../settlement/index.ts';
import { bondUpTo, joinChain } from './bonding.ts';

/** The three calls bonding makes, over an in-memory operator account. */
function fakeClient(minExecutorBond: bigint, op: { bonded: bigint; unbonding: bigint } | null) {
  const deposits: bigint[] = [];
  const client = {
    config: async () => ({ minExecutorBond }),
    fetchOperator: async (_k: PublicKey) => op,
    bond: async (_k: Keypair, lamports: bigint) => {
      deposits.push(lamports);
      op = { bonded: (op?.bonded ?? 0n) + lamports, unbonding: op?.unbonding ?? 0n };
    },
  } as unknown as SettlementClient;
  return { client, deposits };
}

test('a new executor deposits the larger of its configured bond and the minimum', async () => {
  const small = fakeClient(5_000n, null);
  assert.equal(
    await bondUpTo({ client: small.client, bondLamports: 1_000n }, Keypair.generate(), silentLogger),
    5_000n,
  );
  assert.deepEqual(small.deposits, [5_000n]);
  const big = fakeClient(5_000n, null);
  assert.equal(
    await bondUpTo({ client: big.client, bondLamports: 9_000n }, Keypair.generate(), silentLogger),
    9_000n,
  );
  assert.deepEqual(big.deposits, [9_000n]);
});

test('a restart deposits nothing when the bond (locked stakes included) is there, and tops up what unbonds', async () => {
  const whole = fakeClient(5_000n, { bonded: 5_000n, unbonding: 0n });
  assert.equal(
    await bondUpTo({ client: whole.client, bondLamports: 0n }, Keypair.generate(), silentLogger),
    0n,
  );
  assert.deepEqual(whole.deposits, []);
  const leaving = fakeClient(5_000n, { bonded: 5_000n, unbonding: 2_000n });
  await bondUpTo({ client: leaving.client, bondLamports: 0n }, Keypair.generate(), silentLogger);
  assert.deepEqual(leaving.deposits, [2_000n]);
});

test('an executor whose policy does not play disputes bonds but runs no dispute driver', async () => {
  const f = fakeClient(5_000n, null);
  const driver = await joinChain({
    chain: { client: f.client, bondLamports: 0n },
    keypair: Keypair.generate(),
    views: async () => null,
    plays: false,
    log: silentLogger,
  });
  assert.equal(driver, null);
  assert.deepEqual(f.deposits, [5_000n]);
});
