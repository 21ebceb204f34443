// Roles as separate processes on a 3-server JetStream cluster with R3 streams: the job stream's leader is killed mid-load.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { BusError, type Bus } from '../../bus/bus.ts';
import * as messages from '../../bus/messages.ts';
import { connectNatsBus } from '../../bus/nats.ts';
import { WORK_STREAM } from '../../bus/subjects.ts';
import type { Finding } from '../../challenger/findings.ts';
import { DEMO_MODEL_PATH } from '../../cli/roles.ts';
import { loadModel, type LoadedModel } from '../../executor/model.ts';
import type { StoredResult } from '../../executor/results.ts';
import { runModel } from '../../executor/run.ts';
import { Store } from '../../state/store.ts';
import { tensorSetDigest } from '../../state/tensor.ts';
import { natsSkipReason, startNatsServer } from '../helpers/nats-server.ts';
import { freePort, runCli, startNode, stopNode, waitFor, type NodeProcess } from '../helpers/node-process.ts';
import { startNatsCluster, type NatsCluster } from './nats-cluster.ts';

const skip = natsSkipReason();
/** Jobs accepted before the kill, then after it: the second lot lands while the stream elects a new leader. */
const JOBS_BEFORE_KILL = 20;
const JOBS_AFTER_KILL = 40;
/** Pace of the submissions after the kill, so they span the stream's leader election. */
const SUBMIT_GAP_MS = 40;

const procs: NodeProcess[] = [];
let cluster: NatsCluster | undefined;
let bus: Bus | undefined;
let nc: NatsConnection | undefined;
let model: LoadedModel | undefined;

after(async () => {
  for (const p of procs.reverse()) await stopNode(p).catch(() => {});
  await bus?.close().catch(() => {});
  await nc?.close().catch(() => {});
  await model?.close();
  await cluster?.dispose();
});

interface JobView {
  jobId: string;
  status: string;
  executor?: string;
  outputDigest?: string;
  batch?: { index: number; root: string };
  error?: string;
}

const demoInput = (i: number) => ({
  dtype: 'int8' as const,
  dims: [1, 16],
  data: Array.from({ length: 16 }, (_, k) => ((k * 7 + i * 13) % 61) - 30),
});

/** The stream's current leader (a server name), asked through any live server; undefined while it has none. */
async function streamLeader(conn: NatsConnection, stream: string): Promise<string | undefined> {
  try {
    const jsm = await conn.jetstreamManager({ timeout: 3_000 });
    return (await jsm.streams.info(stream)).cluster?.leader || undefined;
  } catch {
    return undefined;
  }
}

test(
  'refuses more stream replicas than a lone server can keep, saying what to change',
  { skip, timeout: 60_000 },
  async () => {
    const single = await startNatsServer();
    try {
      await assert.rejects(
        connectNatsBus({ url: single.url, replicas: 3, connectTimeoutMs: 5_000 }),
        (e: unknown) =>
          e instanceof BusError &&
          e.code === 'CONNECT' &&
          /stream OPTINFER_WORK: cannot keep 3 replicas .*at most the number of JetStream servers .*--nats-replicas/.test(
            e.message,
          ),
      );
      await assert.rejects(
        connectNatsBus({ url: single.url, replicas: 6 }),
        /stream replicas: expected 1\.\.5, got 6/,
      );
      // The same through a role's flag: it stops at start-up with that message, not later with lost work.
      const dir = mkdtempSync(join(tmpdir(), 'optinfer-nats-replicas-'));
      const r = await runCli(['executor', '--nats', single.url, '--nats-replicas', '3', '--data-dir', dir]);
      assert.notEqual(r.code, 0);
      assert.match(r.out, /cannot keep 3 replicas .*lower --nats-replicas or add servers/);
      const bad = await runCli(['executor', '--nats', single.url, '--nats-replicas', '9', '--data-dir', dir]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.out, /nats-replicas: expected 1\.\.5, got 9/);
    } finally {
      await single.dispose();
    }
  },
);

test(
  'roles on a 3-server JetStream cluster (R3): SIGKILL of the job stream leader mid-load loses no accepted job and runs none twice with different results',
  { skip, timeout: 600_000 },
  async (t) => {
    const t0 = Date.now();
    const mark = (what: string) => t.diagnostic(`${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    cluster = await startNatsCluster({ maxPayload: 8 * 1024 * 1024 });
    const metaLeader = await cluster.waitForMetaLeader();
    mark(`cluster formed, meta leader ${metaLeader}`);

    // More replicas than servers: refused with what to change, before any stream exists.
    await assert.rejects(
      connectNatsBus({ url: cluster.urls, replicas: 5 }),
      /cannot keep 5 replicas .*at most the number of JetStream servers/,
    );

    const dir = mkdtempSync(join(tmpdir(), 'optinfer-nats-cluster-roles-'));
    const port = await freePort();
    const seqUrl = `http://127.0.0.1:${port}`;
    // Every role gets the whole server list and asks for R3; it may land on any server and fails over to the others.
    const common = ['--nats', cluster.urls, '--nats-replicas', '3'];
    const sequencer = await startNode(
      [
        'sequencer',
        ...common,
        '--port',
        String(port),
        '--data-dir',
        join(dir, 'seq'),
        '--batch-max-jobs',
        '8',
        '--batch-max-age-ms',
        '300',
        '--challenge-window-ms',
        '2000',
      ],
      /listening on/,
      120_000,
    );
    procs.push(sequencer);
    const executors: NodeProcess[] = [];
    for (const name of ['ex-a', 'ex-b']) {
      const p = await startNode(
        ['executor', ...common, '--sequencer', seqUrl, '--data-dir', join(dir, name), '--capacity', '2'],
        /executor \S+ running/,
        120_000,
      );
      procs.push(p);
      executors.push(p);
    }
    procs.push(
      await startNode(
        [
          'challenger',
          ...common,
          '--sequencer',
          seqUrl,
          '--data-dir',
          join(dir, 'chal'),
          '--id',
          'c1',
          '--sample-rate',
          '0.25',
        ],
        /challenger c1 running/,
        120_000,
      ),
    );
    await waitFor(
      'both executors joined',
      async () =>
        ((await (await fetch(`${seqUrl}/healthz`)).json()) as { executors: number }).executors === 2,
      60_000,
      200,
    );
    mark('roles up');

    nc = await connect({
      servers: cluster.urls.split(','),
      reconnectTimeWait: 250,
      maxReconnectAttempts: -1,
    });
    const streamInfo = await (await nc.jetstreamManager()).streams.info(WORK_STREAM.name);
    assert.equal(streamInfo.config.num_replicas, 3, 'the roles created the job stream with 3 replicas');
    const leader = await streamLeader(nc, WORK_STREAM.name);
    assert.ok(leader, 'the job stream has a leader');
    const victim = cluster.servers.find((s) => s.name === leader);
    assert.ok(victim, `the leader ${leader} is one of the test's servers`);

    bus = await connectNatsBus({ url: cluster.urls, reconnectWaitMs: 250 });
    const findings: Finding[] = [];
    await messages.consume(bus, messages.FINDING, 'all', 'test-cluster-findings', (f) => {
      findings.push(f);
    });

    model = await loadModel(new Uint8Array(readFileSync(DEMO_MODEL_PATH)));
    const modelId = model.modelId;
    const expected = new Map<string, string>();
    const refused: string[] = [];
    const submit = async (i: number): Promise<void> => {
      const x = demoInput(i);
      const res = await fetch(`${seqUrl}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ modelId, inputs: { x } }),
      });
      if (res.status !== 202 && res.status !== 200) {
        refused.push(`job ${i}: HTTP ${res.status} ${await res.text()}`);
        return;
      }
      const { jobId } = (await res.json()) as { jobId: string };
      const { outputs } = await runModel(model as LoadedModel, {
        x: { dtype: 'int8', dims: x.dims, data: new Uint8Array(Int8Array.from(x.data).buffer) },
      });
      expected.set(jobId, tensorSetDigest(outputs));
    };
    // A burst, then the kill at once: assignments and results are in the stream and in flight when its leader dies.
    await Promise.all(Array.from({ length: JOBS_BEFORE_KILL }, (_, i) => submit(i)));
    const load = (await (await fetch(`${seqUrl}/healthz`)).json()) as Record<string, number>;
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    mark(
      `SIGKILLed ${victim.name}, the leader of ${WORK_STREAM.name}, after ${expected.size} accepted jobs ` +
        `(queued ${load.queued}, assigned ${load.inflight}, executed and unbatched ${load.executed})`,
    );
    // Watched alongside the rest of the load: when another server took the stream over.
    const failover = waitFor(
      `a new leader of ${WORK_STREAM.name}`,
      async () => {
        const l = await streamLeader(nc as NatsConnection, WORK_STREAM.name);
        return l !== undefined && l !== victim.name && { leader: l, after: Date.now() - killedAt };
      },
      120_000,
      100,
    );
    failover.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
    // The rest lands while the stream elects a new leader and the clients on the dead server reconnect.
    for (let i = JOBS_BEFORE_KILL; i < JOBS_BEFORE_KILL + JOBS_AFTER_KILL; i++) {
      await submit(i);
      await new Promise((r) => setTimeout(r, SUBMIT_GAP_MS));
    }
    // The API does not go through NATS: a server down must not turn jobs away.
    assert.deepEqual(refused, []);
    assert.equal(expected.size, JOBS_BEFORE_KILL + JOBS_AFTER_KILL);
    const { leader: newLeader, after: failoverMs } = await failover;
    t.diagnostic(
      `${WORK_STREAM.name} led by ${newLeader} ${(failoverMs / 1000).toFixed(1)} s after the kill`,
    );

    // Every accepted job reaches a committed result (in a batch), none fails.
    const views = new Map<string, JobView>();
    const done = (v: JobView) =>
      (v.status === 'batched' || v.status === 'finalized') && v.batch !== undefined;
    try {
      await waitFor(
        'every accepted job committed in a batch',
        async () => {
          for (const id of expected.keys()) {
            if (views.has(id) && done(views.get(id)!)) continue;
            const v = (await (
              await fetch(`${seqUrl}/v1/jobs/${id}?outputs=false&proof=false`)
            ).json()) as JobView;
            views.set(id, v);
            if (v.status === 'failed' || v.status === 'invalid') {
              throw new Error(`job ${id} ended ${v.status}: ${v.error ?? ''}`);
            }
          }
          return [...views.values()].every(done);
        },
        240_000,
        500,
      );
    } catch (e) {
      const stuck = [...views.values()].filter((v) => !done(v)).map((v) => `${v.jobId} ${v.status}`);
      throw new Error(
        `${(e as Error).message}; not committed: ${stuck.join(', ')}\n--- sequencer\n${sequencer.stderr().slice(-4_000)}`,
      );
    }
    mark(
      `all ${expected.size} jobs committed (${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill)`,
    );
    for (const [id, digest] of expected) {
      assert.equal(views.get(id)?.outputDigest, digest, `job ${id} committed the model's true output`);
    }

    // Count executions: each executor keeps what it answered per job. Stop them so their stores can be read.
    const ids = executors.map((p) => /executor (\S+) running/.exec(p.stdout())![1]);
    for (const p of executors) assert.equal(await stopNode(p), 0, `executor stopped cleanly:\n${p.stderr()}`);
    const answered = new Map<string, { executor: string; outputDigest: string }[]>();
    for (const [k, name] of ['ex-a', 'ex-b'].entries()) {
      const dbs = readdirSync(join(dir, name)).filter((f) => /^executor-.*\.db$/.test(f));
      assert.equal(dbs.length, 1, `one result store in ${name}`);
      const store = await Store.open(join(dir, name, dbs[0]));
      try {
        for (const [jobId, r] of await store.table<StoredResult>('results').entries()) {
          const list = answered.get(jobId) ?? [];
          list.push({ executor: ids[k], outputDigest: r.outputDigest });
          answered.set(jobId, list);
        }
      } finally {
        await store.close();
      }
    }
    let executions = 0;
    for (const [id, digest] of expected) {
      const runs = answered.get(id) ?? [];
      executions += runs.length;
      assert.ok(
        runs.some((r) => r.executor === views.get(id)?.executor),
        `job ${id}: its committed executor ran it`,
      );
      for (const r of runs) {
        assert.equal(r.outputDigest, digest, `job ${id}: every execution (${r.executor}) answered the same`);
      }
    }
    const warnings = sequencer
      .stderr()
      .split('\n')
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as { msg?: string; why?: string; err?: string }];
        } catch {
          return [];
        }
      });
    const requeued = warnings.filter((w) => w.msg === 'job re-queued');
    const assignFailed = warnings.filter((w) => w.msg?.startsWith('assignment failed'));
    const reasons = [...new Set(requeued.map((w) => (w.why ?? '').replace(/executor \S+/, 'executor X')))];
    t.diagnostic(
      `${expected.size} jobs, ${executions} executions (${executions - expected.size} repeated), ` +
        `${requeued.length} re-queued (${reasons.join('; ') || 'none'}), ` +
        `${assignFailed.length} assignments failed and retried`,
    );
    // Honest executors: the challenger re-ran its sample across the failover and found nothing.
    assert.deepEqual(findings, []);
    mark('done');
  },
);
