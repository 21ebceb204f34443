//! The tolerant dot-product check: is a claimed f32 an honest result of sum_i a_i*b_i (+ bias) in any order, exactly decided in integers.
//!
//! An honest executor may sum the K products in any order (sequential, pairwise, SIMD lanes, blocked,
//! split over threads), with or without FMA, flushing subnormal results to zero or not, treating
//! subnormal inputs as zero or not (DAZ). Any such result r satisfies (Higham, Lemma 3.1, with the
//! underflow model fl(x) = x(1+d) + e):
//!
//!   |r - exact| <= c * S + 4 * T + A
//!
//! - exact = sum_i a_i*b_i (+ bias), computed here EXACTLY: each product of two f32 is an integer
//!   below 2^48 times 2^(ea+eb-300), added into a fixed-point accumulator of 22 x 32-bit limbs with
//!   its least bit 2^-300 (positive and negative terms apart, carries deferred to the end), so
//!   nothing on the way is rounded.
//! - S = sum |a_i*b_i| (+ |bias|), exact from the same two accumulators (S = pos + neg).
//! - n = the terms with a non-zero product, plus a non-zero bias. Zero terms and additions of a zero
//!   are exact, so each non-zero term meets at most one rounding for its product (or the FMA that
//!   absorbs it) and n - 1 inexact additions: n roundings, |prod(1+d_j) - 1| <= gamma_n.
//! - `Arith::Fp32`: c = gamma_n = n*u/(1-n*u), u = 2^-24 (IEEE round to nearest).
//! - `Arith::InputPrecision { mantissa_bits: m }`: inputs (and the bias) rounded or truncated to m
//!   stored bits first, relative error <= u_in = 2^-m each, products then exact, accumulation in fp32
//!   with per-operation relative error <= 2^-23 (so truncating or short-alignment accumulators such
//!   as tensor cores' are covered too): c = (1+u_in)^2 * (1+gamma'_n) - 1, gamma'_n with u' = 2^-23.
//!   TF32: m = 10, BF16: m = 7. Formats with fp32's exponent range only (not FP16); 1 <= m <= 16.
//! - T = sum of |a_i*b_i| over terms with a subnormal input (and a subnormal bias): DAZ, or rounding
//!   a subnormal to m bits, moves such an input by up to its own size (relative error 1, not u), so
//!   the term's factor is at most (1+1)(1+1)(1+gamma) - 1 <= c + 4 (gamma <= 1/7 for n <= 2^20).
//! - A = K' * 2^-123, K' = K (+1 with a bias): at most 2K' computed values (products and sums), each
//!   moved at most twice by less than 2^-126 (flushed to zero as a result, FTZ, or as an operand,
//!   DAZ; 2^-150 with gradual underflow), each carried through at most K' later roundings,
//!   (1+u)^K' <= 2: 4K' * 2^-126 * 2.
//!
//! Decided exactly: |claimed - exact| * den <= num * S + (4T + A) * den, with c = num/den:
//! Fp32: num = n, den = 2^24 - n; InputPrecision: den = 2^2m * (2^23 - n),
//! num = (2^m + 1)^2 * 2^23 - den. Nothing is rounded, so the check is sound and as tight as the
//! bound itself (tighter than comparing against an on-chain f32 re-computation with 2*gamma).
//!
//! Non-finite values (what every IEEE order can produce, so that an honest executor never loses):
//! - any NaN input, a product inf*0, or infinite terms of both signs: every order gives NaN, only
//!   a NaN claim passes (any payload and sign);
//! - infinite terms of one sign s: s*inf passes; NaN passes too when the finite terms could overflow
//!   (below) or an infinity meets a subnormal (DAZ makes it inf*0); no finite claim passes;
//! - all finite: when some order could overflow, that is when c*S + S + 4T + A >= 2^128 - 2^103
//!   (the least magnitude that rounds to infinity) or, in InputPrecision, an input has |x| >= 2^127
//!   (rounding it to m bits can give inf), any inf or NaN claim passes, and so does a finite claim
//!   within the bound; otherwise only a finite claim within the bound passes.
//!   A cheater gains there only in layers that already reach the float range's end.
//!
//! Not covered: alpha or beta other than 1 in Gemm (the caller must fold them), Winograd, FFT or
//! Strassen kernels (they do not compute the products as such), FP16 or FP8 inputs (narrower
//! exponent range), an output rounded to less than fp32, and Conv padding fed as (0, w) terms with a
//! non-finite weight (im2col gives NaN there, a direct kernel skips it: the caller passes only the
//! terms that touch real input).
//!
//! Cost: every term is an unpack of both operands, one 24x24-bit multiply and three limb additions
//! into one accumulator (CU per term in docs/PROGRAM.md "Tolerant checks"). `DotAcc` is the
//! streaming form: terms can be added across calls (resumable slices) and judged at the end.

/// Accumulator limbs (32 bits of weight each, held in u64 so carries wait): 704 bits from 2^-300.
const L: usize = 22;
const M32: u64 = 0xffff_ffff;
const FRAC: u32 = 0x007f_ffff;
/// Most terms one check accepts (n * u' <= 1/8 keeps gamma <= 1/7 and the factors above valid).
pub const MAX_TERMS: u32 = 1 << 20;

/// The arithmetic a model declares for its tolerant layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    /// IEEE fp32 products and sums, any order, with or without FMA.
    Fp32,
    /// Inputs rounded (or truncated) to `mantissa_bits` stored bits first (TF32 = 10, BF16 = 7).
    InputPrecision { mantissa_bits: u8 },
}

/// The judgement of one claimed output element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A finite claim within the bound.
    Within,
    /// A NaN or infinite claim that some honest order produces.
    NonFinite,
    /// A finite claim outside the bound.
    Outside,
    /// A finite claim where every honest order gives inf or NaN.
    MustBeNonFinite,
    /// A NaN or infinite claim no honest order produces.
    NotNonFinite,
}

impl Verdict {
    /// Whether an honest executor could have claimed this.
    pub fn honest(self) -> bool {
        matches!(self, Verdict::Within | Verdict::NonFinite)
    }

    /// The verdict as one byte, in declaration order (the test build's return data).
    pub fn code(self) -> u8 {
        self as u8
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DotError {
    /// More than MAX_TERMS terms (with the bias).
    TooManyTerms,
    /// mantissa_bits outside 1..=16.
    BadPrecision,
    /// a and b differ in length.
    LengthMismatch,
}

/// A magnitude in 32-bit limbs, least significant first, in units of 2^-300.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Big([u32; L]);

impl Big {
    const ZERO: Big = Big([0; L]);

    /// v * 2^sh, for v < 2^64 and sh + 64 <= 32 * L.
    fn shifted(v: u64, sh: u32) -> Big {
        let mut r = Big::ZERO;
        let (j, s) = ((sh >> 5) as usize, sh & 31);
        r.0[j] = (v << s) as u32;
        if s == 0 {
            r.0[j + 1] = (v >> 32) as u32;
        } else {
            r.0[j + 1] = (v >> (32 - s)) as u32;
            r.0[j + 2] = (v >> (64 - s)) as u32;
        }
        r
    }

    /// Carries the deferred sums of an accumulator into limbs.
    fn from_acc(acc: &[u64; L]) -> Big {
        let mut r = Big::ZERO;
        let mut carry = 0u64;
        for (d, &v) in r.0.iter_mut().zip(acc) {
            let t = v + carry;
            *d = t as u32;
            carry = t >> 32;
        }
        r
    }

    fn add(&self, o: &Big) -> Big {
        let mut r = Big::ZERO;
        let mut carry = 0u64;
        for j in 0..L {
            let t = self.0[j] as u64 + o.0[j] as u64 + carry;
            r.0[j] = t as u32;
            carry = t >> 32;
        }
        r
    }

    /// self - o, for self >= o.
    fn sub(&self, o: &Big) -> Big {
        let mut r = Big::ZERO;
        let mut borrow = 0u64;
        for j in 0..L {
            let t = (self.0[j] as u64).wrapping_sub(o.0[j] as u64 + borrow);
            r.0[j] = t as u32;
            borrow = (t >> 63) & 1;
        }
        r
    }

    fn ge(&self, o: &Big) -> bool {
        for j in (0..L).rev() {
            if self.0[j] != o.0[j] {
                return self.0[j] > o.0[j];
            }
        }
        true
    }

    fn mul32(&self, c: u64) -> Big {
        let mut r = Big::ZERO;
        let mut carry = 0u64;
        for j in 0..L {
            let t = self.0[j] as u64 * c + carry;
            r.0[j] = t as u32;
            carry = t >> 32;
        }
        r
    }

    /// self * c for c < 2^64 (the products stay below 2^704 for the values used here).
    fn mul(&self, c: u64) -> Big {
        let lo = self.mul32(c & M32);
        let hi = self.mul32(c >> 32);
        let mut sh = Big::ZERO;
        sh.0[1..].copy_from_slice(&hi.0[..L - 1]);
        lo.add(&sh)
    }
}

/// Adds p * 2^sh (p < 2^48, sh + 80 <= 32 * L) into deferred-carry limbs.
#[inline(always)]
fn add_shifted(acc: &mut [u64; L], p: u64, sh: u32) {
    let (j, r) = ((sh >> 5) as usize, sh & 31);
    let lo = (p & M32) << r;
    let hi = (p >> 32) << r;
    acc[j] += lo & M32;
    acc[j + 1] += (lo >> 32) + (hi & M32);
    acc[j + 2] += hi >> 32;
}

/// A finite non-zero magnitude as (integer significand, exponent field with subnormals at 1):
/// the value is m * 2^(e - 150).
#[inline(always)]
fn unpack(x: u32) -> (u64, u32) {
    let e = (x >> 23) & 0xff;
    let f = (x & FRAC) as u64;
    if e == 0 {
        (f, 1)
    } else {
        (f | 1 << 23, e)
    }
}

/// The streaming form of `check_dot`: add terms (possibly across calls), then judge a claim.
#[derive(Clone, Debug)]
pub struct DotAcc {
    /// Sum of the positive terms, then of the negative terms' magnitudes, in units of 2^-300.
    pos: [u64; L],
    neg: [u64; L],
    /// Sum of |term| over terms with a subnormal input.
    sub: [u64; L],
    /// Terms added (K, plus the bias), and those with a non-zero product (n).
    terms: u32,
    nonzero: u32,
    nan: bool,
    pos_inf: bool,
    neg_inf: bool,
    /// An input with |x| >= 2^127 (in InputPrecision, rounding it can overflow).
    near_max: bool,
    /// An infinite operand times a subnormal one: DAZ makes that inf * 0 = NaN.
    inf_sub: bool,
}

impl Default for DotAcc {
    fn default() -> Self {
        Self::new()
    }
}

impl DotAcc {
    pub fn new() -> Self {
        DotAcc {
            pos: [0; L],
            neg: [0; L],
            sub: [0; L],
            terms: 0,
            nonzero: 0,
            nan: false,
            pos_inf: false,
            neg_inf: false,
            near_max: false,
            inf_sub: false,
        }
    }

    /// Adds the term a * b (f32 bit patterns).
    #[inline(always)]
    pub fn add(&mut self, a: u32, b: u32) {
        self.terms += 1;
        let (ea, eb) = ((a >> 23) & 0xff, (b >> 23) & 0xff);
        self.near_max |= ea == 254 || eb == 254;
        if ea == 0xff || eb == 0xff {
            self.special(a, b);
            return;
        }
        if a << 1 == 0 || b << 1 == 0 {
            return;
        }
        self.nonzero += 1;
        let (ma, xa) = unpack(a);
        let (mb, xb) = unpack(b);
        let p = ma * mb;
        let sh = xa + xb;
        let acc = if (a ^ b) >> 31 == 0 {
            &mut self.pos
        } else {
            &mut self.neg
        };
        add_shifted(acc, p, sh);
        if ea == 0 || eb == 0 {
            add_shifted(&mut self.sub, p, sh);
        }
    }

    /// Counts `k` more roundings in the bound (and k more terms in A): a reduction's final scaling.
    pub fn add_roundings(&mut self, k: u32) {
        self.nonzero += k;
        self.terms += k;
    }

    /// Adds the bias (one more term, bias * 1).
    pub fn add_bias(&mut self, bias: u32) {
        self.add(bias, 0x3f80_0000);
    }

    /// A term with an infinite or NaN operand.
    #[cold]
    fn special(&mut self, a: u32, b: u32) {
        let nan = |x: u32| x << 1 > 0xff00_0000;
        if nan(a) || nan(b) || a << 1 == 0 || b << 1 == 0 {
            // NaN, or inf * 0.
            self.nan = true;
            return;
        }
        self.inf_sub |= (a >> 23) & 0xff == 0 || (b >> 23) & 0xff == 0;
        if (a ^ b) >> 31 == 0 {
            self.pos_inf = true;
        } else {
            self.neg_inf = true;
        }
    }

    /// Judges `claimed` (f32 bits) as the sum of the terms added. Never inlined: the program inlines
    /// aggressively, and two copies in one handler pushed its branches past SBF's jump range.
    #[inline(never)]
    pub fn verdict(&self, claimed: u32, arith: Arith) -> Result<Verdict, DotError> {
        if self.terms > MAX_TERMS {
            return Err(DotError::TooManyTerms);
        }
        let n = self.nonzero as u64;
        let (num, den, reduced) = match arith {
            Arith::Fp32 => (n, (1u64 << 24) - n, false),
            Arith::InputPrecision { mantissa_bits: m } => {
                if !(1..=16).contains(&m) {
                    return Err(DotError::BadPrecision);
                }
                let den = (1u64 << (2 * m)) * ((1u64 << 23) - n);
                let one = (1u64 << m) + 1;
                (one * one * (1 << 23) - den, den, true)
            }
        };
        let p = Big::from_acc(&self.pos);
        let q = Big::from_acc(&self.neg);
        let s = p.add(&q);
        // 4T + A, A = K' * 2^-123 = K' * 2^177 in units of 2^-300.
        let extra = Big::from_acc(&self.sub)
            .mul(4)
            .add(&Big::shifted(self.terms as u64, 177));
        let r = s.mul(num).add(&extra.mul(den));
        // Some order can overflow when c*S + S + 4T + A >= 2^128 - 2^103 = (2^25 - 1) * 2^403 units.
        let ovf = Big::shifted((1 << 25) - 1, 403).mul(den);
        let may_overflow = r.add(&s.mul(den)).ge(&ovf) || (reduced && self.near_max);

        let claimed_nan = claimed << 1 > 0xff00_0000;
        let claimed_inf = claimed << 1 == 0xff00_0000;
        let neg = claimed >> 31 == 1;
        if self.nan || (self.pos_inf && self.neg_inf) {
            return Ok(if claimed_nan {
                Verdict::NonFinite
            } else if claimed_inf {
                Verdict::NotNonFinite
            } else {
                Verdict::MustBeNonFinite
            });
        }
        if self.pos_inf || self.neg_inf {
            let ok = (claimed_inf && neg == self.neg_inf) || (claimed_nan && (may_overflow || self.inf_sub));
            return Ok(if ok {
                Verdict::NonFinite
            } else if claimed_nan || claimed_inf {
                Verdict::NotNonFinite
            } else {
                Verdict::MustBeNonFinite
            });
        }
        if claimed_nan || claimed_inf {
            return Ok(if may_overflow {
                Verdict::NonFinite
            } else {
                Verdict::NotNonFinite
            });
        }
        // |claimed - exact|, exact = p - q.
        let exact_neg = !p.ge(&q);
        let e = if exact_neg { q.sub(&p) } else { p.sub(&q) };
        let c = if claimed << 1 == 0 {
            Big::ZERO
        } else {
            let (m, x) = unpack(claimed);
            Big::shifted(m, x + 150)
        };
        let d = if neg == exact_neg {
            if c.ge(&e) {
                c.sub(&e)
            } else {
                e.sub(&c)
            }
        } else {
            c.add(&e)
        };
        Ok(if r.ge(&d.mul(den)) {
            Verdict::Within
        } else {
            Verdict::Outside
        })
    }
}

/// Whether `claimed` is an honest f32 result of sum_i a[i]*b[i] (+ bias) under `arith`, as above.
pub fn check_dot(a: &[u32], b: &[u32], bias: Option<u32>, claimed: u32, arith: Arith) -> Result<Verdict, DotError> {
    if a.len() != b.len() {
        return Err(DotError::LengthMismatch);
    }
    if a.len() + bias.is_some() as usize > MAX_TERMS as usize {
        return Err(DotError::TooManyTerms);
    }
    let mut acc = DotAcc::new();
    for (&x, &y) in a.iter().zip(b) {
        acc.add(x, y);
    }
    if let Some(c) = bias {
        acc.add_bias(c);
    }
    acc.verdict(claimed, arith)
}

/// Roundings a mean's scaling may add on top of the sum's: the reciprocal's own rounding (the exact value
/// here is sum_i x_i * fl(1/n)), and the scaling (sum / n, sum * fl(1/n), or each x_i / n before the sum).
pub const MEAN_ROUNDINGS: u32 = 3;

/// fl(1/n) as float32 bits, correctly rounded, for 1 <= n <= MAX_TERMS.
pub fn reciprocal(n: u32) -> u32 {
    // n < 2^24 is exact as a float: exponent floor(log2 n), the rest its fraction.
    let e = 31 - n.leading_zeros();
    let bits = ((e + 127) << 23) | ((n << (23 - e)) & FRAC);
    crate::pure::ieee::div(0x3f80_0000, bits)
}

/// ReduceSum (`mean` false) or ReduceMean (`mean` true) of the values `x`: is `claimed` an honest result?
/// The sum is the dot product with b = 1; the mean's exact value is sum_i x_i * fl(1/n), with
/// MEAN_ROUNDINGS more roundings in the bound (|fl(1/n) - 1/n| <= u/n is one of them).
pub fn check_reduce(x: &[u32], mean: bool, claimed: u32, arith: Arith) -> Result<Verdict, DotError> {
    if x.is_empty() || x.len() > MAX_TERMS as usize {
        return Err(DotError::TooManyTerms);
    }
    let mut acc = DotAcc::new();
    let b = if mean { reciprocal(x.len() as u32) } else { 0x3f80_0000 };
    for &v in x {
        acc.add(v, b);
    }
    if mean {
        acc.add_roundings(MEAN_ROUNDINGS);
    }
    acc.verdict(claimed, arith)
}
