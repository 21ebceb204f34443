// Signature strictness: every record signature the sequencer's libsodium check accepts, the program's Ed25519 precompile accepts too (edge-case keys and signatures, through answer_data).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import sodium from 'sodium-native';
import { World, attempt, type TxResult } from './lib/game.ts';
import { mlpModel } from './lib/model.ts';
import * as P from './lib/protocol.ts';
import { decodeJobRecord, verifyResult } from '../../state/job.ts';

// Ed25519 over BigInt, with none of a verifier's checks: it builds the keys and signatures a hostile executor
// could send (small-order and mixed-order points, non-canonical encodings, S >= L).
const p = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const mod = (a: bigint, m = p) => ((a % m) + m) % m;
function pow(b: bigint, e: bigint, m = p): bigint {
  let r = 1n;
  b = mod(b, m);
  for (; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}
const inv = (a: bigint) => pow(a, p - 2n);
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = pow(2n, (p - 1n) / 4n);

/** A point in extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z. */
interface Pt {
  X: bigint;
  Y: bigint;
  Z: bigint;
  T: bigint;
}
const ZERO: Pt = { X: 0n, Y: 1n, Z: 1n, T: 0n };
function add(a: Pt, b: Pt): Pt {
  const A = mod((a.Y - a.X) * (b.Y - b.X));
  const B = mod((a.Y + a.X) * (b.Y + b.X));
  const C = mod(2n * D * a.T * b.T);
  const E = mod(2n * a.Z * b.Z);
  const [e, f, g, h] = [B - A, E - C, E + C, B + A];
  return { X: mod(e * f), Y: mod(g * h), Z: mod(f * g), T: mod(e * h) };
}
const neg = (a: Pt): Pt => ({ X: mod(-a.X), Y: a.Y, Z: a.Z, T: mod(-a.T) });
function mul(a: Pt, k: bigint): Pt {
  let r = ZERO;
  for (let q = a, n = k; n > 0n; n >>= 1n, q = add(q, q)) if (n & 1n) r = add(r, q);
  return r;
}
function affine(a: Pt): [bigint, bigint] {
  const zi = inv(a.Z);
  return [mod(a.X * zi), mod(a.Y * zi)];
}
const eq = (a: Pt, b: Pt) => mod(a.X * b.Z - b.X * a.Z) === 0n && mod(a.Y * b.Z - b.Y * a.Z) === 0n;
const le = (n: bigint, bytes = 32) => {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
};
const fromLe = (b: Uint8Array) => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n);
/** The canonical encoding: y < p, the sign of x in the top bit. */
function encode(a: Pt): Buffer {
  const [x, y] = affine(a);
  return le(y | ((x & 1n) << 255n));
}
/** The point at y (taken mod p, so y >= p decodes too) with the sign bit `sign`; null off the curve. */
function pointAt(y: bigint, sign: number): Pt | null {
  y = mod(y);
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (p - 5n) / 8n));
  if (mod(v * x * x) !== u) x = mod(x * SQRT_M1);
  if (mod(v * x * x) !== u) return null;
  if (Number(x & 1n) !== sign) x = mod(-x);
  return { X: x, Y: y, Z: 1n, T: mod(x * y) };
}
const BASE = pointAt(mod(4n * inv(5n)), 0)!;
/** A point of order 8: [L] of any curve point is a torsion point; one whose [4] is not the identity has order 8. */
const T8 = (() => {
  for (let y = 2n; ; y++) {
    const q = pointAt(y, 0);
    if (!q) continue;
    const t = mul(q, L);
    if (!eq(mul(t, 4n), ZERO)) return t;
  }
})();
/** H(R || A || M) mod L, the challenge both verifiers compute over the bytes as sent. */
const challenge = (R: Uint8Array, A: Uint8Array, msg: Uint8Array) =>
  fromLe(createHash('sha512').update(R).update(A).update(msg).digest()) % L;
const randScalar = () => fromLe(randomBytes(64)) % L;
const sig = (R: Uint8Array, S: bigint) => Buffer.concat([R, le(S)]);

/** One case: the executor key the record names, and its signature over a record's result digest (null: try another record). */
interface Case {
  name: string;
  key: Buffer;
  sign: (msg: Buffer) => Buffer | null;
  /** Whether [S]B = R + [k]A holds with R and A decoded leniently (y mod p) and S as sent: a forgery, not noise. */
  equation: boolean;
}

/** A real key: secret scalar a and A = [a]B; and the same scalar with an order-8 point added (a mixed-order key). */
const honest = (() => {
  const a = randScalar();
  return { a, A: mul(BASE, a) };
})();
const mixed = { a: honest.a, A: add(honest.A, T8) };
const small = (i: number) => mul(T8, BigInt(i));
const y = (n: bigint, signBit = 0) => le(n | (BigInt(signBit) << 255n));
/** S = r + k·a for R = [r]B: the standard signature. */
const standard = (a: bigint, A: Buffer, msg: Buffer, R: Buffer, r: bigint) =>
  sig(R, mod(r + challenge(R, A, msg) * a, L));
const honestSig = (msg: Buffer, a = honest.a, A = encode(honest.A)) => {
  const r = randScalar();
  return standard(a, A, msg, encode(mul(BASE, r)), r);
};
/** For a small-order key: R = [r]B, S = r, tried until the challenge is a multiple of the key's order ([k]A = O). */
const smallKeySig = (key: Buffer, order: bigint) => (msg: Buffer) => {
  for (;;) {
    const r = randScalar();
    const R = encode(mul(BASE, r));
    if (challenge(R, key, msg) % order === 0n) return sig(R, r);
  }
};
/** A signature of the honest key with R given: S = k·a, valid in the cofactorless equation when R is the identity. */
const identityR = (R: Buffer) => (msg: Buffer) =>
  sig(R, mod(challenge(R, encode(honest.A), msg) * honest.a, L));
/** The honest signature with S replaced by f(S). */
const withS = (f: (s: bigint) => bigint) => (msg: Buffer) => {
  const s = honestSig(msg);
  return sig(s.subarray(0, 32), f(fromLe(s.subarray(32))));
};
/** For the mixed key: R = [r]B - [j]T8 with the challenge k = j mod 8 (`j` in `classes`). */
const mixedSig = (classes: (j: bigint, k: bigint) => boolean) => (msg: Buffer) => {
  const A = encode(mixed.A);
  for (let j = 0n; ; j = (j + 1n) % 8n) {
    const r = randScalar();
    const R = encode(add(mul(BASE, r), neg(mul(T8, j))));
    const k = challenge(R, A, msg);
    if (classes(j, k % 8n)) return standard(mixed.a, A, msg, R, r);
  }
};
const realPk = Buffer.alloc(32);
const realSk = Buffer.alloc(64);
sodium.crypto_sign_keypair(realPk, realSk);
const offCurve = (() => {
  for (let n = 2n; ; n++) if (!pointAt(n, 0)) return y(n);
})();

/** [S]B = R + [k]A, decoding R and A leniently (y taken mod p, any sign bit) and S unreduced: the bare equation. */
function equationHolds(key: Buffer, signature: Buffer, msg: Buffer): boolean {
  const dec = (b: Buffer) =>
    pointAt(fromLe(b) & ((1n << 255n) - 1n), b[31] >> 7) ?? pointAt(fromLe(b) & ((1n << 255n) - 1n), 0);
  const [R, A] = [dec(signature.subarray(0, 32)), dec(key)];
  if (!R || !A) return false;
  const k = challenge(signature.subarray(0, 32), key, msg);
  return eq(mul(BASE, fromLe(signature.subarray(32))), add(R, mul(A, k)));
}

const CASES: Case[] = [
  {
    name: 'libsodium key pair, libsodium signature',
    equation: true,
    key: realPk,
    sign: (m) => {
      const s = Buffer.alloc(64);
      sodium.crypto_sign_detached(s, m, realSk);
      return s;
    },
  },
  { name: 'honest key and signature', equation: true, key: encode(honest.A), sign: (m) => honestSig(m) },
  {
    name: 'signature over another record',
    equation: false,
    key: encode(honest.A),
    sign: (m) => honestSig(P.sha(m)),
  },
  {
    name: 'signature of another key',
    equation: false,
    key: encode(honest.A),
    sign: (m) => honestSig(m, randScalar()),
  },
  {
    name: 'S + L (non-canonical S, same scalar)',
    equation: true,
    key: encode(honest.A),
    sign: withS((s) => s + L),
  },
  {
    name: 'S + 15L (high bits of S set)',
    equation: true,
    key: encode(honest.A),
    sign: withS((s) => s + 15n * L),
  },
  {
    name: 'S with bit 255 set',
    equation: false,
    key: encode(honest.A),
    sign: withS((s) => s | (1n << 255n)),
  },
  {
    name: 'R = identity, S = k·a (small-order R)',
    equation: true,
    key: encode(honest.A),
    sign: identityR(encode(ZERO)),
  },
  {
    name: 'R = identity as y = p + 1 (non-canonical R)',
    equation: true,
    key: encode(honest.A),
    sign: identityR(y(p + 1n)),
  },
  {
    name: 'R = identity with the x sign bit (negative zero)',
    equation: true,
    key: encode(honest.A),
    sign: identityR(y(1n, 1)),
  },
  {
    name: 'A = identity (R = [r]B, S = r signs anything)',
    equation: true,
    key: encode(ZERO),
    sign: smallKeySig(encode(ZERO), 1n),
  },
  {
    name: 'A = identity as y = p + 1 (non-canonical A)',
    equation: true,
    key: y(p + 1n),
    sign: smallKeySig(y(p + 1n), 1n),
  },
  {
    name: 'A = identity with the x sign bit',
    equation: true,
    key: y(1n, 1),
    sign: smallKeySig(y(1n, 1), 1n),
  },
  {
    name: 'A of order 2 (y = p - 1)',
    equation: true,
    key: encode(small(4)),
    sign: smallKeySig(encode(small(4)), 2n),
  },
  {
    name: 'A of order 4 (y = 0)',
    equation: true,
    key: encode(small(2)),
    sign: smallKeySig(encode(small(2)), 4n),
  },
  { name: 'A of order 4 as y = p (non-canonical A)', equation: true, key: y(p), sign: smallKeySig(y(p), 4n) },
  { name: 'A of order 8', equation: true, key: encode(T8), sign: smallKeySig(encode(T8), 8n) },
  {
    name: 'A of order 8, the other y',
    equation: true,
    key: encode(small(3)),
    sign: smallKeySig(encode(small(3)), 8n),
  },
  {
    name: 'A mixed order (aB + T8), R = [r]B, k = 0 mod 8 (cofactorless-valid)',
    equation: true,
    key: encode(mixed.A),
    sign: mixedSig((j, k) => j === 0n && k === 0n),
  },
  {
    name: 'A mixed order, R = [r]B - [k]T8 (mixed R, cofactorless-valid)',
    equation: true,
    key: encode(mixed.A),
    sign: mixedSig((j, k) => j !== 0n && k === j),
  },
  {
    name: 'A mixed order, R = [r]B, k != 0 mod 8 (cofactored-valid only)',
    equation: false,
    key: encode(mixed.A),
    sign: mixedSig((j, k) => j === 0n && k !== 0n),
  },
  {
    name: 'A mixed order, R of order 8, S = k·a (small-order R, cofactorless-valid)',
    equation: true,
    key: encode(mixed.A),
    sign: (m) => {
      // [S]B - [k]A = -[k]T8 when S = k·a: R = [j]T8 needs k = -j mod 8; the record is changed until one fits.
      const A = encode(mixed.A);
      for (let j = 1n; j < 8n; j++) {
        const R = encode(mul(T8, j));
        const k = challenge(R, A, m);
        if (mod(-k, 8n) === j) return sig(R, mod(k * mixed.a, L));
      }
      return null;
    },
  },
  { name: 'A off the curve', equation: false, key: offCurve, sign: (m) => honestSig(m) },
];

const SOL = 1_000_000_000n;
/** The Ed25519 program's errors (solana-precompile-error PrecompileError) that a key or signature can cause. */
const PRECOMPILE_ERRORS: Record<string, string> = {
  Custom0: 'InvalidPublicKey',
  Custom2: 'InvalidSignature',
};

test('unsigned-record framing: no record signature libsodium accepts (the sequencer commits it) is refused by the Ed25519 precompile (answer_data), so no executor can craft a record that makes its sequencer unanswerable', async () => {
  const m = mlpModel();
  const world = new World();
  await world.init();
  await world.registerModel(m);
  const requester = world.fund(100n * SOL);

  // One job per case in one batch, each record naming the case's key and carrying its signature.
  const records: Buffer[] = [];
  const signatures: Buffer[] = [];
  for (const [i, c] of CASES.entries()) {
    for (let nonce = 0; ; nonce++) {
      const record = P.jobRecord({
        jobId: P.sha(Buffer.from('strictness'), P.u32(i), P.u32(nonce)),
        modelId: world.modelId,
        inputDigest: world.inputDigest(),
        outputDigest: P.sha(Buffer.from('output')),
        executor: c.key,
        fee: 1000n,
      });
      const s = c.sign(P.resultDigest(record));
      if (!s) continue;
      records.push(record);
      signatures.push(s);
      break;
    }
  }
  const levels = P.recordTree(records, signatures);
  world.must(
    await attempt(
      world.client.commitBatch(world.sequencer, {
        index: 0,
        root: P.batchRoot(levels),
        jobCount: records.length,
        feeTotal: 1000n * BigInt(records.length),
      }),
    ),
    'commit_batch',
  );
  const inputs = P.postInputs(m.inputs);

  const rows: { name: string; equation: boolean; libsodium: boolean; precompile: boolean; error?: string }[] =
    [];
  for (const [i, c] of CASES.entries()) {
    const libsodium = verifyResult(decodeJobRecord(records[i]), signatures[i].toString('hex'));
    world.must(await attempt(world.client.requestData(requester, 0, i)), `request_data ${i}`);
    const res: TxResult = await attempt(
      world.client
        .answerData(world.sequencer, 0, i, {
          record: records[i],
          signature: signatures[i],
          inputs,
          ...P.batchProof(levels, i),
        })
        .then((r) => r[r.length - 1]),
    );
    const equation = equationHolds(c.key, signatures[i], P.resultDigest(records[i]));
    assert.equal(equation, c.equation, `${c.name}: the crafted signature's equation`);
    rows.push({
      name: c.name,
      equation,
      libsodium,
      precompile: res.ok,
      error: res.ok ? undefined : res.error,
    });
  }
  const yn = (b: boolean) => (b ? 'accept' : 'reject');
  console.log(
    [
      'case | [S]B = R + [k]A | libsodium (sequencer) | Ed25519 precompile (answer_data)',
      '--- | --- | --- | ---',
    ]
      .concat(
        rows.map(
          (r) =>
            `${r.name} | ${r.equation ? 'holds' : 'fails'} | ${yn(r.libsodium)} | ${yn(r.precompile)}${r.error ? ` (${PRECOMPILE_ERRORS[r.error] ?? r.error})` : ''}`,
        ),
      )
      .join('\n'),
  );
  // The controls: a real signature passes both, a wrong one neither (and the precompile, not the program, refused it).
  assert.deepEqual(
    rows.slice(0, 4).map((r) => [r.libsodium, r.precompile]),
    [
      [true, true],
      [true, true],
      [false, false],
      [false, false],
    ],
  );
  // Every refusal is the Ed25519 program's own (a bad key or signature), not one of the program's checks around it.
  for (const r of rows)
    if (!r.precompile)
      assert.ok(r.error! in PRECOMPILE_ERRORS, `${r.name}: refused by ${r.error}, not the precompile`);
  // The attack: a record the sequencer takes that the precompile refuses could never be answered. None exists.
  const divergent = rows.filter((r) => r.libsodium && !r.precompile);
  assert.deepEqual(divergent, [], 'libsodium accepts what the Ed25519 precompile refuses');
  // Nobody was slashed, and every lamport is accounted for.
  assert.ok(!world.txs.some((t) => t.events.some((e) => e.name === 'Slashed')), 'nobody slashed');
  assert.equal(world.unaccountedLamports(), 0n, 'lamports conserved');
});
