// `optinfer dev --rpc` takes payments as the sequencer role does (the program in LiteSVM as the cluster): 402 unpaid, a voucher pays, a pending withdrawal refuses, finalized fees drawn; --payments off takes unpaid jobs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair } from '@solana/web3.js';
import { startDev, type DevNode } from '../../cli/roles.ts';
import { depositCommand, withdrawDepositCommand } from '../../cli/commands/deposit.ts';
import { earningsCommand } from '../../cli/commands/chain.ts';
import { saveKeypair } from '../../common/keys.ts';
import { silentLogger } from '../../common/log.ts';
import { LocalWorld } from '../../settlement/testkit.ts';
import { minUnbondingSlots } from '../../settlement/index.ts';
import { signVoucher } from '../../state/voucher.ts';
import { waitFor } from '../helpers/node-process.ts';

const SLOT_MS = 100;

/** A cluster of our own: the program in LiteSVM with its slot clock running, initialized for a dev node. */
async function cluster(dir: string) {
  const w = new LocalWorld();
  const window = 30n;
  await w.client.initialize(
    w.authority,
    w.params({
      challengeWindow: window,
      clockSlots: 150n,
      minExecutorBond: 1_000_000_000n,
      minChallengerBond: 500_000_000n,
      unbondingSlots: minUnbondingSlots(window, 150n),
    }),
  );
  const keypairPath = join(dir, 'sequencer.json');
  const authorityKeypairPath = join(dir, 'authority.json');
  saveKeypair(keypairPath, w.sequencer);
  saveKeypair(authorityKeypairPath, w.authority);
  const stop = w.sender.startSlotClock(SLOT_MS);
  return {
    w,
    stop,
    rpc: { rpc: 'http://cluster.test', keypairPath, authorityKeypairPath, slotMs: SLOT_MS, client: w.client },
  };
}

function start(
  dir: string,
  rpc: Awaited<ReturnType<typeof cluster>>['rpc'],
  payments: boolean,
): Promise<DevNode> {
  return startDev({
    port: 0,
    host: '127.0.0.1',
    dataDir: join(dir, 'node'),
    executors: 1,
    sampleRate: 0,
    batchMaxJobs: 4,
    batchMaxAgeMs: 100,
    challengeWindowMs: 3_000,
    cheat: { mode: 'none', rate: 0 },
    logger: silentLogger,
    rpc,
    payments,
  });
}

function x(i: number) {
  return {
    x: { dtype: 'int8', dims: [1, 16], data: Array.from({ length: 16 }, (_, k) => ((k * 7 + i) % 90) - 45) },
  };
}

async function post(node: DevNode, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${node.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** Runs a command with stdout captured. */
async function quiet(f: () => Promise<number>): Promise<string> {
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
  try {
    assert.equal(await f(), 0);
  } finally {
    process.stdout.write = write;
  }
  return out.join('');
}

test(
  "dev --rpc takes payments by default: 402 without a voucher, a user's voucher pays, a pending withdrawal refuses and a deposit resumes, the finalized fees are drawn; earnings shows the sequencer's open batches",
  { timeout: 180_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'optinfer-dev-rpc-pay-'));
    const { w, stop, rpc } = await cluster(dir);
    let node: DevNode | undefined;
    try {
      node = await start(dir, rpc, true);
      const modelId = node.demoModel.modelId;
      const unpaid = await post(node, { modelId, inputs: x(0), fee: '1000' });
      assert.equal(unpaid.status, 402, JSON.stringify(unpaid.json));

      const user = w.fund(5_000_000_000n);
      const file = join(dir, 'user.json');
      saveKeypair(file, user);
      const o = { rpc: rpc.rpc, keypair: file, json: true, client: w.client };
      await quiet(() => depositCommand({ ...o, lamports: 50_000n }));
      const pay = (cumulative: bigint) => ({
        user: user.publicKey.toBase58(),
        cumulative: cumulative.toString(),
        signature: signVoucher(
          {
            programId: w.sender.programId,
            user: user.publicKey,
            sequencer: w.sequencer.publicKey,
            cumulative,
          },
          user.secretKey,
        ).toString('hex'),
      });
      const a = await post(node, { modelId, inputs: x(1), fee: '7000', payment: pay(7_000n) });
      assert.equal(a.status, 202, JSON.stringify(a.json));

      // A pending withdrawal: the node refuses the user's jobs until a deposit cancels it.
      const req = JSON.parse(await quiet(() => withdrawDepositCommand(o)));
      assert.equal(req.action, 'requested');
      const refused = await post(node, { modelId, inputs: x(2), fee: '3000', payment: pay(10_000n) });
      assert.equal(refused.status, 402, JSON.stringify(refused.json));
      assert.match(JSON.stringify(refused.json), /a withdrawal is pending/);
      const top = JSON.parse(await quiet(() => depositCommand({ ...o, lamports: 1_000n })));
      assert.equal(top.withdrawalCancelled, true);
      const b = await post(node, { modelId, inputs: x(2), fee: '3000', payment: pay(10_000n) });
      assert.equal(b.status, 202, JSON.stringify(b.json));

      for (const id of [a, b].map((r) => r.json.jobId as string)) {
        await waitFor(
          `job ${id} finalized`,
          async () => {
            const j = (await (await fetch(`${node!.url}/v1/jobs/${id}`)).json()) as any;
            return j.status === 'finalized';
          },
          90_000,
        );
      }
      const dep = await waitFor('the user deposit drawn', async () => {
        const d = await w.client.fetchDeposit(user.publicKey);
        return d && d.drawn === 10_000n && d;
      });
      assert.equal(dep!.balance, 51_000n - 10_000n, 'drawn exactly the fees of the finalized jobs');

      // earnings through the node's API: the sequencer's open batches hold rent, escrow and fault reserve.
      const seq = w.sequencer.publicKey.toBase58();
      const json = JSON.parse(await quiet(() => earningsCommand({ url: node!.url, json: true, owner: seq })));
      const batches = (await w.client.listBatches()).filter((x) =>
        x.batch.payer.equals(w.sequencer.publicKey),
      );
      assert.equal(json.role, 'sequencer');
      assert.equal(json.openBatches, batches.length);
      assert.ok(batches.length > 0);
      assert.equal(
        json.outstanding,
        batches.reduce((s, x) => s + w.sender.balance(x.address), 0n).toString(),
        'what close_batch would return, to the lamport',
      );
      const text = await quiet(() => earningsCommand({ url: node!.url, json: false, owner: seq }));
      assert.match(
        text,
        new RegExp(
          `to come back  ${json.outstanding} lamports when its accounts close \\(${batches.length} open batch`,
        ),
      );
      assert.match(text, new RegExp(`fault reserves ${json.faultReservesOutstanding}`));
      // The API adds it only when asked: the bond views and the explorer do not pay the five listings.
      const plain = (await (await fetch(`${node.url}/v1/operators/${seq}`)).json()) as any;
      assert.equal(plain.outstanding, undefined);
      const bad = await fetch(`${node.url}/v1/operators?outstanding=maybe`);
      assert.equal(bad.status, 400);
      assert.match(
        ((await bad.json()) as any).error.message,
        /outstanding: expected true or false, got "maybe"/,
      );
    } finally {
      await node?.close();
      stop();
    }
  },
);

test('dev --rpc --payments off takes a job without a voucher', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-dev-rpc-free-'));
  const { stop, rpc } = await cluster(dir);
  let node: DevNode | undefined;
  try {
    node = await start(dir, rpc, false);
    const r = await post(node, { modelId: node.demoModel.modelId, inputs: x(3), fee: '1000' });
    assert.equal(r.status, 202, JSON.stringify(r.json));
    // No payment gate: the node serves no deposits.
    const d = await fetch(`${node.url}/v1/deposits/${Keypair.generate().publicKey.toBase58()}`);
    assert.notEqual(d.status, 200);
  } finally {
    await node?.close();
    stop();
  }
});
