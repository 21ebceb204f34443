// A job acknowledged with 202 is never lost: kill -9 of the node between acknowledgement and batching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startNode, stopNode, waitFor } from '../helpers/node-process.ts';
import { verifyInclusion, type InclusionProof } from '../../state/job.ts';
import { MAX_BATCH_JOBS } from '../../settlement/instructions.ts';

const JOBS = 300;

function input(i: number) {
  return {
    x: {
      dtype: 'int8',
      dims: [1, 16],
      data: Array.from({ length: 16 }, (_, k) => ((i * 7 + k * 13) % 256) - 128),
    },
  };
}

test(
  'kill -9 after 202 and before batching loses no job; after restart every job is batched with a valid proof',
  { timeout: 240_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'optinfer-crash-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    // Batches are held back (the largest size the CLI takes, far above JOBS, and a long age) so that every
    // acknowledged job is still unbatched at the kill.
    assert.ok(JOBS < MAX_BATCH_JOBS);
    const holdArgs = [
      'dev',
      '--port',
      String(port),
      '--data-dir',
      dataDir,
      '--executors',
      '1',
      '--batch-max-jobs',
      String(MAX_BATCH_JOBS),
      '--batch-max-age-ms',
      '3600000',
      '--sample-rate',
      '0',
    ];
    const first = await startNode(holdArgs, /listening on/);
    const models = (await (await fetch(`${base}/v1/models`)).json()) as { modelId: string }[];
    const modelId = models[0].modelId;

    const acked: string[] = [];
    await Promise.all(
      Array.from({ length: JOBS }, async (_, i) => {
        const res = await fetch(`${base}/v1/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ modelId, inputs: input(i) }),
        });
        assert.equal(res.status, 202);
        acked.push(((await res.json()) as { jobId: string }).jobId);
      }),
    );
    first.child.kill('SIGKILL');
    assert.equal(await first.exited, 'SIGKILL');
    assert.equal(acked.length, JOBS);

    const second = await startNode(
      [
        'dev',
        '--port',
        String(port),
        '--data-dir',
        dataDir,
        '--executors',
        '2',
        '--batch-max-jobs',
        '128',
        '--batch-max-age-ms',
        '200',
        '--sample-rate',
        '0',
      ],
      /listening on/,
    );
    try {
      for (const id of acked) {
        const job = await waitFor(
          `job ${id} batched`,
          async () => {
            const j = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as {
              status: string;
              proof?: InclusionProof;
            };
            return (j.status === 'batched' || j.status === 'finalized') && j;
          },
          120_000,
        );
        assert.ok(job.proof && verifyInclusion(job.proof), `job ${id} has a valid inclusion proof`);
      }
      // No job was duplicated: batches hold exactly the acknowledged jobs.
      const batches = (await (await fetch(`${base}/v1/batches`)).json()) as { index: number }[];
      let total = 0;
      for (const b of batches)
        total += ((await (await fetch(`${base}/v1/batches/${b.index}`)).json()) as { jobIds: string[] })
          .jobIds.length;
      assert.equal(total, JOBS);
    } finally {
      await stopNode(second);
    }
  },
);

test(
  'dev on the in-process chain: kill -9 inside a challenge window; after restart the chain is restored and the batch finalizes',
  { timeout: 240_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'optinfer-crash-chain-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const args = [
      'dev',
      '--chain',
      'litesvm',
      '--port',
      String(port),
      '--data-dir',
      dataDir,
      '--executors',
      '1',
      '--batch-max-jobs',
      '4',
      '--batch-max-age-ms',
      '200',
      '--sample-rate',
      '0',
      '--challenge-window-ms',
      '6000',
    ];
    const first = await startNode(args, /listening on/);
    const modelId = ((await (await fetch(`${base}/v1/models`)).json()) as { modelId: string }[])[0].modelId;
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${base}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ modelId, inputs: input(i) }),
      });
      assert.equal(res.status, 202);
      ids.push(((await res.json()) as { jobId: string }).jobId);
    }
    for (const id of ids)
      await waitFor(`job ${id} batched`, async () => {
        const j = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as { status: string };
        return j.status === 'batched';
      });
    first.child.kill('SIGKILL');
    assert.equal(await first.exited, 'SIGKILL');
    const snapshot = JSON.parse(readFileSync(join(dataDir, 'chain.json'), 'utf8')) as { accounts: unknown[] };
    assert.ok(snapshot.accounts.length > 0, 'chain.json holds the program accounts');

    const second = await startNode(args, /listening on/, 60_000, { OPTINFER_LOG_LEVEL: 'info' });
    try {
      assert.match(second.stderr() + second.stdout(), /in-process chain restored/);
      for (const id of ids) {
        const j = await waitFor(
          `job ${id} finalized`,
          async () => {
            const v = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as {
              status: string;
              proof?: InclusionProof;
            };
            return v.status === 'finalized' && v;
          },
          60_000,
        );
        assert.ok(j.proof && verifyInclusion(j.proof));
      }
    } finally {
      await stopNode(second);
    }
  },
);
