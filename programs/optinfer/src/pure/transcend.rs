//! Tolerant checks of float32 Exp, Log, Tanh and Sigmoid: could an honest executor, on any configuration,
//! have returned this result for this input?
//!
//! onnxruntime's kernels (MLAS on x86, its wasm build, a GPU's) use different approximations, so no bit
//! pattern is the right one. Measured across configurations (issue 15; programs/tests/tolerant-unary.test.ts
//! re-measures it on every run), Exp, Log and Tanh stay within 5 ulp of the exact value and Sigmoid within
//! 3.2 x 2^-24 absolute (its relative error is unbounded in the tail, where it returns 0). The referee
//! accepts a claim within `ULPS` = 8 ulp of the exact value (Sigmoid: `SIGMOID_ABS` = 2^-21 absolute), plus
//! a floor of 2^-126 absolute so a flush-to-zero output is honest too, plus a quarter ulp that covers the
//! reference's own error.
//!
//! The exact value is computed here in 64-bit fixed point (no f64 or u128 in program code): exp by range
//! reduction to |r| <= ln2/2 and a Taylor series, ln by 2 atanh((m-1)/(m+1)), both with a relative error
//! below 2^-48 (checked against the host's f64 in the tests), far below the quarter ulp allowed for it.
//!
//! Special values follow IEEE: a NaN input must give a NaN; exp(+inf) = +inf, exp(-inf) = 0; ln of a
//! negative number is NaN, ln(+-0) = -inf, ln(+inf) = +inf; tanh(+-inf) = +-1; sigmoid(-inf) = 0,
//! sigmoid(+inf) = 1. A claim of +inf is honest where the exact value rounds to overflow within the
//! tolerance. ln of a subnormal may also be -inf (an executor treating subnormal inputs as zero).

const SIGN: u32 = 0x8000_0000;
const EXP_BITS: u32 = 0x7f80_0000;
const FRAC: u32 = 0x007f_ffff;
const INF: u32 = EXP_BITS;
const ONE: u32 = 0x3f80_0000;

const Q62: u64 = 1 << 62;
/// floor(ln 2 x 2^56), and the next 6 bits of ln 2 x 2^62 (floor): ln 2 x 2^62 = LN2_Q56 x 64 + LN2_LO (+ < 1).
const LN2_Q56: i64 = 0x00b1_7217_f7d1_cf79;
const LN2_LO: i64 = 42;
/// floor(sqrt(2) x 2^62).
const SQRT2_Q62: u64 = 0x5a82_7999_fcef_3242;

/// Accepted distance from the exact value, in ulps of the exact value, for Exp, Log and Tanh.
pub const ULPS: u64 = 8;
/// Accepted absolute distance for Sigmoid: 2^-21.
pub const SIGMOID_ABS_EXP: i32 = -21;
/// Absolute floor added to every tolerance: 2^-126, the smallest normal float.
pub const FLOOR_EXP: i32 = -126;

/// A float32 transcendental the referee checks within a tolerance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    Exp,
    Log,
    Tanh,
    Sigmoid,
}

impl Unary {
    pub fn from_code(c: u8) -> Option<Unary> {
        match c {
            0 => Some(Unary::Exp),
            1 => Some(Unary::Log),
            2 => Some(Unary::Tanh),
            3 => Some(Unary::Sigmoid),
            _ => None,
        }
    }
}

/// A non-negative magnitude `sig x 2^exp` with a sign; `sig` is 0 or in [2^62, 2^63).
#[derive(Clone, Copy, Debug)]
struct Ext {
    neg: bool,
    sig: u64,
    exp: i32,
}

impl Ext {
    /// The signed fixed-point value `v x 2^exp`, normalized.
    fn from_fixed(v: i64, exp: i32) -> Ext {
        let neg = v < 0;
        let mut sig = v.unsigned_abs();
        if sig == 0 {
            return Ext { neg, sig: 0, exp: 0 };
        }
        let lz = sig.leading_zeros() as i32;
        // Bring the top bit to bit 62.
        let mut exp = exp;
        if lz >= 1 {
            sig <<= lz - 1;
            exp -= lz - 1;
        } else {
            sig >>= 1;
            exp += 1;
        }
        Ext { neg, sig, exp }
    }
}

fn is_nan(x: u32) -> bool {
    x & !SIGN > EXP_BITS
}

/// A finite float's magnitude as (significand < 2^24, exponent): |x| = sig x 2^exp.
fn decode(x: u32) -> (u64, i32) {
    let e = ((x & EXP_BITS) >> 23) as i32;
    let f = (x & FRAC) as u64;
    if e == 0 {
        (f, -149)
    } else {
        (f | 1 << 23, e - 150)
    }
}

/// The full product a x b as (high, low) 64-bit words.
fn mul64(a: u64, b: u64) -> (u64, u64) {
    let (a1, a0) = (a >> 32, a & 0xffff_ffff);
    let (b1, b0) = (b >> 32, b & 0xffff_ffff);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    let mid = (p00 >> 32) + (p01 & 0xffff_ffff) + (p10 & 0xffff_ffff);
    (
        (p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32)),
        (mid << 32) | (p00 & 0xffff_ffff),
    )
}

/// a x b / 2^62 (truncated) for a, b < 2^63.
fn mul_q62(a: u64, b: u64) -> u64 {
    let (hi, lo) = mul64(a, b);
    (hi << 2) | (lo >> 62)
}

/// Signed a x b / 2^62, truncated toward zero.
fn smul_q62(a: i64, b: i64) -> i64 {
    let m = mul_q62(a.unsigned_abs(), b.unsigned_abs()) as i64;
    if (a < 0) != (b < 0) {
        -m
    } else {
        m
    }
}

/// a / n truncated toward zero, by an unsigned division.
fn div_signed(a: i64, n: u64) -> i64 {
    let q = (a.unsigned_abs() / n) as i64;
    if a < 0 {
        -q
    } else {
        q
    }
}

/// a / b x 2^62 (truncated) for a < 2b and b <= 2^63.
fn div_q62(a: u64, b: u64) -> u64 {
    let mut q = a / b;
    let mut rem = a % b;
    for _ in 0..62 {
        rem <<= 1;
        q <<= 1;
        if rem >= b {
            rem -= b;
            q |= 1;
        }
    }
    q
}

/// exp(x) for a finite x with |x| <= 110.
fn exp_ext(x: u32) -> Ext {
    let (sig, e) = decode(x);
    let neg = x & SIGN != 0;
    if sig == 0 || e + 24 <= -30 {
        // |x| < 2^-30: exp(x) = 1 + x within x^2 < 2^-60.
        let shift = e + 62;
        let xq = if shift >= 0 {
            sig << shift
        } else {
            sig >> (-shift).min(63)
        } as i64;
        return Ext::from_fixed(Q62 as i64 + if neg { -xq } else { xq }, -62);
    }
    // |x| >= 2^-30, so e >= -54 and x x 2^56 is an integer below 2^63.
    let xq = (sig << (e + 56)) as i64;
    let xq = if neg { -xq } else { xq };
    // k = round(x / ln 2); r = x - k ln 2, |r| <= ln2 / 2, in Q62 with two-part ln 2.
    // (Unsigned divisions: SBF has no signed one.)
    let kmag = ((xq.unsigned_abs() + LN2_Q56 as u64 / 2) / LN2_Q56 as u64) as i64;
    let k = if neg { -kmag } else { kmag };
    let r = ((xq - k * LN2_Q56) << 6) - k * LN2_LO;
    // Taylor: |r| <= 0.347, the 17th term is below 2^-62.
    let mut sum = Q62 as i64 + r;
    let mut term = r;
    for n in 2..=17u64 {
        term = div_signed(smul_q62(term, r), n);
        sum += term;
    }
    Ext::from_fixed(sum, k as i32 - 62)
}

/// ln(x) for a finite x > 0 (subnormals included).
fn ln_ext(x: u32) -> Ext {
    let (sig, e) = decode(x);
    // Normalize: x = m x 2^k with m in [1, 2) as Q62.
    let lz = sig.leading_zeros() as i32 - 40;
    let sig = sig << lz;
    let mut k = e - lz + 23;
    let mut m = sig << 39;
    if m > SQRT2_Q62 {
        m >>= 1;
        k += 1;
    }
    // ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716; halves keep the divisor below 2^63.
    let neg = m < Q62;
    let num = if neg { Q62 - m } else { m - Q62 } >> 1;
    let den = (m + Q62) >> 1;
    let s = div_q62(num, den);
    let s2 = mul_q62(s, s);
    let mut sum = s;
    let mut term = s;
    for j in 1..=14u64 {
        term = mul_q62(term, s2);
        sum += term / (2 * j + 1);
    }
    let lnm = if neg { -((2 * sum) as i64) } else { (2 * sum) as i64 };
    if k == 0 {
        return Ext::from_fixed(lnm, -62);
    }
    // k ln 2 + ln m in Q56: |k| <= 150, the result is at least ln2 - ln(sqrt 2) in magnitude.
    let k = k as i64;
    let low = k * LN2_LO + lnm;
    Ext::from_fixed(k * LN2_Q56 + (low >> 6), -56)
}

/// tanh(x) for a non-NaN x.
fn tanh_ext(x: u32) -> Ext {
    let neg = x & SIGN != 0;
    let mag = x & !SIGN;
    if mag >= 0x41a0_0000 {
        // |x| >= 20 (or inf): tanh is within 2^-57 of +-1.
        return Ext {
            neg,
            sig: Q62,
            exp: -62,
        };
    }
    if mag < 0x3580_0000 {
        // |x| < 2^-20: tanh x = x (1 - x^2/3 + ...), relative error below 2^-41.
        let (sig, e) = decode(x);
        return Ext::from_fixed(if neg { -(sig as i64) } else { sig as i64 }, e);
    }
    // (1 - exp(-2|x|)) / (1 + exp(-2|x|)); 2|x| is x's bits one exponent up.
    let t = exp_ext((mag + (1 << 23)) | SIGN);
    let t = t.sig >> (-(t.exp + 62)).clamp(0, 63);
    let th = div_q62(Q62 - t, Q62 + t) as i64;
    Ext::from_fixed(if neg { -th } else { th }, -62)
}

/// A float's value at scale 2^s, truncated toward zero, or None when it is at least 2^40 there.
fn at_scale(sig: u64, e: i32, s: i32) -> Option<i64> {
    if sig == 0 {
        return Some(0);
    }
    let d = e - s;
    if d >= 0 {
        if d + (64 - sig.leading_zeros() as i32) > 40 {
            None
        } else {
            Some((sig << d) as i64)
        }
    } else {
        Some((sig >> (-d).min(63)) as i64)
    }
}

/// Is the claimed float within `ulps` ulps of `r` (plus a quarter ulp, plus 2^FLOOR_EXP)?
fn within_ulps(claimed: u32, r: Ext, ulps: u64) -> bool {
    let top = if r.sig == 0 { -(1 << 30) } else { r.exp + 62 };
    let ulp_exp = (top - 23).max(-149);
    // The scale 2^s, a 1024th of an ulp, is at least 2^-159: the floor is at most 2^33 there.
    let s = ulp_exp - 10;
    // r at scale 2^s (below 2^35), the tolerance likewise: ulps x 2^10, a quarter ulp, the floor, 2 for truncations.
    let rs = if r.sig == 0 {
        0
    } else {
        (r.sig >> (s - r.exp).clamp(0, 63)) as i64
    };
    let rs = if r.neg { -rs } else { rs };
    let floor = if FLOOR_EXP > s { 1i64 << (FLOOR_EXP - s) } else { 1 };
    let tol = (ulps as i64) * 1024 + 256 + floor + 2;
    if claimed & !SIGN == INF {
        // Overflow is honest where the exact value is within the tolerance of 2^128.
        let neg = claimed & SIGN != 0;
        return neg == r.neg && (top >= 128 || (top == 127 && rs.abs() + tol >= 1i64 << (128 - s)));
    }
    if is_nan(claimed) {
        return false;
    }
    let (sig, e) = decode(claimed);
    match at_scale(sig, e, s) {
        None => false,
        Some(c) => {
            let c = if claimed & SIGN != 0 { -c } else { c };
            (c - rs).abs() <= tol
        }
    }
}

/// Is `claimed` an honest Sigmoid of `x`: within 2^SIGMOID_ABS_EXP of the exact value?
fn check_sigmoid(x: u32, claimed: u32) -> bool {
    if is_nan(claimed) {
        return false;
    }
    // The exact value in Q62; |x| > 100 saturates (within 2^-144 of 0 or 1).
    let neg = x & SIGN != 0;
    let mag = (x & !SIGN).min(0x42c8_0000);
    let t = exp_ext(mag | SIGN);
    let t = if t.sig == 0 {
        0
    } else {
        t.sig >> (-(t.exp + 62)).clamp(0, 63)
    };
    let d = Q62 + t;
    let exact = if neg { div_q62(t, d) } else { div_q62(Q62, d) } as i64;
    // The claim in Q62 (a claim of 2 or more is out anyway).
    let (sig, e) = decode(claimed);
    if claimed & !SIGN >= 0x4000_0000 {
        return false;
    }
    let c = if e + 62 >= 0 {
        sig << (e + 62)
    } else {
        sig >> (-(e + 62)).min(63)
    } as i64;
    let c = if claimed & SIGN != 0 { -c } else { c };
    (c - exact).abs() <= (1i64 << (62 + SIGMOID_ABS_EXP)) + 64
}

/// Could an honest executor have returned `claimed` for `op(x)`? Both are float32 bit patterns.
/// Never inlined, to keep the handlers that call it within SBF's jump range.
#[inline(never)]
pub fn check_unary(op: Unary, x: u32, claimed: u32) -> bool {
    if is_nan(x) {
        return is_nan(claimed);
    }
    let neg = x & SIGN != 0;
    let mag = x & !SIGN;
    // Exp and Sigmoid are never negative, tanh has x's sign: the absolute floor must not let a claim of
    // the other sign through (a following Log would turn it into a NaN). Zeros of either sign pass.
    let claimed_neg = claimed & SIGN != 0 && claimed & !SIGN != 0 && !is_nan(claimed);
    match op {
        Unary::Exp | Unary::Sigmoid if claimed_neg => return false,
        Unary::Tanh if claimed_neg != neg && claimed & !SIGN != 0 && !is_nan(claimed) => return false,
        _ => {}
    }
    match op {
        Unary::Exp => {
            if mag == INF || mag > 0x42dc_0000 {
                // +-inf, or |x| > 110: exp is 0 (within the floor) or above 2^158 (overflow).
                let zero = Ext {
                    neg: false,
                    sig: 0,
                    exp: 0,
                };
                return if neg {
                    within_ulps(claimed, zero, ULPS)
                } else {
                    claimed == INF
                };
            }
            within_ulps(claimed, exp_ext(x), ULPS)
        }
        Unary::Log => {
            if mag == 0 {
                return claimed == SIGN | INF;
            }
            if neg {
                return is_nan(claimed);
            }
            if mag == INF {
                return claimed == INF;
            }
            // A subnormal input read as zero gives -inf.
            (mag < 1 << 23 && claimed == SIGN | INF) || within_ulps(claimed, ln_ext(x), ULPS)
        }
        Unary::Tanh => within_ulps(claimed, tanh_ext(x), ULPS),
        Unary::Sigmoid => {
            if mag == INF {
                return check_sigmoid(if neg { SIGN | 0x42c8_0000 } else { 0x42c8_0000 }, claimed);
            }
            check_sigmoid(x, claimed)
        }
    }
}

/// The exact value as the nearest float32 (tests and tools: shows what the referee computes).
pub fn reference_bits(op: Unary, x: u32) -> u32 {
    let r = match op {
        Unary::Exp => exp_ext(x),
        Unary::Log => ln_ext(x),
        Unary::Tanh => tanh_ext(x),
        Unary::Sigmoid => return ONE,
    };
    // Round the 63-bit significand to 24 bits (normal range only; tests use it there).
    let m = (r.sig + (1 << 38)) >> 39;
    let (m, top) = if m == 1 << 24 {
        (m >> 1, r.exp + 63)
    } else {
        (m, r.exp + 62)
    };
    (if r.neg { SIGN } else { 0 }) | (((top + 127) as u32) << 23) | (m as u32 & FRAC)
}
