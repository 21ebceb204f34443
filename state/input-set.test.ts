// The posted input set: round trip, size equal to what the program parses, and the submission bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_INPUT_SET_BYTES,
  checkInputSetSize,
  decodeInputSet,
  encodeInputSet,
  inputSetBytes,
} from './input-set.ts';
import {
  tensorNameBytes,
  tensorNameFromBytes,
  tensorNameOrder,
  tensorSetDigest,
  type Tensor,
} from './tensor.ts';

const t = (dtype: Tensor['dtype'], dims: number[], data: number[]): Tensor => ({
  dtype,
  dims,
  data: Buffer.from(data),
});

test('posted input set: names in byte order, round trip, byte count', () => {
  const named = { b: t('int8', [2], [1, 2]), a: t('uint8', [1, 1], [7]) };
  const buf = encodeInputSet(named);
  assert.equal(buf.length, inputSetBytes(named));
  // a first: u32 count, u16 1, 'a'.
  assert.deepEqual([...buf.subarray(0, 7)], [2, 0, 0, 0, 1, 0, 0x61]);
  const back = decodeInputSet(buf);
  assert.deepEqual(Object.keys(back).sort(), ['a', 'b']);
  assert.equal(tensorSetDigest(back), tensorSetDigest(named));
  assert.throws(() => decodeInputSet(Buffer.concat([buf, Buffer.from([0])])), /past the last tensor/);
  assert.throws(() => decodeInputSet(buf.subarray(0, buf.length - 1)), /truncated/);
});

test('input size bound: inputs that could not be posted within a data request are refused, naming the bound', () => {
  const fits = { x: t('uint8', [MAX_INPUT_SET_BYTES - 17], []) };
  fits.x.data = Buffer.alloc(MAX_INPUT_SET_BYTES - 17);
  assert.equal(inputSetBytes(fits), MAX_INPUT_SET_BYTES);
  checkInputSetSize(fits);
  const over = {
    x: { ...fits.x, dims: [MAX_INPUT_SET_BYTES - 16], data: Buffer.alloc(MAX_INPUT_SET_BYTES - 16) },
  };
  assert.throws(() => checkInputSetSize(over), /32769 bytes posted, at most 32768/);
  const many = Object.fromEntries([...Array(17).keys()].map((i) => [`i${i}`, t('uint8', [1], [0])]));
  assert.throws(() => checkInputSetSize(many), /17 tensors, at most 16/);
  assert.throws(() => checkInputSetSize({ ['n'.repeat(65)]: t('uint8', [1], [0]) }), /longer than 64 bytes/);
});

test('names that are not UTF-8 (posted on chain by a colluding sequencer) keep their bytes through decode, digest and re-encode', () => {
  const cases = [
    [0xff],
    [0x61, 0xed, 0xa0, 0x80], // a, then a surrogate encoded in three bytes
    [0xc0, 0x80], // an overlong NUL
    [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
    [0xe2, 0x82], // truncated sequence
    [0xce, 0xbb, 0x80, 0xf0, 0x9f, 0x98, 0x80], // valid λ, a stray continuation, valid emoji
  ];
  for (const bytes of cases) {
    const name = tensorNameFromBytes(Buffer.from(bytes));
    assert.deepEqual([...tensorNameBytes(name)], bytes, `round trip of ${JSON.stringify(bytes)}`);
    const set = encodeInputSet({ [name]: t('uint8', [1], [5]) });
    const back = decodeInputSet(set);
    assert.deepEqual(Object.keys(back), [name]);
    assert.deepEqual([...encodeInputSet(back)], [...set]);
  }
  // Valid UTF-8 decodes as text, so the codec is the identity on every name a user can send.
  assert.equal(tensorNameFromBytes(Buffer.from('λ😀x', 'utf8')), 'λ😀x');
  // Order is byte order: 0xff sorts after every UTF-8 name, a surrogate escape after U+FFFF text.
  const hi = tensorNameFromBytes(Buffer.from([0xff]));
  assert.deepEqual(['\u{1F600}', hi, 'a'].sort(tensorNameOrder), ['a', '\u{1F600}', hi]);
  // Lone surrogates name no bytes (other than the escapes): refused, and refused at submission.
  assert.throws(() => tensorNameBytes('\ud800'), /lone surrogate U\+D800/);
  assert.throws(() => checkInputSetSize({ ['\udcff']: t('uint8', [1], [0]) }), /well-formed Unicode/);
});

test('name codec round trip: every byte string (random, biased to the bytes UTF-8 treats specially, a BOM among them) decodes to a name that encodes back to the same bytes', () => {
  const special = [
    0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xbb, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f,
  ];
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const seen = new Map<string, string>();
  for (let i = 0; i < 20_000; i++) {
    const len = Math.floor(rnd() * 7);
    const b = Buffer.from(
      Array.from({ length: len }, () =>
        rnd() < 0.6 ? special[Math.floor(rnd() * special.length)] : Math.floor(rnd() * 256),
      ),
    );
    if (i % 50 === 0) b.set([0xef, 0xbb, 0xbf].slice(0, Math.min(3, len))); // a BOM (or its start) first
    const name = tensorNameFromBytes(b);
    assert.ok(tensorNameBytes(name).equals(b), `round trip of ${b.toString('hex')}`);
    // Injective: two byte strings never decode to one name.
    const other = seen.get(name);
    assert.ok(
      other === undefined || other === b.toString('hex'),
      `${other} and ${b.toString('hex')} share a name`,
    );
    seen.set(name, b.toString('hex'));
  }
});
