// End to end on a 3-server JetStream cluster (R3 streams) and the local validator: a cheating executor is caught and
// slashed while the leader of the job stream is killed mid-load; no accepted job is lost or answered two ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { PHASE, SIDE } from '../../settlement/index.ts';
import { WORK_STREAM } from '../../bus/subjects.ts';
import type { StoredResult } from '../../executor/results.ts';
import { Store } from '../../state/store.ts';
import { verifyInclusion } from '../../state/job.ts';
import { natsSkipReason } from '../helpers/nats-server.ts';
import { stopNode, waitFor } from '../helpers/node-process.ts';
import {
  BOUNTY_BPS,
  EXECUTOR_BOND,
  MIN_EXECUTOR_BOND,
  startCluster,
  type Cluster,
  type JobResult,
} from './cluster.ts';

/** Jobs accepted before the kill, then after it, paced so they land while the stream elects a new leader. */
const JOBS_BEFORE_KILL = 4;
const JOBS_AFTER_KILL = 4;
const SUBMIT_GAP_MS = 500;

/** The program's bounty split (game.rs bps_of), exact in integers. */
const bpsOf = (amount: bigint, bps: number) =>
  (amount / 10_000n) * BigInt(bps) + ((amount % 10_000n) * BigInt(bps)) / 10_000n;

/** The stream's current leader (a server name), asked through any live server; undefined while it has none. */
async function streamLeader(nc: NatsConnection, stream: string): Promise<string | undefined> {
  try {
    const jsm = await nc.jetstreamManager({ timeout: 3_000 });
    return (await jsm.streams.info(stream)).cluster?.leader || undefined;
  } catch {
    return undefined;
  }
}

test(
  'NATS cluster (3 servers, R3): the job stream leader killed -9 mid-load; the cheater is slashed, every job finalizes with the honest result, honest bonds intact',
  { skip: natsSkipReason(), timeout: 600_000 },
  async (t) => {
    const t0 = Date.now();
    const mark = (what: string) => t.diagnostic(`${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const c: Cluster = await startCluster({
      evil: [{ mode: 'wrong-layer', layer: 2 }],
      // One honest executor: its results sent during the election bounce (503, no stream leader) and are retried
      // (bus/nats.ts send); before that, it timed out on the job, was barred from it (sequencer/dispatch.ts) and
      // with only the cheater left an accepted job ended failed.
      honest: 1,
      natsCluster: true,
      progress: (m) => mark(m),
    });
    let nc: NatsConnection | undefined;
    try {
      const cluster = c.natsCluster!;
      assert.ok(cluster, 'the roles run on the NATS cluster');
      mark('roles up');
      const honest = c.executors.filter((e) => !e.cheat);
      const cheater = c.executors.find((e) => e.cheat)!;
      const honestKeys = new Set(honest.map((e) => e.keypair.publicKey.toBase58()));
      const bondOf = async (name: string) =>
        (await c.client.fetchOperator(c.roles.get(name)!.keypair.publicKey))?.bonded ?? 0n;
      for (const e of c.executors) assert.equal(await bondOf(e.name), EXECUTOR_BOND, e.name);
      const challengerBefore = new Map(
        await Promise.all(c.challengers.map(async (r) => [r.name, await bondOf(r.name)] as const)),
      );

      nc = await connect({
        servers: cluster.urls.split(','),
        reconnectTimeWait: 250,
        maxReconnectAttempts: -1,
      });
      const info = await (await nc.jetstreamManager()).streams.info(WORK_STREAM.name);
      assert.equal(info.config.num_replicas, 3, 'the roles created the job stream with 3 replicas');
      const leader = await streamLeader(nc, WORK_STREAM.name);
      const victim = cluster.servers.find((s) => s.name === leader);
      assert.ok(victim, `the job stream's leader ${leader} is one of the cluster's servers`);

      const submitted: { jobId: string; expected: string }[] = [];
      for (let i = 0; i < JOBS_BEFORE_KILL; i++) submitted.push(await c.submit(i));
      await victim.kill('SIGKILL');
      const killedAt = Date.now();
      mark(`SIGKILLed ${victim.name}, the leader of ${WORK_STREAM.name}, after ${submitted.length} jobs`);
      for (let i = JOBS_BEFORE_KILL; i < JOBS_BEFORE_KILL + JOBS_AFTER_KILL; i++) {
        submitted.push(await c.submit(i));
        await new Promise((r) => setTimeout(r, SUBMIT_GAP_MS));
      }
      const next = await waitFor(
        `a new leader of ${WORK_STREAM.name}`,
        async () => {
          const l = await streamLeader(nc!, WORK_STREAM.name);
          return l !== undefined && l !== victim.name && l;
        },
        120_000,
        200,
      );
      mark(
        `${WORK_STREAM.name} led by ${next} ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`,
      );

      // Every accepted job finalizes on chain with the output an honest run gives, from the honest executor.
      const final: JobResult[] = [];
      for (const s of submitted) {
        final.push(
          await waitFor(
            `job ${s.jobId} finalized`,
            async () => {
              const j = await c.job(s.jobId).catch(() => undefined);
              return j?.status === 'finalized' && j;
            },
            300_000,
            250,
          ),
        );
      }
      mark(`all ${final.length} jobs finalized`);
      for (const [i, j] of final.entries()) {
        assert.equal(j.outputDigest, submitted[i].expected, `job ${j.jobId}: wrong final output`);
        assert.ok(honestKeys.has(j.executor!), `job ${j.jobId}: finalized from the cheater`);
        assert.ok(j.proof && verifyInclusion(j.proof), `job ${j.jobId}: inclusion proof does not verify`);
        // Finalized on chain; or already closed, which the program allows only to a finalized batch past its grace.
        const b = await c.client.batchState(BigInt(j.batch!.index));
        assert.notEqual(b.state, 'uncommitted', `batch ${j.batch!.index} is not on chain`);
        if (b.state === 'open') {
          assert.ok(b.batch.finalized !== 0, `batch ${j.batch!.index} is not finalized on chain`);
          assert.equal(Buffer.from(b.batch.root).toString('hex'), j.batch!.root);
        }
      }

      await waitFor(
        'every dispute resolved',
        async () => (await c.client.listDisputes({ open: true })).length === 0,
        120_000,
        250,
      );
      // Resolved games may be closed already (their rent reclaimed), so the bonds say what moved; the games still on
      // chain were all against the cheater and won by a challenger.
      const disputes = await c.client.listDisputes();
      for (const { address, dispute: d } of disputes) {
        assert.ok(
          d.executor.equals(cheater.keypair.publicKey),
          `dispute ${address.toBase58()} names an honest executor`,
        );
        assert.equal(d.phase, PHASE.RESOLVED);
        assert.equal(d.winner, SIDE.CHALLENGER, `dispute ${address.toBase58()} won by the cheater`);
      }
      const cheaterOp = await c.client.fetchOperator(cheater.keypair.publicKey);
      const slashed = EXECUTOR_BOND - (cheaterOp?.bonded ?? 0n);
      assert.ok(slashed >= MIN_EXECUTOR_BOND, `the cheater was slashed only ${slashed} lamports`);
      assert.equal(slashed % MIN_EXECUTOR_BOND, 0n, `the cheater lost ${slashed} lamports, not whole stakes`);
      assert.equal(cheaterOp?.locked, 0n, 'the cheater still has stake locked');
      for (const e of honest) {
        const op = await c.client.fetchOperator(e.keypair.publicKey);
        assert.equal(op?.bonded, EXECUTOR_BOND, `${e.name}: honest bond changed`);
        assert.equal(op?.locked, 0n);
      }
      // Each of the cheater's lost stakes paid its bounty to the challenger that won the game; none lost bond.
      let bounties = 0n;
      for (const r of c.challengers) {
        const gain = (await bondOf(r.name)) - challengerBefore.get(r.name)!;
        assert.ok(gain >= 0n, `${r.name}: honest challenger lost bond`);
        bounties += gain;
      }
      assert.equal(
        bounties,
        bpsOf(slashed, BOUNTY_BPS),
        'the challengers were not paid the bounty on every stake',
      );

      // No job answered two ways across the failover: every answer an honest executor kept is the true one, and
      // each job's answer is in the store of the executor it finalized from. Stopped first: a store has one opener.
      const answered = new Map<string, { executor: string; outputDigest: string }[]>();
      for (const e of honest) {
        assert.equal(await stopNode(e.proc!), 0, `${e.name} stopped cleanly:\n${e.proc!.stderr()}`);
        const dir = join(c.dir, e.name);
        const dbs = readdirSync(dir).filter((f) => /^executor-.*\.db$/.test(f));
        assert.equal(dbs.length, 1, `one result store in ${dir}`);
        const store = await Store.open(join(dir, dbs[0]));
        try {
          for (const [jobId, r] of await store.table<StoredResult>('results').entries()) {
            const list = answered.get(jobId) ?? [];
            list.push({ executor: e.keypair.publicKey.toBase58(), outputDigest: r.outputDigest });
            answered.set(jobId, list);
          }
        } finally {
          await store.close();
        }
      }
      let executions = 0;
      for (const [i, s] of submitted.entries()) {
        const runs = answered.get(s.jobId) ?? [];
        executions += runs.length;
        assert.ok(
          runs.some((r) => r.executor === final[i].executor),
          `job ${s.jobId}: not in the store of ${final[i].executor}, which it finalized from`,
        );
        for (const r of runs)
          assert.equal(r.outputDigest, s.expected, `job ${s.jobId}: ${r.executor} answered differently`);
      }
      const requeued = (c.roles.get('sequencer')!.proc?.stderr() ?? '')
        .split('\n')
        .filter((l) => l.includes('"msg":"job re-queued"')).length;
      t.diagnostic(
        `${submitted.length} jobs, ${executions} honest executions, ${requeued} re-queued after a lost or timed-out ` +
          `attempt, ${disputes.length} games still on chain, cheater slashed ${slashed} lamports`,
      );
      mark('done');
    } catch (e) {
      process.stderr.write(`cluster logs (${c.dir}):\n${c.logs()}\n`);
      throw e;
    } finally {
      await nc?.close().catch(() => {});
      await c.stop();
    }
  },
);
