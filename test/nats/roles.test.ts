// Roles as separate processes over a real nats-server: jobs finalize with valid proofs and a cheater is found.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNatsBus } from '../../bus/nats.ts';
import * as messages from '../../bus/messages.ts';
import type { Bus } from '../../bus/bus.ts';
import type { Finding } from '../../challenger/findings.ts';
import { verifyInclusion, type InclusionProof } from '../../state/job.ts';
import { natsSkipReason, startNatsServer, type NatsServerHandle } from '../helpers/nats-server.ts';
import { freePort, startNode, stopNode, waitFor, type NodeProcess } from '../helpers/node-process.ts';

const skip = natsSkipReason();
const procs: NodeProcess[] = [];
let server: NatsServerHandle | undefined;
let bus: Bus | undefined;

after(async () => {
  for (const p of procs.reverse()) await stopNode(p).catch(() => {});
  await bus?.close();
  await server?.dispose();
});

test(
  'sequencer, two executors (one cheating) and a challenger as separate processes over NATS',
  { skip, timeout: 180_000 },
  async () => {
    server = await startNatsServer({ maxPayload: 8 * 1024 * 1024 });
    const dir = mkdtempSync(join(tmpdir(), 'optinfer-roles-'));
    const port = await freePort();
    const seqUrl = `http://127.0.0.1:${port}`;
    const common = ['--nats', server.url];
    procs.push(
      await startNode(
        [
          'sequencer',
          ...common,
          '--port',
          String(port),
          '--data-dir',
          join(dir, 'seq'),
          '--batch-max-jobs',
          '4',
          '--batch-max-age-ms',
          '200',
          '--challenge-window-ms',
          '1500',
        ],
        /listening on/,
      ),
    );
    const honest = await startNode(
      ['executor', ...common, '--sequencer', seqUrl, '--data-dir', join(dir, 'ex-honest')],
      /executor \S+ running/,
    );
    const cheater = await startNode(
      [
        'executor',
        ...common,
        '--sequencer',
        seqUrl,
        '--data-dir',
        join(dir, 'ex-cheat'),
        '--cheat',
        'wrong-output',
        '--cheat-rate',
        '1',
      ],
      /executor \S+ running/,
    );
    procs.push(honest, cheater);
    const cheaterId = /executor (\S+) running/.exec(cheater.stdout())![1];
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
          '1',
        ],
        /challenger c1 running/,
      ),
    );

    bus = await connectNatsBus({ url: server.url });
    const findings: Finding[] = [];
    await messages.consume(bus, messages.FINDING, 'all', 'test-findings', (f) => {
      findings.push(f);
    });

    await waitFor(
      'both executors joined',
      async () =>
        ((await (await fetch(`${seqUrl}/healthz`)).json()) as { executors: number }).executors === 2,
      30_000,
    );
    const modelId = ((await (await fetch(`${seqUrl}/v1/models`)).json()) as { modelId: string }[])[0].modelId;
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await fetch(`${seqUrl}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          modelId,
          inputs: {
            x: {
              dtype: 'int8',
              dims: [1, 16],
              data: Array.from({ length: 16 }, (_, k) => ((k + i * 11) % 50) - 25),
            },
          },
        }),
      });
      assert.equal(res.status, 202);
      ids.push(((await res.json()) as { jobId: string }).jobId);
    }
    const jobs = [];
    for (const id of ids) {
      jobs.push(
        await waitFor(
          `job ${id} finalized`,
          async () => {
            const j = (await (await fetch(`${seqUrl}/v1/jobs/${id}`)).json()) as {
              status: string;
              executor: string;
              proof: InclusionProof;
            };
            return j.status === 'finalized' && j;
          },
          60_000,
        ),
      );
    }
    for (const j of jobs) assert.ok(verifyInclusion(j.proof));
    const cheated = jobs.filter((j) => j.executor === cheaterId).length;
    assert.ok(cheated > 0, 'the cheating executor got work');
    await waitFor('a finding per cheated job', async () => findings.length >= cheated, 60_000);
    assert.ok(findings.every((f) => f.executor === cheaterId && f.claimedOutputDigest !== f.ourOutputDigest));
    assert.equal(new Set(findings.map((f) => f.jobId)).size, cheated);
  },
);
