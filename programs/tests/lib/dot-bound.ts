// The tolerant dot-product bound (pure/tolerant.rs), computed independently of the Rust code in BigInt
// (units of 2^-300): the margins and edge claims the VM tests and the tolerant games hold the program to.

/** Roundings a mean's scaling may add (pure/tolerant.rs MEAN_ROUNDINGS). */
export const MEAN_ROUNDINGS = 3;

export const bitsOf = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0];
export const fromBits = (u: number) => new Float32Array(new Uint32Array([u >>> 0]).buffer)[0];

/** The terms of one output element: a_i, b_i (f32 values) and the bias, if any. */
export interface Terms {
  a: number[];
  b: number[];
  bias?: number;
  /** A reduction over a: b is all 1 (sum) or fl(1/n) (mean, with MEAN_ROUNDINGS more roundings). */
  reduce?: 'sum' | 'mean';
}

// ---- The bound, independently in BigInt (units of 2^-300), for margins and the edge claims ----

export function fixed(u: number, shift: number): bigint {
  const e = (u >>> 23) & 0xff;
  const f = u & 0x7fffff;
  const [m, x] = e === 0 ? [f, 1] : [f | 0x800000, e];
  const v = BigInt(m) << BigInt(x + shift);
  return u >>> 31 ? -v : v;
}
export const abs = (v: bigint) => (v < 0n ? -v : v);

/** exact sum, S, T, n, K' of the terms; the bound is R / den (Fp32). */
export function bound(t: Terms) {
  let exact = 0n;
  let s = 0n;
  let sub = 0n;
  let n = 0;
  const pairs: [number, number][] = t.a.map((x, i) => [bitsOf(x), bitsOf(t.b[i])]);
  if (t.bias !== undefined) pairs.push([bitsOf(t.bias), bitsOf(1)]);
  for (const [x, y] of pairs) {
    if ((x & 0x7fffffff) === 0 || (y & 0x7fffffff) === 0) continue;
    // a * b = ma * mb * 2^(ea + eb - 300): the product of the two fixed values at shift -150 each.
    const p = (fixed(x, 0) * fixed(y, 0)) as bigint;
    exact += p;
    s += abs(p);
    if (((x >>> 23) & 0xff) === 0 || ((y >>> 23) & 0xff) === 0) sub += abs(p);
    n++;
  }
  const extra = t.reduce === 'mean' ? MEAN_ROUNDINGS : 0;
  n += extra;
  const den = BigInt(2 ** 24 - n);
  const r = BigInt(n) * s + (4n * sub + (BigInt(pairs.length + extra) << 177n)) * den;
  return { exact, r, den };
}

/** bound / |claimed - exact| (Infinity when exact). */
export function margin(t: Terms, claimed: number): number {
  const { exact, r, den } = bound(t);
  const d = abs(fixed(bitsOf(claimed), 150) - exact) * den;
  if (d === 0n) return Infinity;
  return Number((r * 1_000_000n) / d) / 1_000_000;
}

/** The f32 bit patterns next to exact +- bound: the last inside and the first outside, each side. */
export function edgeClaims(t: Terms): { inside: number[]; outside: number[] } {
  const { exact, r, den } = bound(t);
  const within = (u: number) => abs(fixed(u, 150) - exact) * den <= r;
  const inside: number[] = [];
  const outside: number[] = [];
  const approx = Number(exact) * 2 ** -300;
  const rad = (Number(r) / Number(den)) * 2 ** -300;
  for (const dir of [1, -1]) {
    // Step outwards by bit pattern (monotone within one sign) from near exact + dir * bound.
    let u = bitsOf(approx + dir * rad);
    const next = (x: number, d: number) => {
      const f = fromBits(x);
      const up = d > 0 === f >= 0;
      if (f === 0) return d > 0 ? 1 : 0x80000001;
      return up ? x + 1 : x - 1;
    };
    while (!within(u)) u = next(u, -dir);
    while (within(next(u, dir))) u = next(u, dir);
    inside.push(u);
    outside.push(next(u, dir));
  }
  return { inside, outside };
}
