// The payment gate and HTTP 402: a job is taken only with a voucher raising the user's running total by its fee, within its deposit.
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { Keypair, PublicKey } from '@solana/web3.js';
import { submitCommand } from '../cli/commands/submit.ts';
import { isOptinferError } from '../state/errors.ts';
import { signVoucher } from '../state/voucher.ts';
import { buildHttp } from './http.ts';
import { PaymentGate, drawVouchers, parsePayment, type DepositView, type Payment } from './payments.ts';
import { World, attempt } from '../programs/tests/lib/game.ts';
import type { Sequencer } from './sequencer.ts';
import { MODEL_ID } from './testing.ts';

const programId = Keypair.generate().publicKey;
const seqKey = Keypair.generate().publicKey;

function world() {
  const deposits = new Map<string, DepositView>();
  const gate = new PaymentGate(programId, seqKey, async (u) => deposits.get(u.toBase58()) ?? null);
  const user = Keypair.generate();
  const pay = (cumulative: bigint, by = user, sequencer = seqKey): Payment => ({
    user: user.publicKey,
    cumulative,
    signature: signVoucher({ programId, user: by.publicKey, sequencer, cumulative }, by.secretKey),
  });
  const fund = (balance: bigint, drawn = 0n, withdrawReadySlot = 0n) =>
    deposits.set(user.publicKey.toBase58(), { balance, drawn, withdrawReadySlot });
  return { gate, user, pay, fund };
}

const refuses = async (p: Promise<unknown>, code: string, re: RegExp) =>
  assert.rejects(p, (e: unknown) => isOptinferError(e) && e.code === code && re.test(e.message));

test('payment gate: no voucher, no deposit or a short one is PAYMENT_REQUIRED naming the balance and the fee', async () => {
  const w = world();
  await refuses(
    w.gate.reserve(undefined, 700n),
    'PAYMENT_REQUIRED',
    /job fee 700 lamports: payment required/,
  );
  await refuses(
    w.gate.reserve(w.pay(700n), 700n),
    'PAYMENT_REQUIRED',
    /balance 0 lamports available, job fee 700 lamports/,
  );
  w.fund(500n);
  await refuses(
    w.gate.reserve(w.pay(700n), 700n),
    'PAYMENT_REQUIRED',
    /balance 500 lamports available, job fee 700 lamports/,
  );
  w.fund(5000n, 0n, 123n);
  await refuses(w.gate.reserve(w.pay(700n), 700n), 'PAYMENT_REQUIRED', /withdrawal is pending/);
});

test('payment gate: each job raises the running total by its fee; a replayed, low or forged voucher is refused', async () => {
  const w = world();
  w.fund(2000n);
  await w.gate.reserve(w.pay(700n), 700n);
  // The same voucher again (a replay) covers no new fee.
  await refuses(
    w.gate.reserve(w.pay(700n), 700n),
    'PAYMENT_REQUIRED',
    /expected at least 1400 \(running total 700 \+ job fee 700\)/,
  );
  await refuses(w.gate.reserve(w.pay(1000n), 700n), 'PAYMENT_REQUIRED', /expected at least 1400/);
  // Signed by another key, or for another sequencer.
  const other = Keypair.generate();
  await refuses(
    w.gate.reserve({ ...w.pay(1400n, other), user: w.user.publicKey }, 700n),
    'INVALID_INPUT',
    /not .* voucher/,
  );
  await refuses(
    w.gate.reserve(w.pay(1400n, w.user, Keypair.generate().publicKey), 700n),
    'INVALID_INPUT',
    /not .* voucher/,
  );
  await w.gate.reserve(w.pay(1400n), 700n);
  // 600 left: a 700-lamport job is short even with a voucher for it.
  await refuses(
    w.gate.reserve(w.pay(2100n), 700n),
    'PAYMENT_REQUIRED',
    /balance 600 lamports available, job fee 700 lamports/,
  );
  assert.deepEqual(await w.gate.standing(w.user.publicKey), {
    user: w.user.publicKey.toBase58(),
    programId: programId.toBase58(),
    sequencer: seqKey.toBase58(),
    balance: '2000',
    drawn: '0',
    owed: '1400',
    available: '600',
    cumulative: '1400',
    withdrawing: false,
  });
  const [v] = w.gate.vouchers();
  assert.equal(v.cumulative, 1400n);
});

test("payment gate: the chain's drawn counts (after a restart), and an undone reservation frees its fee", async () => {
  const w = world();
  // The node restarted: it holds no voucher, the chain says 1000 was drawn of a 3000 deposit.
  w.fund(2000n, 1000n);
  await refuses(w.gate.reserve(w.pay(1500n), 700n), 'PAYMENT_REQUIRED', /expected at least 1700/);
  const undo = await w.gate.reserve(w.pay(1700n), 700n);
  assert.equal((await w.gate.standing(w.user.publicKey)).available, '1300');
  undo();
  assert.equal((await w.gate.standing(w.user.publicKey)).available, '2000');
  assert.deepEqual(w.gate.vouchers(), []);
});

test('parsePayment: a key, a u64 and 128 hex digits; anything else is named', () => {
  const user = Keypair.generate().publicKey;
  const p = parsePayment({
    user: user.toBase58(),
    cumulative: '18446744073709551615',
    signature: 'ab'.repeat(64),
  });
  assert.ok(p && p.user.equals(user) && p.cumulative === 2n ** 64n - 1n && p.signature.length === 64);
  assert.equal(parsePayment(undefined), undefined);
  for (const [v, re] of [
    [7, /not an object/],
    [{ user: 'x', cumulative: '1', signature: 'ab'.repeat(64) }, /user "x"/],
    [{ user: user.toBase58(), cumulative: '18446744073709551616', signature: 'ab'.repeat(64) }, /cumulative/],
    [{ user: user.toBase58(), cumulative: '-1', signature: 'ab'.repeat(64) }, /cumulative/],
    [{ user: user.toBase58(), cumulative: '1', signature: 'AB'.repeat(64) }, /signature/],
  ] as const) {
    assert.throws(
      () => parsePayment(v),
      (e: unknown) => isOptinferError(e, 'INVALID_INPUT') && re.test(e.message),
    );
  }
});

test('HTTP: POST /v1/jobs without enough deposit is a 402 naming the balance and the fee; GET /v1/deposits/:user shows the balance', async () => {
  const w = world();
  w.fund(1000n);
  const submitted: bigint[] = [];
  const seq = {
    config: { maxModelBytes: 1 << 20, defaultFeeLamports: 400n },
    submit: async (r: { fee?: bigint }) => {
      submitted.push(r.fee ?? 400n);
      return { jobId: 'cd'.repeat(32) };
    },
  } as unknown as Sequencer;
  const app = buildHttp({ sequencer: seq, payments: w.gate });
  const job = (payment?: Payment, fee?: number) => ({
    modelId: MODEL_ID,
    inputs: { x: { dtype: 'int8', dims: [1, 2], data: [1, 2] } },
    ...(fee === undefined ? {} : { fee }),
    ...(payment && {
      payment: {
        user: payment.user.toBase58(),
        cumulative: payment.cumulative.toString(),
        signature: Buffer.from(payment.signature).toString('hex'),
      },
    }),
  });
  const post = (body: unknown) => app.inject({ method: 'POST', url: '/v1/jobs', payload: body as object });
  let r = await post(job(undefined, 700));
  assert.equal(r.statusCode, 402);
  assert.equal(r.json().error.code, 'PAYMENT_REQUIRED');
  r = await post(job(w.pay(1200n), 1200));
  assert.equal(r.statusCode, 402);
  assert.match(r.json().error.message, /balance 1000 lamports available, job fee 1200 lamports/);
  r = await post(job(w.pay(400n)));
  assert.equal(r.statusCode, 202, r.body);
  r = await post(job(w.pay(800n), 400));
  assert.equal(r.statusCode, 202, r.body);
  assert.deepEqual(submitted, [400n, 400n]);
  // Free ride (review 17): a job naming a fee below the node's minimum is refused, voucher or not.
  r = await post(job(undefined, 0));
  assert.equal(r.statusCode, 402);
  assert.match(r.json().error.message, /job fee 0 lamports is below this node's minimum of 400 lamports/);
  assert.equal((await post(job(w.pay(1200n), 399))).statusCode, 402);
  r = await app.inject({ method: 'GET', url: `/v1/deposits/${w.user.publicKey.toBase58()}` });
  assert.equal(r.statusCode, 200);
  assert.equal(r.json().available, '200');
  assert.equal(r.json().owed, '800');
  assert.equal((await app.inject({ method: 'GET', url: '/v1/deposits/nokey' })).statusCode, 400);
  await app.close();
  // A node without payments shows no deposits.
  const plain = buildHttp({ sequencer: seq });
  assert.equal(
    (await plain.inject({ method: 'GET', url: `/v1/deposits/${PublicKey.default.toBase58()}` })).statusCode,
    404,
  );
  await plain.close();
});

test('optinfer submit --keypair: shows the balance, signs the voucher for the running total plus the fee; a short deposit is a 402', async () => {
  const w = world();
  w.fund(5000n);
  const seq = {
    config: { maxModelBytes: 1 << 20, defaultFeeLamports: 1000n },
    submit: async () => ({ jobId: 'cd'.repeat(32) }),
  } as unknown as Sequencer;
  const app = buildHttp({ sequencer: seq, payments: w.gate });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-pay-'));
  const keypair = join(dir, 'user.json');
  writeFileSync(keypair, JSON.stringify([...w.user.secretKey]));
  const input = join(dir, 'in.json');
  writeFileSync(input, JSON.stringify({ inputs: { x: { dtype: 'int8', dims: [1, 2], data: [1, 2] } } }));
  const err: string[] = [];
  const out: string[] = [];
  const [e0, o0] = [process.stderr.write, process.stdout.write];
  process.stderr.write = ((s: string) => err.push(s) > 0) as typeof process.stderr.write;
  process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
  const submit = (fee?: bigint) =>
    submitCommand({ model: MODEL_ID, input, url, wait: false, timeoutMs: 1000, keypair, fee });
  try {
    assert.equal(await submit(), 0);
    assert.equal(await submit(3000n), 0);
    await assert.rejects(
      submit(2000n),
      (e: unknown) =>
        isOptinferError(e, 'PAYMENT_REQUIRED') &&
        /HTTP 402.*balance 1000 lamports available, job fee 2000 lamports/.test(e.message),
    );
  } finally {
    process.stderr.write = e0;
    process.stdout.write = o0;
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.match(err[0], /balance 5000 lamports, 5000 available; this job's fee 1000/);
  assert.match(err[1], /balance 5000 lamports, 4000 available; this job's fee 3000/);
  assert.equal(out.length, 2);
  assert.equal(w.gate.vouchers()[0].cumulative, 4000n);
});

test('drawVouchers: the sequencer draws up to the cap it may charge, then the rest, each lamport once (LiteSVM)', async () => {
  const chain = new World();
  await chain.init();
  const user = chain.fund();
  chain.must(await attempt(chain.client.deposit(user, 10_000n)), 'deposit');
  const gate = new PaymentGate(chain.sender.programId, chain.sequencer.publicKey, (u) =>
    chain.client.fetchDeposit(u),
  );
  const pay = (cumulative: bigint): Payment => ({
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
  for (const c of [1000n, 2000n, 3000n]) await gate.reserve(pay(c), 1000n);
  // Only the first two jobs finalized: the sequencer charges 2000.
  assert.deepEqual(
    (await drawVouchers(gate, chain.client, chain.sequencer, () => 2000n)).map((p) => p.amount),
    [2000n],
  );
  assert.equal((await chain.client.fetchDeposit(user.publicKey))!.drawn, 2000n);
  assert.deepEqual(
    (await drawVouchers(gate, chain.client, chain.sequencer)).map((p) => p.amount),
    [1000n],
  );
  assert.deepEqual(await drawVouchers(gate, chain.client, chain.sequencer), []);
  const d = (await chain.client.fetchDeposit(user.publicKey))!;
  assert.equal(d.balance, 7000n);
  assert.equal(d.drawn, 3000n);
  assert.equal((await gate.standing(user.publicKey)).available, '7000');
  assert.equal(chain.unaccountedLamports(), 0n, 'lamports conserved');
});
