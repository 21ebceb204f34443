// `optinfer dev --rpc URL --keypair FILE`: the all-in-one node settling on a cluster (the local validator),
// its keypair being the program's sequencer and paying for the node's executor and challenger keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair, LAMPORTS_PER_SOL } from '@solana/web3.js';
import { startLocalChain } from '../../chain/local-chain.ts';
import { connectRpc, PROGRAM_ID, DEFAULT_SO_PATH, PHASE, SIDE } from '../../settlement/index.ts';
import { saveKeypair } from '../../common/keys.ts';
import { DEMO_MODEL_PATH } from '../../cli/roles.ts';
import { loadModel } from '../../executor/model.ts';
import { runModel } from '../../executor/run.ts';
import { tensorSetDigest } from '../../state/tensor.ts';
import { freePort, startNode, stopNode, waitFor, runCli } from '../helpers/node-process.ts';

test(
  'dev --rpc: batches committed and finalized on the cluster, a lying executor disputed and its job re-run',
  { timeout: 240_000 },
  async () => {
    const operator = Keypair.generate();
    const chain = await startLocalChain({
      programs: [{ programId: PROGRAM_ID, soPath: DEFAULT_SO_PATH }],
      airdrops: [{ pubkey: operator.publicKey, lamports: 100n * BigInt(LAMPORTS_PER_SOL) }],
      slotTimeMs: 100,
    });
    const dir = mkdtempSync(join(tmpdir(), 'optinfer-dev-rpc-'));
    const key = join(dir, 'operator.json');
    saveKeypair(key, operator);
    const rpc = ['--rpc', chain.rpcUrl, '--ws', chain.wsUrl];
    let node: Awaited<ReturnType<typeof startNode>> | undefined;
    try {
      const init = await runCli([
        'chain',
        'init',
        ...rpc,
        '--authority-keypair',
        key,
        '--sequencer',
        operator.publicKey.toBase58(),
        // 15 s of 100 ms slots: the challenger must find, retry and open inside it on a loaded CI machine.
        '--challenge-window-slots',
        '150',
        '--clock-slots',
        '200',
      ]);
      assert.equal(init.code, 0, init.out);
      assert.match(init.out, /initialized the optinfer program/);
      // A second init is refused politely: the program is already initialized, with the same keys.
      const again = await runCli([
        'chain',
        'init',
        ...rpc,
        '--authority-keypair',
        key,
        '--sequencer',
        operator.publicKey.toBase58(),
      ]);
      assert.equal(again.code, 0, again.out);
      assert.match(again.out, /already initialized/);

      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      node = await startNode(
        [
          'dev',
          ...rpc,
          '--keypair',
          key,
          '--authority-keypair',
          key,
          '--slot-ms',
          '100',
          '--port',
          String(port),
          '--data-dir',
          join(dir, 'node'),
          '--cheat',
          'wrong-output',
          '--cheat-rate',
          '1',
          '--sample-rate',
          '1',
          '--batch-max-age-ms',
          '200',
          // Unpaid jobs, the sequencer's wallet escrowing their fees (dev --rpc takes payments by default;
          // test/node/dev-rpc-payments.test.ts covers them).
          '--payments',
          'off',
        ],
        /listening on/,
        120_000,
      );
      assert.match(node.stdout(), new RegExp(`settlement +the optinfer program at ${chain.rpcUrl}`));
      assert.match(node.stdout(), /payments +off \(--payments off\)/);
      const model = await loadModel(new Uint8Array(readFileSync(DEMO_MODEL_PATH)));
      const submitted: { id: string; expected: string }[] = [];
      for (let i = 0; i < 4; i++) {
        const data = Array.from({ length: 16 }, (_, k) => ((k * 5 + i * 17) % 90) - 45);
        const res = await fetch(`${base}/v1/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            modelId: model.modelId,
            inputs: { x: { dtype: 'int8', dims: [1, 16], data } },
          }),
        });
        assert.equal(res.status, 202);
        const { outputs } = await runModel(model, {
          x: { dtype: 'int8', dims: [1, 16], data: new Uint8Array(Int8Array.from(data).buffer) },
        });
        submitted.push({
          id: ((await res.json()) as { jobId: string }).jobId,
          expected: tensorSetDigest(outputs),
        });
      }
      for (const s of submitted) {
        const j = await waitFor(
          `job ${s.id} finalized`,
          async () => {
            const v = (await (await fetch(`${base}/v1/jobs/${s.id}`)).json()) as {
              status: string;
              outputDigest: string;
            };
            return v.status === 'finalized' && v;
          },
          150_000,
          250,
        );
        assert.equal(j.outputDigest, s.expected, `job ${s.id}: finalized with a wrong output`);
      }
      await model.close();
      const { client } = connectRpc({ rpc: chain.rpcUrl, ws: chain.wsUrl });
      // A won game invalidates its job for good: the Job account stays as the verdict record, while the
      // challenger closes its resolved games once their batch is final (rent recovery).
      const verdicts = (await client.listJobs()).filter(({ job }) => job.invalidated !== 0);
      assert.ok(verdicts.length > 0, 'the lying executor was never disputed');
      const disputes = await client.listDisputes();
      for (const { dispute: d } of disputes) {
        assert.equal(d.phase, PHASE.RESOLVED);
        assert.equal(d.winner, SIDE.CHALLENGER);
      }
    } finally {
      if (node) await stopNode(node);
      await chain.stop();
    }
  },
);
