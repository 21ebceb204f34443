// `optinfer withdraw-deposit` and the rent outstanding `optinfer earnings` shows, on the real program in LiteSVM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import { LocalWorld } from '../../settlement/testkit.ts';
import {
  LiteSvmSender,
  SettlementClient,
  closeSlot,
  rentExempt,
  toRealSlot,
  type Sender,
} from '../../settlement/index.ts';
import { depositCommand, withdrawDepositCommand } from '../../cli/commands/deposit.ts';
import { saveKeypair } from '../../common/keys.ts';
import { exitCode, isOptinferError } from '../../state/errors.ts';
import { operatorStatusView, operatorsView } from '../../sequencer/chain-views.ts';
import { runCli } from '../helpers/node-process.ts';

/** What `f` writes to stdout, and its exit code. */
async function capture(f: () => Promise<number>): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
  try {
    return { code: await f(), out: out.join('') };
  } finally {
    process.stdout.write = write;
  }
}

/** Runs `f`, expecting an OptinferError with `code` whose message matches `re`; its exit code is a user error's. */
async function refused(f: () => Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(f, (e: unknown) => {
    assert.ok(isOptinferError(e), String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    assert.equal(exitCode(e.code), 2);
    return true;
  });
}

function world(over: Parameters<LocalWorld['params']>[0] = {}) {
  const w = new LocalWorld();
  const p = w.params(over);
  return { w, p, init: () => w.client.initialize(w.authority, p) };
}

function userFile(w: LocalWorld): { user: Keypair; file: string } {
  const user = w.fund(10_000_000_000n);
  const file = join(mkdtempSync(join(tmpdir(), 'optinfer-money-')), 'user.json');
  saveKeypair(file, user);
  return { user, file };
}

test(
  'withdraw-deposit: no deposit is named, a request prints its ready slot, too early names both slots, then the whole balance comes back, then empty',
  { timeout: 60_000 },
  async () => {
    const { w, init } = world();
    await init();
    const { user, file } = userFile(w);
    const c = w.client;
    const o = { rpc: 'litesvm', keypair: file, json: true, client: c };

    await refused(
      () => withdrawDepositCommand(o),
      'NOT_FOUND',
      new RegExp(`${user.publicKey.toBase58()} has no deposit on the program.*optinfer deposit`),
    );

    assert.equal((await capture(() => depositCommand({ ...o, lamports: 50_000n }))).code, 0);
    const vault = c.pdas.deposit(user.publicKey);
    const held = w.sender.balance(vault);

    const slot = await w.sender.getSlot();
    const req = await capture(() => withdrawDepositCommand(o));
    assert.equal(req.code, 0);
    const r = JSON.parse(req.out);
    const config = await c.config();
    assert.equal(r.action, 'requested');
    assert.equal(r.balance, '50000');
    assert.equal(r.readySlot, toRealSlot(config, slot + config.clockSlots).toString());
    assert.equal((await c.fetchDeposit(user.publicKey))!.withdrawReadySlot, BigInt(r.readyGameSlot));

    // Too early: both slots named, nothing sent.
    await refused(
      () => withdrawDepositCommand(o),
      'PROGRAM_DEPOSIT_WITHDRAW_NOT_READY',
      new RegExp(
        `is ready from slot ${r.readySlot}, now slot ${slot} \\(${config.clockSlots} slots to go\\)`,
      ),
    );

    w.sender.warp(config.clockSlots);
    const before = w.sender.balance(user.publicKey);
    const paid = await capture(() => withdrawDepositCommand({ ...o, json: false }));
    assert.equal(paid.code, 0);
    assert.match(
      paid.out,
      new RegExp(`withdrew 50000 lamports from the deposit of ${user.publicKey.toBase58()}`),
    );
    // To the lamport: the deposit account lost exactly the balance, the user got it less one signature's fee.
    assert.equal(w.sender.balance(vault), held - 50_000n);
    assert.equal(w.sender.balance(user.publicKey), before + 50_000n - 5_000n);
    const d = await c.fetchDeposit(user.publicKey);
    assert.deepEqual([d!.balance, d!.withdrawReadySlot], [0n, 0n]);

    await refused(() => withdrawDepositCommand(o), 'PROGRAM_DEPOSIT_EMPTY', /is empty: nothing to withdraw/);
  },
);

test('withdraw-deposit: a deposit cancels a pending request, and the text says so', async () => {
  const { w, init } = world();
  await init();
  const { user, file } = userFile(w);
  const o = { rpc: 'litesvm', keypair: file, json: false, client: w.client };
  await capture(() => depositCommand({ ...o, lamports: 9_000n }));
  const req = await capture(() => withdrawDepositCommand(o));
  assert.match(req.out, /ready {6}from slot \d+ \(now slot \d+; a delay of one dispute clock, 100 slots\)/);
  assert.match(req.out, /refuses your jobs/);
  assert.match(req.out, /`optinfer deposit` cancels the request/);
  const top = await capture(() => depositCommand({ ...o, json: true, lamports: 1_000n }));
  assert.equal(JSON.parse(top.out).withdrawalCancelled, true);
  assert.equal(JSON.parse(top.out).balance, '10000');
  assert.equal((await w.client.fetchDeposit(user.publicKey))!.withdrawReadySlot, 0n);
});

/** `sender` with every read counted by method: what one view costs in RPC calls. */
function counting(sender: LiteSvmSender): { sender: Sender; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(sender, {
    get(t, p, r) {
      const v = Reflect.get(t, p, r);
      if (typeof v !== 'function' || typeof p !== 'string' || !p.startsWith('get')) return v;
      return (...a: unknown[]) => {
        calls.set(p, (calls.get(p) ?? 0) + 1);
        return v.apply(t, a);
      };
    },
  });
  return { sender: proxy, calls };
}

test(
  "earnings' rent outstanding: 50 open batches (rent, escrow, fault reserve) for the sequencer, a data request's rent and deposit for its requester; constant RPC calls; closing returns exactly what was shown",
  { timeout: 120_000 },
  async (t) => {
    const stake = 1_000_000_000n;
    const { w, init } = world({ minExecutorBond: stake, minChallengerBond: stake });
    await init();
    w.sender.airdrop(w.sequencer.publicKey, 100_000_000_000n);
    const N = 50;
    const fee = 12_345n;
    for (let i = 0; i < N; i++)
      await w.client.commitBatch(w.sequencer, {
        index: BigInt(i),
        root: Buffer.alloc(32, i + 1),
        jobCount: 4,
        feeTotal: fee,
      });
    const requester = w.fund(10_000_000_000n);
    const spentBefore = w.sender.balance(requester.publicKey);
    await w.client.requestData(requester, 1n, 2);
    const spent = spentBefore - w.sender.balance(requester.publicKey) - 5_000n;

    const { sender, calls } = counting(w.sender);
    const c = new SettlementClient(sender);
    const seq = await operatorStatusView(c, w.sequencer.publicKey, undefined, { outstanding: true });
    const one = new Map(calls);
    calls.clear();
    const all = await operatorsView(c, undefined, { outstanding: true });
    const every = new Map(calls);

    const batches = await w.client.listBatches();
    assert.equal(batches.length, N);
    const batchLamports = batches.reduce((s, b) => s + w.sender.balance(b.address), 0n);
    const rent = rentExempt(w.sender.accountData(batches[0].address)!.length);
    assert.equal(seq.role, 'sequencer');
    assert.deepEqual(seq.outstanding, {
      outstanding: batchLamports.toString(),
      rentOutstanding: (BigInt(N) * rent).toString(),
      escrowOutstanding: (BigInt(N) * fee).toString(),
      faultReservesOutstanding: (BigInt(N) * stake).toString(),
      dataRequestDepositsOutstanding: '0',
      openBatches: N,
      jobAccounts: 0,
      disputeAccounts: 0,
      dataRequests: 0,
      proofBuffers: 0,
    });
    // The requester is no operator: asked for by key it shows what request_data took from it, to the lamport.
    const req = await operatorStatusView(w.client, requester.publicKey, undefined, { outstanding: true });
    assert.equal(req.exists, false);
    assert.equal(req.outstanding!.outstanding, spent.toString());
    assert.equal(req.outstanding!.dataRequests, 1);
    assert.equal(req.outstanding!.jobAccounts, 1);
    assert.ok(BigInt(req.outstanding!.dataRequestDepositsOutstanding) > 0n);
    // The all-operators view agrees for the sequencer.
    const inAll = all.operators.find((v) => v.owner === w.sequencer.publicKey.toBase58());
    assert.deepEqual(inAll?.outstanding, seq.outstanding);

    // RPC calls do not grow with the batches: config, slot, the operator, five listings.
    const reads = (m: Map<string, number>) => [...m.values()].reduce((s, n) => s + n, 0);
    assert.equal(one.get('getProgramAccounts'), 5, JSON.stringify([...one]));
    assert.equal(reads(one), 8, JSON.stringify([...one]));
    assert.equal(every.get('getProgramAccounts'), 6, JSON.stringify([...every]));
    assert.equal(reads(every), 8, JSON.stringify([...every]));
    t.diagnostic(
      `${N} open batches: one key ${reads(one)} RPC calls (${JSON.stringify(Object.fromEntries(one))}), ` +
        `all operators ${reads(every)} (${JSON.stringify(Object.fromEntries(every))})`,
    );

    // Batch 0, finalized and closed after its grace, returns to the sequencer exactly its share shown.
    const b0 = batches[0];
    const share = w.sender.balance(b0.address);
    const config = await w.client.config();
    w.sender.warp(config.challengeWindow + 1n);
    await w.client.finalizeBatch(w.authority, 0n);
    const now = await w.sender.getSlot();
    const fin = (await w.client.fetchBatch(0n))!;
    w.sender.warp(closeSlot(fin, config) - now + 1n);
    const wallet = w.sender.balance(w.sequencer.publicKey);
    await w.client.closeBatch(w.authority, 0n);
    assert.equal(w.sender.balance(w.sequencer.publicKey) - wallet, share);
    const after = await operatorStatusView(w.client, w.sequencer.publicKey, undefined, { outstanding: true });
    assert.equal(BigInt(after.outstanding!.outstanding), batchLamports - share);
    assert.equal(after.outstanding!.openBatches, N - 1);
  },
);

test('withdraw-deposit on the command line: help names both runs; no --keypair, or no cluster, is one line and a non-zero exit', async () => {
  const help = await runCli(['withdraw-deposit', '--help']);
  assert.equal(help.code, 0, help.out);
  assert.match(help.stdout.replace(/\s+/g, ' '), /in two runs one dispute clock apart/);
  assert.match(help.stdout, /--keypair <file>/);
  const noKey = await runCli(['withdraw-deposit', '--rpc', 'http://127.0.0.1:1']);
  assert.equal(noKey.code, 2, noKey.out);
  assert.match(noKey.stderr, /--keypair <file>' not specified/);
  const file = join(mkdtempSync(join(tmpdir(), 'optinfer-money-')), 'user.json');
  saveKeypair(file, Keypair.generate());
  const down = await runCli(['withdraw-deposit', '--rpc', 'http://127.0.0.1:1', '--keypair', file]);
  assert.equal(down.code, 1, down.out);
  assert.match(
    down.stderr,
    /^optinfer: withdraw-deposit: cannot reach the cluster at http:\/\/127\.0\.0\.1:1/,
  );
  assert.doesNotMatch(down.stderr, /\n\s+at /);
});
