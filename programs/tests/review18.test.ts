// Review 18's attacks on user payments: charges for jobs never served, and a withdrawal that outruns the node's draw pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Keypair } from '@solana/web3.js';
import { World, attempt } from './lib/game.ts';
import { buildHttp } from '../../sequencer/http.ts';
import { Ledger } from '../../sequencer/ledger.ts';
import { PaymentGate, drawVouchers, type Payment } from '../../sequencer/payments.ts';
import type { Sequencer } from '../../sequencer/sequencer.ts';
import { MODEL_ID } from '../../sequencer/testing.ts';
import type { SettlementClient } from '../../settlement/client.ts';
import { minUnbondingSlots } from '../../settlement/instructions.ts';
import { OptinferError } from '../../state/errors.ts';
import { Store } from '../../state/store.ts';
import { signVoucher } from '../../state/voucher.ts';

/** `optinfer chain init`'s defaults: challenge window 150 slots, clocks 150 slots (the withdrawal delay). */
const WINDOW = 150n;
const CLOCK = 150n;

async function world(): Promise<World> {
  const chain = new World();
  await chain.init({
    challengeWindow: WINDOW,
    clockSlots: CLOCK,
    unbondingSlots: minUnbondingSlots(WINDOW, CLOCK),
  });
  return chain;
}

function payer(chain: World, user: Keypair): (cumulative: bigint) => Payment {
  return (cumulative) => ({
    user: user.publicKey,
    cumulative,
    signature: signVoucher(
      {
        programId: chain.sender.programId,
        user: user.publicKey,
        sequencer: chain.sequencer.publicKey,
        cumulative,
      },
      user.secretKey,
    ),
  });
}

test('charged for a failed job: the honest node draws the fee of a job that failed on every executor once its user asks for a withdrawal', async () => {
  const chain = await world();
  const user = chain.fund();
  chain.must(await attempt(chain.client.deposit(user, 10_000n)), 'deposit');
  const gate = new PaymentGate(chain.sender.programId, chain.sequencer.publicKey, (u) =>
    chain.client.fetchDeposit(u),
  );
  const pay = payer(chain, user);
  // Three jobs of 1000 lamports, one at a time. The second fails on every executor (Dispatcher.fail: status
  // 'failed', never batched, never in `charges`); the user sees it failed and goes on: the gate asks its next
  // voucher for 2000 + 1000, the failed job's fee included (spent = the held voucher 2000).
  await gate.reserve(pay(1000n), 1000n);
  await gate.reserve(pay(2000n), 1000n); // the job that fails
  assert.equal(
    (await gate.standing(user.publicKey)).cumulative,
    '2000',
    'the failed job stays in the running total',
  );
  await gate.reserve(pay(3000n), 1000n);
  // Jobs 1 and 3 finalize: the settlement loop's cap (ledger.charges) is 2000.
  const cap = () => 2000n;
  await drawVouchers(gate, chain.client, chain.sequencer, cap);
  assert.equal(
    (await chain.client.fetchDeposit(user.publicKey))!.drawn,
    2000n,
    'capped: the two served jobs',
  );
  // Later the user asks for what is left; the watch draws up to its finalized and committed fees (the node's cap
  // while withdrawing: 2000 finalized, nothing else committed), never the failed job's.
  chain.must(await attempt(chain.client.requestWithdrawDeposit(user)), 'request_withdraw_deposit');
  await drawVouchers(gate, chain.client, chain.sequencer, cap);
  chain.warp(CLOCK);
  chain.must(await attempt(chain.client.withdrawDeposit(user)), 'withdraw_deposit');
  assert.equal(chain.unaccountedLamports(), 0n, 'lamports conserved');
  const drawn = (await chain.client.fetchDeposit(user.publicKey))!.drawn;
  // PROTOCOL: "an honest sequencer draws only the fees of finalized jobs, so a deposit drops by exactly those fees".
  assert.equal(drawn, 2000n, `the honest node drew ${drawn} lamports for two served jobs of 1000`);
});

test('charged for a refused job: of two pipelined jobs the first is refused after the second was taken; its fee stays in the voucher drawn at withdrawal', async () => {
  const chain = await world();
  const user = chain.fund();
  chain.must(await attempt(chain.client.deposit(user, 10_000n)), 'deposit');
  const gate = new PaymentGate(chain.sender.programId, chain.sequencer.publicKey, (u) =>
    chain.client.fetchDeposit(u),
  );
  const pay = payer(chain, user);
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let calls = 0;
  const accepted: number[] = [];
  const seq = {
    config: { maxModelBytes: 1 << 20, defaultFeeLamports: 1000n },
    submit: async () => {
      const n = ++calls;
      if (n === 1) {
        // The first job is refused after its voucher was taken (e.g. the queue is full, or the node is damaged).
        await held;
        throw new OptinferError('UNAVAILABLE', 'queue full');
      }
      accepted.push(n);
      return { jobId: 'cd'.repeat(32) };
    },
  } as unknown as Sequencer;
  const app = buildHttp({ sequencer: seq, payments: gate });
  const job = (cumulative: bigint) => {
    const p = pay(cumulative);
    return app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: {
        modelId: MODEL_ID,
        inputs: { x: { dtype: 'int8', dims: [1, 2], data: [1, 2] } },
        fee: 1000,
        payment: {
          user: p.user.toBase58(),
          cumulative: p.cumulative.toString(),
          signature: Buffer.from(p.signature).toString('hex'),
        },
      },
    });
  };
  try {
    const first = job(1000n);
    while (calls < 1) await new Promise((r) => setTimeout(r, 5));
    const second = await job(2000n);
    assert.equal(second.statusCode, 202, second.body);
    release();
    const refused = await first;
    assert.equal(refused.statusCode, 503, refused.body);
  } finally {
    await app.close();
  }
  assert.deepEqual(accepted, [2], 'one job accepted');
  // The one accepted job is served and finalizes: cap 1000, withdrawing or not. No held voucher is at most 1000
  // (the 1000 one was undone), so the draw takes nothing: the user is not charged for the refused job; the
  // sequencer under-collects instead (the open, bounded row "refused fee inside a later voucher").
  const cap = () => 1000n;
  await drawVouchers(gate, chain.client, chain.sequencer, cap);
  chain.must(await attempt(chain.client.requestWithdrawDeposit(user)), 'request_withdraw_deposit');
  await drawVouchers(gate, chain.client, chain.sequencer, cap);
  assert.equal(chain.unaccountedLamports(), 0n, 'lamports conserved');
  const drawn = (await chain.client.fetchDeposit(user.publicKey))!.drawn;
  assert.ok(
    drawn <= 1000n,
    `drew ${drawn} lamports for one accepted job of 1000 (the refused one was "undone")`,
  );
});

test('withdrawal outruns the draw pass: sybil deposits drawn one confirmed transaction at a time delay the watch past the withdrawal delay', async () => {
  const chain = await world();
  // A confirmed transaction takes about 2 slots (0.8 s) on a real cluster: the pass draws one user after another.
  const SLOTS_PER_DRAW = 2;
  const SYBILS = Number(CLOCK) / SLOTS_PER_DRAW + 5;
  const gate = new PaymentGate(chain.sender.programId, chain.sequencer.publicKey, (u) =>
    chain.client.fetchDeposit(u),
  );
  // The sybils come first in the gate's map (insertion order): each deposits 2000 and has one 1000-lamport job
  // that finalizes in the same batch, so the pass has SYBILS draws to make before it reaches the attacker.
  const sybils: Keypair[] = [];
  for (let i = 0; i < SYBILS; i++) {
    const s = chain.fund(10_000_000n);
    chain.must(await attempt(chain.client.deposit(s, 2000n)), 'sybil deposit');
    await gate.reserve(payer(chain, s)(1000n), 1000n);
    sybils.push(s);
  }
  const attacker = chain.fund();
  chain.must(await attempt(chain.client.deposit(attacker, 1_000_000n)), 'deposit');
  const pay = payer(chain, attacker);
  // The attacker's ten jobs of 100,000 lamports are served at once; it asks for its deposit back at once.
  for (let c = 1n; c <= 10n; c++) await gate.reserve(pay(c * 100_000n), 100_000n);
  chain.must(await attempt(chain.client.requestWithdrawDeposit(attacker)), 'request_withdraw_deposit');
  const before = chain.balance(attacker.publicKey);
  let elapsed = 0n;
  let withdrawn = false;
  const client = {
    fetchDeposit: (u: Parameters<SettlementClient['fetchDeposit']>[0]) => chain.client.fetchDeposit(u),
    drawDeposit: async (...a: Parameters<SettlementClient['drawDeposit']>) => {
      const r = await chain.client.drawDeposit(...a);
      chain.warp(SLOTS_PER_DRAW);
      elapsed += BigInt(SLOTS_PER_DRAW);
      // The attacker's withdraw_deposit lands as soon as the delay is over, while the pass is still drawing sybils.
      if (!withdrawn && elapsed >= CLOCK) {
        chain.must(await attempt(chain.client.withdrawDeposit(attacker)), 'withdraw_deposit');
        withdrawn = true;
      }
      return r;
    },
  } as unknown as SettlementClient;
  const caps = new Map(sybils.map((s) => [s.publicKey.toBase58(), 1000n]));
  // The node's caps: the sybils' finalized 1000 each; the attacker's ten jobs are committed (served, not final),
  // which its pending withdrawal adds.
  const paid = await drawVouchers(gate, client, chain.sequencer, (u, w) =>
    u.equals(attacker.publicKey) ? (w ? 1_000_000n : 0n) : (caps.get(u.toBase58()) ?? 0n),
  );
  assert.equal(chain.unaccountedLamports(), 0n, 'lamports conserved');
  const got = paid.filter((p) => p.user.equals(attacker.publicKey)).reduce((a, p) => a + p.amount, 0n);
  const refunded = chain.balance(attacker.publicKey) - before;
  assert.equal(
    got,
    1_000_000n,
    `the node drew ${got} of the attacker's 1,000,000 lamports of served fees; the attacker withdrew ${refunded} (withdrawn: ${withdrawn})`,
  );
});

test('restart with a withdrawal pending: the vouchers taken before the restart are on disk and the first pass draws them (held)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rev18-'));
  const chain = await world();
  const user = chain.fund();
  chain.must(await attempt(chain.client.deposit(user, 10_000n)), 'deposit');
  const pay = payer(chain, user);
  // Sequencer.voucherStore over the node's LevelDB.
  const open = async () => {
    const store = await Store.open(dir);
    const ledger = new Ledger(store);
    const t = ledger.vouchers;
    const gate = new PaymentGate(
      chain.sender.programId,
      chain.sequencer.publicKey,
      (u) => chain.client.fetchDeposit(u),
      {
        load: () => t.entries(),
        save: (u, list) => ledger.write([list.length ? t.put(u, list) : t.del(u)]),
      },
    );
    await gate.load();
    return { store, gate };
  };
  try {
    const first = await open();
    for (const c of [1000n, 2000n, 3000n]) await first.gate.reserve(pay(c), 1000n);
    chain.must(await attempt(chain.client.requestWithdrawDeposit(user)), 'request_withdraw_deposit');
    await first.store.close();
    const second = await open();
    // The three jobs are committed, not final: the withdrawing cap is 3000.
    const paid = await drawVouchers(second.gate, chain.client, chain.sequencer, (_, w) => (w ? 3000n : 0n));
    await second.store.close();
    chain.warp(CLOCK);
    chain.must(await attempt(chain.client.withdrawDeposit(user)), 'withdraw_deposit');
    assert.deepEqual(
      paid.map((p) => p.amount),
      [3000n],
    );
    assert.equal(chain.unaccountedLamports(), 0n, 'lamports conserved');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
