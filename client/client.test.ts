// The client library against a real dev node on the program (LiteSVM): submit, status events, outputs, proofs checked here and on chain, typed errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDev, type DevNode } from '../cli/roles.ts';
import { silentLogger } from '../common/log.ts';
import { OptinferError } from '../state/errors.ts';
import { jobLeaf, verifyInclusion, decodeJobRecord as decodeRecordNode } from '../state/job.ts';
import { FeeTree } from '../state/fee-tree.ts';
import { toHex } from '../state/hash.ts';
import { freePort, runCli } from '../test/helpers/node-process.ts';
import {
  OptinferApiError,
  OptinferClient,
  decodeJobRecord,
  jobLeafHash,
  merkleRoot,
  verifyInclusionProof,
  type InclusionProof,
  type JobEvent,
  type JobView,
} from './index.ts';

let node: DevNode;
let api: OptinferClient;

const x = (seed: number) => ({
  x: { dtype: 'int8', dims: [1, 16], data: Array.from({ length: 16 }, (_, k) => ((k * 7 + seed) % 50) - 25) },
});

before(async () => {
  node = await startDev({
    port: 0,
    host: '127.0.0.1',
    dataDir: mkdtempSync(join(tmpdir(), 'optinfer-client-')),
    executors: 1,
    sampleRate: 0,
    batchMaxJobs: 4,
    batchMaxAgeMs: 200,
    // 10 slots of 400 ms: the batch stays committed long enough to be seen as such.
    challengeWindowMs: 4000,
    cheat: { mode: 'none', rate: 0 },
    logger: silentLogger,
    chain: 'litesvm',
  });
  api = new OptinferClient({ url: node.url, pollMs: 50 });
});
after(() => node.close());

test('the library core imports no node: module (it runs in browsers)', () => {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
    const src = readFileSync(join(dir, f), 'utf8');
    assert.doesNotMatch(src, /from ['"]node:|require\(|\bBuffer\b/, f);
  }
});

test('hashing matches the sequencer: leaves H(0x00 || record || signature) and the padded batch tree with its fee sums', () => {
  const leaves = Array.from({ length: 5 }, (_, i) => ({
    hash: new Uint8Array(32).fill(i + 1),
    fee: BigInt(i * 1000),
  }));
  const ours = merkleRoot(leaves);
  const tree = FeeTree.fromLeaves(leaves);
  assert.equal(toHex(ours.hash), toHex(tree.root));
  assert.equal(ours.fee, tree.feeSum);
  assert.equal(ours.fee, 10_000n);
});

test('submit, follow the job through its phases to finalized, fetch outputs, verify its proof here and on chain', async () => {
  const modelId = node.demoModel.modelId;
  // Four at once: one batch of four, so proofs have siblings.
  const ids = await Promise.all(
    [0, 1, 2, 3].map(async (i) => (await api.submit({ modelId, inputs: x(i) })).jobId),
  );
  const events: JobEvent[] = [];
  const job = await api.wait(ids[0], { onEvent: (e) => events.push(e), timeoutMs: 60_000 });
  const phases = events.map((e) => e.phase);
  assert.equal(job.status, 'finalized');
  assert.equal(phases.at(-1), 'finalized');
  assert.ok(phases.includes('committed'), phases.join(' → '));
  const order = ['queued', 'assigned', 'executed', 'committed', 'finalized'];
  assert.deepEqual(
    phases,
    order.filter((p) => phases.includes(p as JobEvent['phase'])),
    `phases in life-cycle order: ${phases.join(' → ')}`,
  );
  assert.equal(events.find((e) => e.phase === 'committed')!.batch!.index, job.batch!.index);

  const outputs = await api.outputs(ids[0]);
  assert.deepEqual(outputs, job.outputs);
  assert.deepEqual(
    Object.keys(outputs),
    node.demoModel.outputs.map((o) => o.name),
  );

  // The proof as the sequencer built it: the node's own check agrees, and the leaf is the sequencer's.
  const p = job.proof!;
  assert.ok(p.siblings.length >= 1, 'a batch of more than one job');
  assert.equal(verifyInclusionProof(p), true);
  assert.equal(verifyInclusion(p as never), true);
  const r = decodeRecordNode(Buffer.from(p.record, 'hex'));
  assert.equal(
    toHex(jobLeafHash(Buffer.from(p.record, 'hex'), Buffer.from(p.signature, 'hex'))),
    toHex(jobLeaf({ ...r, signature: p.signature })),
  );
  assert.deepEqual(decodeJobRecord(p.record), { ...r, fee: r.fee.toString() });

  const v = await api.verify(ids[0]);
  assert.equal(v.proofValid, true, v.problem);
  assert.equal(v.verified, true, v.problem);
  assert.equal(v.rootOnChain, true);
  assert.equal(v.invalidated, false);
  // The chain's batch, read through the node, is the one the program holds.
  const onChain = await node.chain!.fetchBatch(BigInt(p.batchIndex));
  assert.equal(v.chain!.root, onChain!.root.toString('hex'));
  assert.equal(v.chain!.root, p.batchRoot);
  assert.equal(v.chain!.jobCount, onChain!.jobCount);
  assert.equal(v.chain!.finalized, true);
});

test('a tampered proof is rejected: by the library, by the sequencer code, and by verify', async () => {
  const modelId = node.demoModel.modelId;
  const { jobId } = await api.submit({ modelId, inputs: x(9) });
  const job = await api.wait(jobId, { timeoutMs: 60_000 });
  const p = job.proof!;
  assert.equal(verifyInclusionProof(p), true);
  const flip = (hex: string, at: number) =>
    hex.slice(0, at) + (parseInt(hex[at], 16) ^ 1).toString(16) + hex.slice(at + 1);
  const tampered: [string, InclusionProof][] = [
    ['the output digest in the record', { ...p, record: flip(p.record, 96 * 2 + 5) }],
    ['the fee in the record', { ...p, record: flip(p.record, 160 * 2 + 1) }],
    ['the signature', { ...p, signature: flip(p.signature, 3) }],
    ['the batch root', { ...p, batchRoot: flip(p.batchRoot, 0) }],
    ['the index', { ...p, index: p.index ^ 1 }],
    ['the job count', { ...p, jobCount: p.jobCount * 2 + 1 }],
    ['the fee sum', { ...p, feeSum: (BigInt(p.feeSum) + 1n).toString() }],
    ...(p.siblings.length
      ? [
          ['a sibling', { ...p, siblings: [flip(p.siblings[0], 10), ...p.siblings.slice(1)] }] as [
            string,
            InclusionProof,
          ],
          [
            "a sibling's fee sum",
            { ...p, siblingFees: [(BigInt(p.siblingFees[0]) + 1n).toString(), ...p.siblingFees.slice(1)] },
          ] as [string, InclusionProof],
        ]
      : []),
  ];
  for (const [what, t] of tampered) {
    assert.equal(verifyInclusionProof(t), false, what);
    assert.equal(verifyInclusion(t as never), false, `${what} (state/job.ts)`);
    const v = await api.verify({ ...job, proof: t } as JobView);
    assert.equal(v.verified, false, what);
    assert.equal(v.proofValid, false, what);
  }
  // A valid proof of another job is not this job's.
  const other = await api.wait((await api.submit({ modelId, inputs: x(10) })).jobId, { timeoutMs: 60_000 });
  const swapped = await api.verify({ ...job, proof: other.proof });
  assert.equal(swapped.verified, false);
  assert.match(swapped.problem!, /the proof's record has jobId/);
});

/** The error a call fails with (a call that succeeds fails the test). */
const refusal = (p: Promise<unknown>): Promise<OptinferApiError> =>
  p.then(
    () => assert.fail('expected the call to fail'),
    (e: unknown) => e as OptinferApiError,
  );

test('typed errors carry the API code and status; an unreachable node is UNAVAILABLE naming the URL', async () => {
  const refused = await refusal(api.submit({ modelId: 'not-a-model', inputs: x(1) }));
  assert.ok(refused instanceof OptinferApiError);
  assert.ok(refused instanceof OptinferError);
  assert.equal(refused.status, 400);
  assert.equal(refused.code, 'INVALID_HASH');
  assert.equal(refused.kind, 'bad-input');
  assert.match(refused.message, /modelId/);
  assert.match(refused.request, /^POST http:\/\/127\.0\.0\.1:\d+\/v1\/jobs$/);

  const wrongInput = await refusal(
    api.submit({
      modelId: node.demoModel.modelId,
      inputs: { x: { dtype: 'int8', dims: [1, 15], data: [] } },
    }),
  );
  assert.equal(wrongInput.code, 'INVALID_INPUT');

  const missing = await refusal(api.job('ab'.repeat(32)));
  assert.equal(missing.code, 'NOT_FOUND');
  assert.equal(missing.status, 404);
  const noBatch = await refusal(api.chainBatch(999));
  assert.equal(noBatch.code, 'NOT_FOUND');
  assert.match(noBatch.message, /batch 999 is not committed on chain \(next index \d+\)/);

  const down = `http://127.0.0.1:${await freePort()}`;
  const unreachable = await refusal(new OptinferClient({ url: down }).models());
  assert.equal(unreachable.code, 'UNAVAILABLE');
  assert.equal(unreachable.status, undefined);
  assert.match(unreachable.message, new RegExp(`cannot reach the optinfer node at ${down}`));
});

test('optinfer submit --wait (built on the library) prints the finalized job with its proof verified on chain', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'optinfer-submit-'));
  const input = join(dir, 'in.json');
  writeFileSync(input, JSON.stringify({ inputs: x(42) }));
  const r = await runCli([
    'submit',
    '--model',
    node.demoModel.modelId,
    '--input',
    input,
    '--url',
    node.url,
    '--wait',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const job = JSON.parse(r.stdout);
  assert.equal(job.status, 'finalized');
  assert.equal(job.proofVerified, true);
  assert.equal(job.onChain.root, job.proof.batchRoot);
  assert.equal(job.onChain.rootMatches, true);
  assert.match(r.stderr, /job [0-9a-f]{64} accepted/);
  assert.match(r.stderr, /batched \(batch \d+\)\n.*finalized/);
  const refused = await runCli(['submit', '--model', 'ab'.repeat(32), '--input', input, '--url', node.url]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /sequencer refused \(HTTP 404\): model a+b+.* is not registered/);
});
