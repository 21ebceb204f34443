// Measures the in-process chain through the client: LiteSVM start-up with the program loaded, and
// transactions per second for commit_batch and bond (signed, serialized, executed, events decoded).
// Run: node --import tsx settlement/bench.ts
import { performance } from 'node:perf_hooks';
import { Keypair } from '@solana/web3.js';
import { connectLocal } from './connect.ts';
import { UNBONDING_MARGIN_SLOTS } from './instructions.ts';

const t0 = performance.now();
const { client, sender } = connectLocal();
const startMs = performance.now() - t0;

const authority = Keypair.generate();
sender.airdrop(authority.publicKey, 1_000_000_000_000n);
await client.initialize(authority, {
  sequencer: authority.publicKey,
  treasury: Keypair.generate().publicKey,
  challengeWindow: 100n,
  clockSlots: 20n,
  // bountyBps of it must repay a Dispute and a Job account's rent plus FEE_MARGIN_LAMPORTS (BountyBelowCosts).
  minExecutorBond: 50_000_000n,
  // At least a Dispute account's rent (the program refuses less).
  minChallengerBond: 10_000_000n,
  unbondingSlots: 100n + 2n * 20n + UNBONDING_MARGIN_SLOTS,
  bountyBps: 5000,
});

async function rate(what: string, n: number, f: (i: number) => Promise<unknown>) {
  const t = performance.now();
  for (let i = 0; i < n; i++) await f(i);
  const s = (performance.now() - t) / 1000;
  return { what, txs: n, seconds: +s.toFixed(3), 'tx/s': Math.round(n / s) };
}

const rows = [
  await rate('commit_batch', 2000, (i) =>
    client.commitBatch(authority, { index: i, root: Buffer.alloc(32, i & 0xff), jobCount: 64 }),
  ),
  await rate('bond', 2000, () => client.bond(authority, 1000n)),
  await rate('fetchBatch (account read + decode)', 2000, (i) => client.fetchBatch(i)),
];
console.log(`LiteSVM start-up with optinfer.so loaded: ${startMs.toFixed(0)} ms`);
console.table(rows);
