// Failing jobs end: a job every executor fails ends `failed` in the API, and a silent executor's job re-runs at the lapse.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel, node, tensorOf } from '../../executor/onnx/builder.ts';
import { HEARTBEAT_LAPSE_MS } from '../../sequencer/dispatch.ts';
import { DEFAULT_SEQUENCER_CONFIG } from '../../sequencer/sequencer.ts';
import { natsSkipReason, startNatsServer, type NatsServerHandle } from '../helpers/nats-server.ts';
import { freePort, startNode, stopNode, waitFor, type NodeProcess } from '../helpers/node-process.ts';

const procs: NodeProcess[] = [];
let server: NatsServerHandle | undefined;

after(async () => {
  for (const p of procs.reverse()) {
    if (p.child.signalCode === null && p.child.exitCode === null) p.child.kill('SIGCONT');
    await stopNode(p, 'SIGKILL').catch(() => {});
  }
  await server?.dispose();
});

/** x float32 [n] reshaped to [3]: a valid model that onnxruntime refuses to run for any n other than 3. */
function reshapeToThree(): Uint8Array {
  return buildModel({
    name: 'reshape_to_three',
    inputs: [{ name: 'x', dtype: 'float32', dims: ['n'] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [3] }],
    initializers: { shape: tensorOf('int64', [1], [3]) },
    nodes: [node('Reshape', ['x', 'shape'], ['y'])],
  });
}

interface JobJson {
  status: string;
  error?: string;
  executor?: string;
  batch?: { index: number };
}

async function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

function demoInput(i: number) {
  return {
    x: { dtype: 'int8', dims: [1, 16], data: Array.from({ length: 16 }, (_, k) => ((k + i * 7) % 50) - 25) },
  };
}

test(
  'a model whose run fails on every executor: the job ends failed with the error in GET /v1/jobs/:id, and the node serves on',
  { timeout: 120_000 },
  async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'optinfer-failing-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const dev = await startNode(
      [
        'dev',
        '--port',
        String(port),
        '--data-dir',
        dataDir,
        '--executors',
        '2',
        '--chain',
        'none',
        '--sample-rate',
        '0',
        '--batch-max-age-ms',
        '200',
      ],
      /listening on/,
    );
    procs.push(dev);
    const up = await fetch(`${base}/v1/models?name=reshape_to_three`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from(reshapeToThree()),
    });
    assert.equal(up.status, 201, await up.clone().text());
    const { modelId } = (await up.json()) as { modelId: string };
    const res = await post(`${base}/v1/jobs`, {
      modelId,
      inputs: { x: { dtype: 'float32', dims: [4], data: [1, 2, 3, 4] } },
    });
    assert.equal(res.status, 202);
    const { jobId } = (await res.json()) as { jobId: string };

    // Today it stays `queued` for good: each failure excludes one of the two executors, the third attempt never comes.
    const failed = await waitFor(
      'the job to end failed',
      async () => {
        const j = (await (await fetch(`${base}/v1/jobs/${jobId}`)).json()) as JobJson;
        return j.status === 'failed' && j;
      },
      // Judged once every executor has had a heartbeat lapse to announce itself after the start.
      HEARTBEAT_LAPSE_MS + 30_000,
    );
    t.diagnostic(`error: ${failed.error}`);
    assert.match(failed.error!, /^executor \S+ failed: .+; every live executor has failed it$/);
    assert.equal(failed.executor, undefined);

    const health = (await (await fetch(`${base}/healthz`)).json()) as { ok: boolean; queued: number };
    assert.equal(health.ok, true);
    assert.equal(health.queued, 0, 'the failed job left the queue');

    const demo = (
      (await (await fetch(`${base}/v1/models`)).json()) as { modelId: string; name: string }[]
    ).find((m) => m.name === 'demo-int8-mlp')!;
    const ok = (await (
      await post(`${base}/v1/jobs`, { modelId: demo.modelId, inputs: demoInput(1) })
    ).json()) as {
      jobId: string;
    };
    await waitFor('the demo job to be batched', async () => {
      const j = (await (await fetch(`${base}/v1/jobs/${ok.jobId}`)).json()) as JobJson;
      return j.status === 'batched' || j.status === 'finalized';
    });
    assert.equal(await stopNode(dev), 0);
  },
);

test(
  'a job assigned to an executor that stops heart-beating re-runs on another well before the assignment timeout; its late result is ignored',
  { skip: natsSkipReason(), timeout: 180_000 },
  async (t) => {
    server = await startNatsServer({ maxPayload: 8 * 1024 * 1024 });
    const dir = mkdtempSync(join(tmpdir(), 'optinfer-lapse-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const common = ['--nats', server.url];
    const sequencer = await startNode(
      [
        'sequencer',
        ...common,
        '--port',
        String(port),
        '--data-dir',
        join(dir, 'seq'),
        '--batch-max-jobs',
        '64',
        '--batch-max-age-ms',
        '300',
      ],
      /listening on/,
    );
    procs.push(sequencer);
    const executors: { proc: NodeProcess; id: string }[] = [];
    for (const name of ['ex-a', 'ex-b']) {
      const proc = await startNode(
        ['executor', ...common, '--sequencer', base, '--data-dir', join(dir, name), '--capacity', '2'],
        /executor \S+ running/,
      );
      procs.push(proc);
      executors.push({ proc, id: /executor (\S+) running/.exec(proc.stdout())![1] });
    }
    await waitFor(
      'both executors joined',
      async () => ((await (await fetch(`${base}/healthz`)).json()) as { executors: number }).executors === 2,
      30_000,
    );
    const modelId = ((await (await fetch(`${base}/v1/models`)).json()) as { modelId: string }[])[0].modelId;

    // The frozen executor still counts as live (its last heartbeat is fresh), so round robin hands it jobs.
    const [frozen, alive] = executors;
    frozen.proc.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await post(`${base}/v1/jobs`, { modelId, inputs: demoInput(i) });
      assert.equal(r.status, 202);
      ids.push(((await r.json()) as { jobId: string }).jobId);
    }
    const jobs = await waitFor(
      'every job executed',
      async () => {
        const js = await Promise.all(
          ids.map(async (id) => (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as JobJson),
        );
        return js.every((j) => j.status === 'batched' || j.status === 'finalized') && js;
      },
      DEFAULT_SEQUENCER_CONFIG.assignTimeoutMs,
    );
    const elapsed = Date.now() - stoppedAt;
    t.diagnostic(`all ${ids.length} jobs batched ${elapsed} ms after the executor froze`);
    assert.ok(
      elapsed < DEFAULT_SEQUENCER_CONFIG.assignTimeoutMs / 2,
      `every job done ${elapsed} ms after the executor froze (lapse ${HEARTBEAT_LAPSE_MS} ms, assignment timeout ${DEFAULT_SEQUENCER_CONFIG.assignTimeoutMs} ms)`,
    );
    assert.ok(
      jobs.every((j) => j.executor === alive.id),
      'every job was run by the executor still alive',
    );
    const requeued = sequencer
      .stderr()
      .split('\n')
      .filter(
        (l) => l.includes('"job re-queued"') && l.includes(`executor ${frozen.id} stopped heart-beating`),
      );
    assert.ok(
      requeued.length > 0,
      `the frozen executor held jobs that were re-queued at its lapse:\n${sequencer.stderr()}`,
    );

    // It wakes up, runs what it was sent, and answers late: the first valid result already counted.
    frozen.proc.child.kill('SIGCONT');
    await waitFor(
      'the woken executor to heartbeat again',
      async () => ((await (await fetch(`${base}/healthz`)).json()) as { executors: number }).executors === 2,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    const batched = new Map<string, number>();
    const batches = (await (await fetch(`${base}/v1/batches`)).json()) as { index: number }[];
    for (const b of batches) {
      const full = (await (await fetch(`${base}/v1/batches/${b.index}`)).json()) as { jobIds: string[] };
      for (const id of full.jobIds) batched.set(id, (batched.get(id) ?? 0) + 1);
    }
    for (const id of ids) assert.equal(batched.get(id), 1, `job ${id} is in exactly one batch`);
    for (const id of ids) {
      const j = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as JobJson;
      assert.equal(j.executor, alive.id, 'the late answer did not replace the result');
    }
  },
);
