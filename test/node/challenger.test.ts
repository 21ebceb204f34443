// The challenger catches a dishonest executor: audit by re-execution, then locate the divergence in the traces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDev, DEMO_MODEL_PATH } from '../../cli/roles.ts';
import { silentLogger } from '../../common/log.ts';
import { createMemoryBus } from '../../bus/memory.ts';
import { loadModel } from '../../executor/model.ts';
import { traceModel } from '../../executor/trace.ts';
import * as messages from '../../bus/messages.ts';
import { locate } from '../../challenger/locate.ts';
import { traceCommitment } from '../../state/trace.ts';
import { chunks, tensorDigest } from '../../state/tensor.ts';
import { leafHash } from '../../state/merkle.ts';
import { toHex, hashHex, sha256 } from '../../state/hash.ts';
import type { ExecutorId, JobId } from '../../state/types.ts';
import { waitFor } from '../helpers/node-process.ts';

test(
  'a wrong-output executor is caught by sampling and recorded as a finding; honest executors are not',
  { timeout: 120_000 },
  async () => {
    const node = await startDev({
      port: 0,
      host: '127.0.0.1',
      dataDir: mkdtempSync(join(tmpdir(), 'optinfer-chal-')),
      executors: 2,
      sampleRate: 1,
      batchMaxJobs: 8,
      batchMaxAgeMs: 100,
      challengeWindowMs: 60_000,
      cheat: { mode: 'wrong-output', rate: 1 },
      logger: silentLogger,
    });
    try {
      const cheater = node.executors[0].id;
      const ids: JobId[] = [];
      for (let i = 0; i < 8; i++) {
        const data = new Uint8Array(Int8Array.from({ length: 16 }, (_, k) => ((k * 3 + i) % 60) - 30).buffer);
        ids.push(
          (
            await node.sequencer.submit({
              modelId: node.demoModel.modelId,
              inputs: { x: { dtype: 'int8', dims: [1, 16], data } },
            })
          ).jobId,
        );
      }
      const jobs = await waitFor('all jobs batched', async () => {
        const js = await Promise.all(ids.map((id) => node.sequencer.getJob(id, { outputs: false })));
        return js.every((j) => j?.status === 'batched') && js;
      });
      const byCheater = jobs.filter((j) => j!.executor === cheater).map((j) => j!.jobId);
      const byHonest = jobs.filter((j) => j!.executor !== cheater).map((j) => j!.jobId);
      assert.ok(byCheater.length > 0 && byHonest.length > 0, 'both executors got work');
      await waitFor(
        'findings for every cheated job',
        async () => (await node.challenger.findings.all()).length >= byCheater.length,
        60_000,
      );
      const findings = await node.challenger.findings.all();
      assert.deepEqual(findings.map((f) => f.jobId).sort(), [...byCheater].sort());
      for (const f of findings) {
        assert.equal(f.executor, cheater);
        assert.notEqual(f.claimedOutputDigest, f.ourOutputDigest);
        // The cheat alters only the returned output: its trace is honest, so no layer diverges.
        assert.equal(f.location.firstDivergentLayer, null);
        assert.equal(f.location.theirTraceRoot, f.location.ourTraceRoot);
        assert.equal(f.provable, true);
      }
    } finally {
      await node.close();
    }
  },
);

test('locate finds the exact layer and chunk where an executor trace first diverges', async () => {
  const model = await loadModel(new Uint8Array(readFileSync(DEMO_MODEL_PATH)), { name: 'demo' });
  const inputs = {
    x: {
      dtype: 'int8' as const,
      dims: [1, 16],
      data: new Uint8Array(Int8Array.from({ length: 16 }, (_, k) => k - 8).buffer),
    },
  };
  const honest = await traceModel(model, inputs, { keepTensors: true });
  assert.ok(honest.layerCount >= 3, `the demo model has ${honest.layerCount} layers`);
  const bus = createMemoryBus();
  const executor = 'Exec1111111111111111111111111111111111111111' as ExecutorId;
  const jobId = hashHex(sha256(new Uint8Array([1]))) as JobId;
  try {
    for (let k = 0; k < honest.layerCount; k++) {
      // The evil executor's tensor at layer k has its last byte changed; layers before k are honest.
      const tensors = honest.tensors!.map((t, i) => {
        if (i < k) return t;
        const data = new Uint8Array(t.data);
        data[data.length - 1] ^= 0x40;
        return { ...t, data };
      });
      const layerDigests = tensors.map((t) => tensorDigest(t));
      const c = traceCommitment({
        modelId: model.modelId,
        inputDigest: honest.inputDigest,
        profileHash: model.profileHash,
        layerDigests,
      });
      const subs = [
        await messages.reply(bus, messages.TRACE, executor, () => ({
          jobId,
          traceRoot: c.root,
          layerCount: c.layerCount,
          outputDigest: honest.outputDigest,
          layers: honest.layers.map((l, i) => ({
            index: i,
            name: l.name,
            op: l.op,
            digest: layerDigests[i],
          })),
          prefixes: c.prefixes,
        })),
        await messages.reply(bus, messages.CHUNKS, executor, (m) => ({
          jobId,
          layer: m.layer,
          chunkHashes: chunks(tensors[m.layer].data).map((ch) => toHex(leafHash(ch))),
        })),
      ];
      const loc = await locate({ bus, model, inputs, jobId, executor });
      assert.equal(loc.firstDivergentLayer, k, `divergence planted at layer ${k}`);
      assert.equal(loc.firstDivergentChunk, chunks(honest.tensors![k].data).length - 1);
      assert.equal(loc.ourTraceRoot, honest.traceRoot);
      assert.equal(loc.theirTraceRoot, c.root);
      for (const s of subs) await s.unsubscribe();
    }
    // A silent executor: the finding records that it did not answer.
    const silent = await locate({
      bus,
      model,
      inputs,
      jobId,
      executor: 'Si1ent11111111111111111111111111111111111111' as ExecutorId,
    });
    assert.equal(silent.theirTraceRoot, null);
    assert.ok(silent.executorError);
  } finally {
    await bus.close();
    await model.close();
  }
});
