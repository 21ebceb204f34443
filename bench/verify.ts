// Ed25519 result signatures on the sequencer's hot path: node:crypto against sodium-native (what state/job.ts uses), side by side.
import { createPublicKey, verify } from 'node:crypto';
import { Keypair } from '@solana/web3.js';
import sodium from 'sodium-native';
import { resultDigest, signResult } from '../state/job.ts';
import type { ExecutorId, Hash32, JobId, ModelId } from '../state/types.ts';

export interface VerifyRow {
  name: string;
  value: number;
  unit: string;
  note: string;
}

/** Median µs per verify of each library over `rounds` alternating rounds of `n` signed results. */
export function benchVerify(n = 1000, rounds = 5): VerifyRow[] {
  const k = Keypair.generate();
  const h = (i: number) => Buffer.alloc(32, i).toString('hex');
  const recs = Array.from({ length: n }, (_, i) =>
    signResult(
      {
        jobId: h(i % 256) as JobId,
        modelId: h(1) as ModelId,
        inputDigest: h(2) as Hash32,
        outputDigest: h(3) as Hash32,
        executor: k.publicKey.toBase58() as ExecutorId,
        fee: BigInt(i),
      },
      k.secretKey,
    ),
  );
  const digests = recs.map((r) => resultDigest(r));
  const sigs = recs.map((r) => Buffer.from(r.signature, 'hex'));
  const pk = Buffer.from(k.publicKey.toBytes());
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pk]);
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const libs: [string, (i: number) => boolean][] = [
    ['node:crypto', (i) => verify(null, digests[i], key, sigs[i])],
    ['sodium-native', (i) => sodium.crypto_sign_verify_detached(sigs[i], digests[i], pk)],
  ];
  const times = new Map<string, number[]>(libs.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, f] of libs) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < n; i++) if (!f(i)) throw new Error(`${name}: a valid signature did not verify`);
      times.get(name)!.push(Number(process.hrtime.bigint() - t) / 1000 / n);
    }
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const [a, b] = libs.map(([name]) => median(times.get(name)!));
  return [
    { name: 'result verify, node:crypto', value: a, unit: 'µs', note: `median of ${rounds} rounds of ${n}` },
    { name: 'result verify, sodium-native', value: b, unit: 'µs', note: 'what the sequencer uses' },
    { name: 'verify ratio node:crypto / sodium', value: a / b, unit: 'x', note: 'measured side by side' },
  ];
}
