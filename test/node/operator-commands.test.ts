// `optinfer disputes`, `batch show N` and `bond status` against a dev node (LiteSVM) through its API, as separate CLI processes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublicKey } from '@solana/web3.js';
import { startDev, type DevNode } from '../../cli/roles.ts';
import { silentLogger } from '../../common/log.ts';
import { OptinferClient } from '../../client/index.ts';
import { rentExempt } from '../../settlement/index.ts';
import { BIN, freePort, waitFor } from '../helpers/node-process.ts';

let node: DevNode;

/** `optinfer ...args` as a child process, with `env` added (OPTINFER_* cleared first, so nothing leaks in). */
function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OPTINFER_')));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...base, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

before(async () => {
  node = await startDev({
    port: 0,
    host: '127.0.0.1',
    dataDir: mkdtempSync(join(tmpdir(), 'optinfer-ops-')),
    executors: 2,
    sampleRate: 1,
    batchMaxJobs: 4,
    batchMaxAgeMs: 100,
    challengeWindowMs: 20_000,
    // Executor 0 flips a bit of every output: the challenger disputes each of its jobs on chain.
    cheat: { mode: 'wrong-output', rate: 1 },
    logger: silentLogger,
    chain: 'litesvm',
  });
});
after(() => node.close());

test(
  'disputes, batch show and bond status read the dev node with no cluster: a cheating job is listed, bonds match the chain',
  { timeout: 180_000 },
  async () => {
    const api = new OptinferClient({ url: node.url, pollMs: 100 });
    const cheater = node.executors[0].id;
    const ids = await Promise.all(
      [0, 1, 2, 3].map(
        async (i) =>
          (
            await api.submit({
              modelId: node.demoModel.modelId,
              inputs: {
                x: {
                  dtype: 'int8',
                  dims: [1, 16],
                  data: Array.from({ length: 16 }, (_, k) => (k * 5 + i) % 40),
                },
              },
            })
          ).jobId,
      ),
    );
    const jobs = await waitFor('the jobs batched', async () => {
      const js = await Promise.all(ids.map((id) => api.job(id, { outputs: false, proof: false })));
      return js.every((j) => j.batch) && js;
    });
    assert.ok(
      jobs.some((j) => j.executor === cheater),
      'the cheater ran a job',
    );
    // The challenger audits every job: the cheater's result is disputed on chain (the game itself runs on).
    await waitFor(
      'a dispute on chain',
      async () => (await node.chain!.listDisputes()).length > 0,
      120_000,
      500,
    );
    const challenger = (await api.operators()).operators.find((o) => o.role === 'challenger')!.owner;
    // Its open games hold Dispute rent it paid (and gets back at close_dispute): `earnings` counts it.
    const out = (await api.operator(challenger, { outstanding: true })).outstanding!;
    const first = (await node.chain!.listDisputes())[0].address;
    const disputeRent = rentExempt((await node.chain!.sender.getAccountData(first))!.length);
    assert.ok(out.disputeAccounts >= 1, JSON.stringify(out));
    assert.ok(BigInt(out.rentOutstanding) >= BigInt(out.disputeAccounts) * disputeRent, JSON.stringify(out));
    assert.equal(
      BigInt(out.outstanding),
      BigInt(out.rentOutstanding) +
        BigInt(out.escrowOutstanding) +
        BigInt(out.faultReservesOutstanding) +
        BigInt(out.dataRequestDepositsOutstanding),
    );

    // `disputes` with no flag but OPTINFER_URL (the default URL is the dev node's; the test's port is its own).
    const d = await cli(['disputes', '--json'], { OPTINFER_URL: node.url });
    assert.equal(d.code, 0, d.stderr);
    const view = JSON.parse(d.stdout);
    assert.ok(view.disputes.length >= 1);
    for (const r of view.disputes) {
      assert.equal(r.executor, cheater);
      assert.equal(r.challenger, challenger);
    }
    const onChain = await node.chain!.listDisputes();
    for (const { address, dispute } of onChain) {
      const row = view.disputes.find((r: { address: string }) => r.address === address.toBase58());
      assert.ok(row, `dispute ${address.toBase58()} listed`);
      assert.equal(row.job, dispute.jobIndex);
    }
    const cheatedJob = jobs.find((j) => j.executor === cheater)!;
    assert.ok(
      view.disputes.some((r: { batchIndex: string }) => r.batchIndex === String(cheatedJob.batch!.index)),
      'the cheated batch is disputed',
    );
    const human = await cli(['disputes', '--url', node.url]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /\d+ dispute\(s\)/);
    assert.match(human.stdout, new RegExp(`executor ${cheater}`));
    assert.match(human.stdout, /job \d+ {2}[a-z-]+/);

    // `batch show N`: the root and job count the program holds.
    const index = view.disputes[0].batchIndex as string;
    const b = await cli(['batch', 'show', index, '--url', node.url, '--json']);
    assert.equal(b.code, 0, b.stderr);
    const batch = JSON.parse(b.stdout);
    const account = await node.chain!.fetchBatch(BigInt(index));
    assert.equal(batch.root, account!.root.toString('hex'));
    assert.equal(batch.jobCount, account!.jobCount);
    assert.equal(batch.root, (await node.sequencer.getBatch(Number(index)))!.root);
    const bh = await cli(['batch', 'show', index], { OPTINFER_URL: node.url });
    assert.match(bh.stdout, new RegExp(`batch ${index}: `));
    assert.match(bh.stdout, new RegExp(`root +${batch.root}`));

    // `bond status`: the node's executors and challenger, each as its Operator account says.
    const s = await cli(['bond', 'status', '--json'], { OPTINFER_URL: node.url });
    assert.equal(s.code, 0, s.stderr);
    const bonds = JSON.parse(s.stdout);
    const roles = bonds.operators.map((o: { role?: string }) => o.role).filter(Boolean);
    // The node's own keys first, then the program's sequencer, which bonds one record-fault slash.
    assert.deepEqual(roles, ['executor', 'executor', 'challenger', 'sequencer']);
    for (const e of node.executors)
      assert.ok(
        bonds.operators.some((o: { owner: string }) => o.owner === e.id),
        `executor ${e.id} listed`,
      );
    for (const o of bonds.operators) {
      const op = await node.chain!.fetchOperator(new PublicKey(o.owner));
      assert.equal(o.bonded, op!.bonded.toString(), o.owner);
      assert.equal(o.locked, op!.locked.toString(), o.owner);
      assert.equal(o.unbonding, op!.unbonding.toString(), o.owner);
    }
    const one = await cli(['bond', 'status', '--owner', cheater, '--url', node.url]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, new RegExp(`^${cheater} \\(executor\\)\\n  bonded +\\d+ lamports`));

    // `earnings`: once the cheater's first game resolves, its slash and the challenger's bounty, as the program counts them.
    const slashed = await waitFor(
      "a resolved game's slash",
      async () => {
        const op = await node.chain!.fetchOperator(new PublicKey(cheater));
        return op!.slashed > 0n && op!.slashed;
      },
      120_000,
      500,
    );
    const e = await cli(['earnings', '--owner', cheater, '--json'], { OPTINFER_URL: node.url });
    assert.equal(e.code, 0, e.stderr);
    const mine = JSON.parse(e.stdout);
    assert.ok(BigInt(mine.slashed) >= slashed, `${mine.slashed} >= ${slashed}`);
    assert.equal(BigInt(mine.net), BigInt(mine.bounties) + BigInt(mine.fees) - BigInt(mine.slashed));
    assert.ok(BigInt(mine.net) < 0n, 'a convicted cheater is down');
    const everyone = await cli(['earnings', '--json', '--url', node.url]);
    assert.equal(everyone.code, 0, everyone.stderr);
    const rows = JSON.parse(everyone.stdout) as { owner: string; bounties: string; slashed: string }[];
    const config = await node.chain!.config();
    for (const r of rows) {
      const op = await node.chain!.fetchOperator(new PublicKey(r.owner));
      if (!op) continue;
      // Each game the challenger won paid it the batch's bounty share of one lost stake.
      if (r.owner === challenger) {
        const stakes = op.bountiesEarned / ((config.minExecutorBond * BigInt(config.bountyBps)) / 10_000n);
        assert.ok(stakes >= 1n, `the challenger won at least one bounty: ${r.bounties}`);
      }
      assert.ok(BigInt(r.bounties) <= op.bountiesEarned && BigInt(r.slashed) <= op.slashed, r.owner);
    }
    const text = await cli(['earnings', '--owner', challenger, '--url', node.url]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      new RegExp(
        `^${challenger} \\(challenger\\)\\n  earned +[1-9]\\d* lamports \\(bounties [1-9]\\d*, fees 0\\)`,
      ),
    );
  },
);

test('no node at the URL: the error names it and says to start `optinfer dev` or pass --url', async () => {
  const down = `http://127.0.0.1:${await freePort()}`;
  for (const args of [['disputes'], ['bond', 'status']]) {
    const r = await cli([...args, '--url', down]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`cannot reach the optinfer node at ${down}`));
    assert.match(r.stderr, /npx optinfer dev/);
    assert.match(r.stderr, /--url URL/);
  }
  const both = await cli(['disputes', '--url', down, '--rpc', down]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /pass --url \(a node\) or --rpc \(a cluster\), not both/);
  const bad = await cli(['batch', 'show', 'x', '--url', node.url]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /batch index: expected a non-negative integer, got "x"/);
  const unknown = await cli(['batch', 'show', '99', '--url', node.url]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /batch 99 is not committed on chain \(next index \d+\)/);
});
