// The dev node's payments on its in-process chain: the default payer, a user's own voucher, HTTP 402, and the draws after finality.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair, PublicKey } from '@solana/web3.js';
import { startDev, DEV_PAYER_DEPOSIT, type DevNode } from '../../cli/roles.ts';
import { earningsCommand } from '../../cli/commands/chain.ts';
import { loadKeypair } from '../../common/keys.ts';
import { silentLogger } from '../../common/log.ts';
import type { LiteSvmSender } from '../../settlement/index.ts';
import { signVoucher } from '../../state/voucher.ts';
import { waitFor } from '../helpers/node-process.ts';

let node: DevNode;
let dataDir: string;
let user: Keypair;

function x(i: number) {
  return {
    x: { dtype: 'int8', dims: [1, 16], data: Array.from({ length: 16 }, (_, k) => ((k * 3 + i) % 90) - 45) },
  };
}

async function post(body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${node.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

async function standing(user: PublicKey): Promise<any> {
  return (await fetch(`${node.url}/v1/deposits/${user.toBase58()}`)).json();
}

function start(): Promise<DevNode> {
  return startDev({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    executors: 1,
    sampleRate: 0,
    batchMaxJobs: 4,
    batchMaxAgeMs: 100,
    challengeWindowMs: 2_000,
    cheat: { mode: 'none', rate: 0 },
    logger: silentLogger,
    chain: 'litesvm',
  });
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'optinfer-pay-'));
  node = await start();
});
after(() => node.close());

test(
  'dev node payments: the default payer pays jobs without a payment, a user pays with its voucher, a job over the balance gets 402, and finality draws exactly the fees',
  { timeout: 120_000 },
  async () => {
    const chain = node.chain!;
    const modelId = node.demoModel.modelId;
    const payer = loadKeypair(join(dataDir, 'payer-keypair.json')).publicKey;
    const payerBefore = await chain.fetchDeposit(payer);
    assert.equal(payerBefore?.balance, DEV_PAYER_DEPOSIT, 'the default payer is deposited at start');

    // A job without a payment: the default payer's running total rises by the fee.
    const a = await post({ modelId, inputs: x(1), fee: '1500' });
    assert.equal(a.status, 202, JSON.stringify(a.json));
    const b = await post({ modelId, inputs: x(2), fee: '2500' });
    assert.equal(b.status, 202, JSON.stringify(b.json));
    const p = await standing(payer);
    assert.equal(p.cumulative, '4000');
    assert.equal(p.owed, '4000');

    // A user with its own deposit and voucher.
    user = Keypair.generate();
    (chain.sender as LiteSvmSender).airdrop(user.publicKey, 1_000_000_000n);
    await chain.deposit(user, 50_000n);
    const terms = {
      programId: new PublicKey(p.programId),
      user: user.publicKey,
      sequencer: new PublicKey(p.sequencer),
    };
    const pay = (cumulative: bigint) => ({
      user: user.publicKey.toBase58(),
      cumulative: cumulative.toString(),
      signature: signVoucher({ ...terms, cumulative }, user.secretKey).toString('hex'),
    });
    const c = await post({ modelId, inputs: x(3), fee: '7000', payment: pay(7_000n) });
    assert.equal(c.status, 202, JSON.stringify(c.json));
    assert.equal((await standing(user.publicKey)).available, '43000');

    // Over the balance: 402 naming what is available and the fee; nothing taken.
    const d = await post({ modelId, inputs: x(4), fee: '60000', payment: pay(67_000n) });
    assert.equal(d.status, 402, JSON.stringify(d.json));
    assert.match(JSON.stringify(d.json), /balance 43000 lamports available, job fee 60000 lamports/);
    assert.equal((await standing(user.publicKey)).cumulative, '7000');

    // After finality the sequencer draws exactly the finalized fees from each deposit.
    for (const id of [a, b, c].map((r) => r.json.jobId as string)) {
      await waitFor(`job ${id} finalized`, async () => {
        const j = (await (await fetch(`${node.url}/v1/jobs/${id}`)).json()) as any;
        return j.status === 'finalized';
      });
    }
    const userDep = await waitFor('user deposit drawn', async () => {
      const dep = await chain.fetchDeposit(user.publicKey);
      return dep && dep.drawn === 7_000n && dep;
    });
    assert.equal(userDep!.balance, 50_000n - 7_000n);
    const payerDep = await waitFor('default payer deposit drawn', async () => {
      const dep = await chain.fetchDeposit(payer);
      return dep && dep.drawn === 4_000n && dep;
    });
    assert.equal(payerDep!.balance, DEV_PAYER_DEPOSIT - 4_000n);
    assert.equal((await standing(user.publicKey)).owed, '0');
  },
);

test(
  'dev node payments survive a restart: the payer of a job and the voucher taken are in LevelDB, the default payer is topped up',
  { timeout: 120_000 },
  async () => {
    const modelId = node.demoModel.modelId;
    const { programId, sequencer } = await standing(user.publicKey);
    const cumulative = 10_000n;
    const signature = signVoucher(
      {
        programId: new PublicKey(programId),
        user: user.publicKey,
        sequencer: new PublicKey(sequencer),
        cumulative,
      },
      user.secretKey,
    ).toString('hex');
    const r = await post({
      modelId,
      inputs: x(5),
      fee: '3000',
      payment: { user: user.publicKey.toBase58(), cumulative: cumulative.toString(), signature },
    });
    assert.equal(r.status, 202, JSON.stringify(r.json));
    await node.close();
    node = await start();
    const chain = node.chain!;
    const payer = loadKeypair(join(dataDir, 'payer-keypair.json')).publicKey;
    assert.equal((await chain.fetchDeposit(payer))?.balance, DEV_PAYER_DEPOSIT, 'topped up again at start');
    assert.equal(
      (await standing(user.publicKey)).cumulative,
      '10000',
      'the voucher taken before the restart',
    );
    await waitFor(`job ${r.json.jobId} finalized`, async () => {
      const j = (await (await fetch(`${node.url}/v1/jobs/${r.json.jobId}`)).json()) as any;
      return j.status === 'finalized';
    });
    const dep = await waitFor('user deposit drawn after the restart', async () => {
      const d = await chain.fetchDeposit(user.publicKey);
      return d && d.drawn === 10_000n && d;
    });
    assert.equal(dep!.balance, 50_000n - 10_000n);
  },
);

test(
  "optinfer earnings for the node's executor: fees claimed, due, skipped and lost from its claimer's table (kept across the restart), adding up to its jobs' fees",
  { timeout: 120_000 },
  async () => {
    const executor = node.executors[0].id;
    // Every job of this file ran on the node's one executor: 1,500 + 2,500 + 7,000 before the restart, 3,000 after.
    const fees = 14_000n;
    const view = await waitFor(
      'every fee claimed, skipped or lost',
      async () => {
        const v = (await (await fetch(`${node.url}/v1/operators/${executor}`)).json()) as any;
        const c = v.claims;
        const total = c && [c.feesClaimed, c.feesSkipped, c.feesLost].reduce((s, f) => s + BigInt(f), 0n);
        return total === fees && c.jobsDue === 0 && v;
      },
      60_000,
      500,
    );
    assert.equal(view.role, 'executor');
    assert.equal(view.claims.jobsClaimed + view.claims.jobsSkipped + view.claims.jobsLost, 4);
    assert.equal(
      view.claims.feesClaimed,
      view.earnings.fees,
      'what the table says claimed, the program paid',
    );
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
    try {
      assert.equal(await earningsCommand({ url: node.url, json: true, owner: executor }), 0);
      assert.equal(await earningsCommand({ url: node.url, json: false, owner: executor }), 0);
    } finally {
      process.stdout.write = write;
    }
    const json = JSON.parse(out[0]);
    assert.deepEqual(
      [json.fees, json.feesClaimed, json.feesDue, json.feesSkipped, json.feesLost],
      [view.earnings.fees, view.claims.feesClaimed, '0', view.claims.feesSkipped, view.claims.feesLost],
    );
    assert.match(out[1], /fees due {2}0 lamports on 0 job\(s\)/);
    assert.match(
      out[1],
      new RegExp(`skipped {3}${view.claims.feesSkipped} lamports on ${view.claims.jobsSkipped} job`),
    );
  },
);
