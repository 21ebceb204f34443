// Review 27: input names through the codecs that carry them (bytes posted on chain, the stored form in LevelDB).
// Each test states the property the protocol promises; a failing test is an attack that succeeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batch } from './job.ts';
import { decodeInputSet, encodeInputSet } from './input-set.ts';
import { seqKey } from './store.ts';
import { tensorNameBytes, tensorNameFromBytes, tensorSetDigest, type Tensor } from './tensor.ts';
import type { BatchIndex } from './types.ts';
import { toRecord, type BatchState } from '../sequencer/ledger.ts';
import { seedJob, tempLedger } from '../sequencer/testing.ts';
import { Views } from '../sequencer/views.ts';

const t = (v: number): Tensor => ({ dtype: 'int8', dims: [1], data: new Uint8Array([v]) });

test("rev27 BOM name codec: posted name bytes EF BB BF 'x' (U+FEFF 'x', well-formed UTF-8 the program takes) must decode to a name that encodes back to the same bytes, and a set posting both 'x' and U+FEFF 'x' must decode to both inputs with the posted digest (tensorNameFromBytes's fatal TextDecoder strips a leading BOM: the name becomes 'x', the two collide)", () => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf, 0x78]);
  assert.deepEqual(
    [...tensorNameBytes(tensorNameFromBytes(bom))],
    [...bom],
    'the posted name bytes EF BB BF 78 come back as another name',
  );
  assert.deepEqual(
    [...tensorNameBytes(tensorNameFromBytes(Buffer.from([0xef, 0xbb, 0xbf])))],
    [0xef, 0xbb, 0xbf],
    'the posted name U+FEFF alone comes back as the empty name',
  );
  const named = { x: t(1), '\ufeffx': t(2) };
  const posted = encodeInputSet(named);
  const back = decodeInputSet(posted);
  assert.equal(
    Object.keys(back).length,
    2,
    `two posted inputs decode to ${JSON.stringify(Object.keys(back))}`,
  );
  assert.equal(tensorSetDigest(back), tensorSetDigest(named), 'the decoded set hashes to another digest');
});

test("rev27 stored input named __proto__: anyone registers a (provable) model whose input is named __proto__ and submits a job on it; intake stores the inputs with toStored, whose `out[k] = …` sets the stored object's prototype instead of keeping the input (fromStored does the same on read), so the honest sequencer's answer to a data request on the job (Views.dataAt → answer_data) posts an empty set: the program refuses it (digest), the timeout invalidates the job and slashes the honest sequencer; the answer must post the committed inputs", async () => {
  const ledger = await tempLedger();
  try {
    // As intake stores it (decodeInputsJson keeps an input named __proto__ as an input, review 24).
    const inputs = Object.defineProperty({}, '__proto__', {
      value: t(7),
      enumerable: true,
      writable: true,
      configurable: true,
    }) as Record<string, Tensor>;
    const job = await seedJob(ledger.ledger, 0, { status: 'executed', inputs });
    const tree = new Batch(0 as BatchIndex, [toRecord(job)]);
    const b: BatchState = {
      index: 0,
      root: tree.root,
      jobCount: 1,
      jobIds: [job.jobId],
      createdAt: 1,
      windowEndsAt: 2,
      status: 'committed',
    };
    await ledger.ledger.store.write([
      ledger.ledger.batches.put(seqKey(0), b),
      ledger.ledger.jobs.put(job.jobId, { ...job, status: 'batched', batchIndex: 0, position: 0 }),
    ]);
    ledger.ledger.active.delete(job.jobId);
    const data = await new Views(ledger.ledger).dataAt(0, 0);
    assert.ok(data, 'the sequencer has the data to answer');
    const posted = decodeInputSet(encodeInputSet(data.inputs));
    assert.equal(
      tensorSetDigest(posted),
      job.inputDigest,
      `the honest sequencer answers with inputs ${JSON.stringify(Object.keys(data.inputs))}, not the committed set {__proto__}: answer_data refuses them and the data timeout slashes it`,
    );
  } finally {
    await ledger.close();
  }
});
