// Review 14b: attacks on data availability and user deposits, stopped by the unbond delay covering a data request's answer time and by the client keeping its own voucher total.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Keypair } from '@solana/web3.js';
import { World, PARAMS, attempt, type CommittedBatch, type TxResult } from './lib/game.ts';
import { mlpModel } from './lib/model.ts';
import * as P from './lib/protocol.ts';
import { DATA_ANSWER_SLOTS } from '../../settlement/instructions.ts';
import { submitCommand } from '../../cli/commands/submit.ts';

const SOL = 1_000_000_000n;

async function setup() {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  const executor = await world.operator(10n * SOL);
  const requester = world.fund(5n * SOL);
  const b = await world.commitBatch(0, executor, P.sha(Buffer.from('honest output')));
  return { world, executor, requester, b };
}

const request = (world: World, by: Keypair, b: CommittedBatch, job: number): Promise<TxResult> =>
  attempt(world.client.requestData(by, b.index, job));
const timeout = (world: World, by: Keypair, b: CommittedBatch, job: number): Promise<TxResult> =>
  attempt(world.client.claimDataTimeout(by, b.index, job));

test('unbond escape: a withholding sequencer that unbonds cannot withdraw before the deadline of a data request made at the last window slot (+156): the timeout slashes its bond', async () => {
  const { world, requester, b } = await setup();
  const seq = world.sequencer;
  // The authority shortens the window (an ordinary operational change): the unbond delay of new
  // requests drops, and only latest_dispute_end + 150 still holds batch 0's bond.
  world.must(
    await attempt(
      world.client.updateConfig(world.authority, {
        params: { challengeWindow: 100n, clockSlots: 100n, unbondingSlots: 100n + 200n + 150n },
      }),
    ),
    'update_config (shorter window)',
  );
  const op = await world.operatorOf(seq.publicKey);
  const free = op.bonded - op.locked - op.unbonding;
  assert.ok(free >= PARAMS.minExecutorBond, 'the sequencer was bonded for its commit');
  world.must(await attempt(world.client.requestUnbond(seq, free)), 'request_unbond (all free bond)');
  // The requester asks at the last slot of batch 0's window: deadline = that slot + max(clock, 156).
  world.warp(PARAMS.challengeWindow - 1n);
  const reqBefore = world.balance(requester.publicKey);
  world.must(await request(world, requester, b, 1), 'request_data at the last window slot');
  // 151 slots later (window end + 150) the bond is out; the answer is still due for 5 slots.
  world.warp(151n);
  const w = await attempt(world.client.withdraw(seq));
  assert.equal(w.error, 'UnbondingNotReady', 'no withdrawal while a data request can still time out');
  world.warp(BigInt(DATA_ANSWER_SLOTS));
  world.must(await timeout(world, requester, b, 1), 'claim_data_timeout');
  const slashed = (await world.operatorOf(seq.publicKey)).slashed;
  const gained = world.balance(requester.publicKey) - reqBefore;
  console.log(`unbond escape: withdraw ${w.error ?? 'ok'}, slash ${slashed}, requester net ${gained}`);
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  // What should hold: the withholding sequencer pays one fault slash, the requester ends richer.
  assert.equal(slashed, PARAMS.minExecutorBond, 'the withholding sequencer is slashed one fault slash');
  assert.ok(gained > 0n, `the honest requester ends richer (net ${gained} lamports)`);
});

test('voucher inflation: a node reporting an inflated running total gets no voucher for it: optinfer submit signs from its own record (KEYPAIR.vouchers.json), and refuses when it has none', async () => {
  const world = new World();
  await world.init();
  const user = world.fund();
  const DEPOSIT = 1_000_000n;
  const FEE = 1000n;
  world.must(await attempt(world.client.deposit(user, DEPOSIT)), 'deposit');
  // The sequencer's node answers GET /v1/deposits/:user with a running total just under the balance.
  const payments: { user: string; cumulative: string; signature: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET' && req.url?.startsWith('/v1/deposits/')) {
        res.end(
          JSON.stringify({
            user: user.publicKey.toBase58(),
            programId: world.sender.programId.toBase58(),
            sequencer: world.sequencer.publicKey.toBase58(),
            balance: DEPOSIT.toString(),
            drawn: '0',
            owed: '0',
            available: DEPOSIT.toString(),
            cumulative: (DEPOSIT - FEE).toString(),
            withdrawing: false,
          }),
        );
      } else if (req.method === 'POST' && req.url === '/v1/jobs') {
        payments.push(JSON.parse(body).payment);
        res.end(JSON.stringify({ jobId: 'aa'.repeat(32) }));
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'rev14b-'));
  const kp = join(dir, 'user.json');
  writeFileSync(kp, JSON.stringify(Array.from(user.secretKey)));
  const input = join(dir, 'in.json');
  writeFileSync(input, JSON.stringify({ inputs: { x: { dtype: 'int8', dims: [1], data: [1] } } }));
  const submit = () =>
    submitCommand({
      model: 'bb'.repeat(32),
      input,
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      wait: false,
      timeoutMs: 1000,
      keypair: kp,
      fee: FEE,
    });
  try {
    // No record on this machine and a node claiming earlier vouchers: nothing is signed.
    await assert.rejects(submit(), /has no record of them: check what you signed, then pass --voucher-total/);
    assert.equal(payments.length, 0, 'no voucher sent');
    // With its record (one earlier job of FEE), the CLI signs its own total plus this fee.
    writeFileSync(
      `${kp}.vouchers.json`,
      JSON.stringify({
        [`${world.sender.programId.toBase58()}/${world.sequencer.publicKey.toBase58()}`]: FEE.toString(),
      }),
    );
    await submit();
  } finally {
    server.close();
  }
  const record = JSON.parse(readFileSync(`${kp}.vouchers.json`, 'utf8')) as Record<string, string>;
  assert.deepEqual(Object.values(record), [(2n * FEE).toString()], 'the record holds the new total');
  assert.equal(payments.length, 1, 'the CLI sent one payment');
  const payment = payments[0];
  world.must(
    await attempt(
      world.client.drawDeposit(world.sequencer, {
        user: user.publicKey,
        cumulative: BigInt(payment.cumulative),
        signature: Buffer.from(payment.signature, 'hex'),
      }),
    ),
    'draw_deposit',
  );
  const drawn = (await world.client.fetchDeposit(user.publicKey))!.drawn;
  console.log(`voucher inflation: one job of fee ${FEE}, voucher for ${payment.cumulative}, drawn ${drawn}`);
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(drawn, 2n * FEE, `the user paid its two jobs' fees, not the node's figure (drawn ${drawn})`);
});
