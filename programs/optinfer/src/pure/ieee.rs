//! Correctly rounded float32 division and square root in u32/u64 integer arithmetic, with x86 SSE's NaN rules.
//!
//! onnxruntime's CPU kernels compute Div and Sqrt with divps/sqrtps: IEEE-754 round to nearest even,
//! subnormals kept. On NaN the hardware returns the first NaN operand quieted (bit 22 set), and an
//! invalid operation (0/0, inf/inf, sqrt of a negative) gives the x86 default NaN 0xFFC00000. The
//! soft-float builtins of the SBF build return 0x7FC00000 there instead, so the referee computes
//! both here from the bits. Checked against the host's `/` and `sqrt` over tens of millions of bit
//! patterns (tests below) and against onnxruntime-node (programs/tests/ort.test.ts). The referee
//! then writes every NaN it computes as the canonical NaN (`canonicalize_nans`): games are decided
//! on whether a result is NaN, never on its payload.

const SIGN: u32 = 0x8000_0000;
const EXP: u32 = 0x7f80_0000;
const FRAC: u32 = 0x007f_ffff;
const QUIET: u32 = 0x0040_0000;
/// The x86 default NaN: what divps/sqrtps return for an invalid operation.
pub const DEFAULT_NAN: u32 = 0xffc0_0000;

fn is_nan(x: u32) -> bool {
    x & !SIGN > EXP
}

/// The one NaN pattern per float dtype that traces commit and the referee computes (PROTOCOL.md,
/// "Canonical NaNs"): the quiet NaN with sign and payload clear, WebAssembly's canonical NaN.
pub const CANONICAL_NAN_F32: u32 = 0x7fc0_0000;
pub const CANONICAL_NAN_F16: u16 = 0x7e00;
pub const CANONICAL_NAN_F64: u64 = 0x7ff8_0000_0000_0000;

/// Rewrites every NaN among the little-endian elements in `bytes` (a whole number of elements of
/// `dtype`) as its dtype's canonical NaN; other dtypes and other values are left alone. Which NaN
/// onnxruntime returns depends on the kernel's vector lane, scalar tail, thread block and backend,
/// never whether it returns one, so a game decided on NaN payloads would be decided by hardware.
pub fn canonicalize_nans(dtype: u8, bytes: &mut [u8]) {
    use super::tensor::{DT_DOUBLE, DT_FLOAT, DT_FLOAT16};
    match dtype {
        DT_FLOAT => {
            for e in bytes.chunks_exact_mut(4) {
                let x = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
                if is_nan(x) {
                    e.copy_from_slice(&CANONICAL_NAN_F32.to_le_bytes());
                }
            }
        }
        DT_FLOAT16 => {
            for e in bytes.chunks_exact_mut(2) {
                if u16::from_le_bytes([e[0], e[1]]) & 0x7fff > 0x7c00 {
                    e.copy_from_slice(&CANONICAL_NAN_F16.to_le_bytes());
                }
            }
        }
        DT_DOUBLE => {
            for e in bytes.chunks_exact_mut(8) {
                let x = u64::from_le_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
                if x & !(1 << 63) > 0x7ff0_0000_0000_0000 {
                    e.copy_from_slice(&CANONICAL_NAN_F64.to_le_bytes());
                }
            }
        }
        _ => {}
    }
}

/// A finite non-zero magnitude as (significand in [2^23, 2^24), exponent field), subnormals
/// normalized with the exponent going to 0 and below.
fn unpack(x: u32) -> (u64, i32) {
    let e = ((x & EXP) >> 23) as i32;
    let f = (x & FRAC) as u64;
    if e != 0 {
        return (f | 1 << 23, e);
    }
    let s = f.leading_zeros() as i32 - 40;
    (f << s, 1 - s)
}

/// Rounds `sig` (27 bits, value sig / 2^26 in [1, 2)) times 2^(e - 127), with `sticky` set when
/// bits below `sig` were non-zero, to nearest even, and packs it with `sign`: overflow gives
/// infinity, results below the normal range round as subnormals.
fn round_pack(sign: u32, mut e: i32, mut sig: u64, mut sticky: bool) -> u32 {
    if e >= 255 {
        return sign | EXP;
    }
    if e <= 0 {
        let shift = (1 - e) as u32;
        if shift >= 32 {
            sticky |= sig != 0;
            sig = 0;
        } else {
            sticky |= sig & ((1 << shift) - 1) != 0;
            sig >>= shift;
        }
        e = 0;
    }
    let r = sig & 7;
    let mut m = sig >> 3;
    if r > 4 || (r == 4 && (sticky || m & 1 == 1)) {
        m += 1;
    }
    if e == 0 {
        // A subnormal: the field is the significand; one rounded up to 2^23 is the smallest normal.
        return sign | m as u32;
    }
    if m == 1 << 24 {
        m >>= 1;
        e += 1;
        if e >= 255 {
            return sign | EXP;
        }
    }
    sign | (e as u32) << 23 | (m as u32 & FRAC)
}

/// a / b on float32 bit patterns, as divss computes it.
pub fn div(a: u32, b: u32) -> u32 {
    if is_nan(a) {
        return a | QUIET;
    }
    if is_nan(b) {
        return b | QUIET;
    }
    let sign = (a ^ b) & SIGN;
    let (ma, mb) = (a & !SIGN, b & !SIGN);
    match (ma, mb) {
        (EXP, EXP) | (0, 0) => return DEFAULT_NAN,
        (EXP, _) | (_, 0) => return sign | EXP,
        (_, EXP) | (0, _) => return sign,
        _ => {}
    }
    let (mut xa, mut ea) = unpack(ma);
    let (xb, eb) = unpack(mb);
    if xa < xb {
        xa <<= 1;
        ea -= 1;
    }
    // xa / xb in [1, 2): 27 quotient bits, the remainder is the sticky bit.
    let n = xa << 26;
    let (q, r) = (n / xb, n % xb);
    round_pack(sign, ea - eb + 127, q, r != 0)
}

/// The square root of a float32 bit pattern, as sqrtss computes it.
pub fn sqrt(a: u32) -> u32 {
    if is_nan(a) {
        return a | QUIET;
    }
    if a & !SIGN == 0 {
        return a;
    }
    if a & SIGN != 0 {
        return DEFAULT_NAN;
    }
    if a == EXP {
        return a;
    }
    let (mut m, ex) = unpack(a);
    // a = m / 2^23 * 2^(ex - 127); make the exponent even, m / 2^23 in [1, 4).
    let mut e = ex - 127;
    if e & 1 != 0 {
        m <<= 1;
        e -= 1;
    }
    // sqrt(m / 2^23) * 2^26 = sqrt(m * 2^29), 27 bits; the remainder is the sticky bit.
    let (s, rem) = isqrt(m << 29);
    round_pack(0, (e >> 1) + 127, s, rem != 0)
}

/// Integer square root by digits: (floor(sqrt(n)), n - floor^2), for n < 2^56.
fn isqrt(mut n: u64) -> (u64, u64) {
    let mut root = 0u64;
    let mut bit = 1u64 << 54;
    while bit > n {
        bit >>= 2;
    }
    while bit != 0 {
        if n >= root + bit {
            n -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    (root, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_nans_only_rewrite_nans() {
        use crate::pure::tensor::{DT_DOUBLE, DT_FLOAT, DT_FLOAT16, DT_INT32};
        let f32s: [u32; 7] = [
            0x7fc0_0001,
            0xffc0_0000,
            0x7f80_0001,
            0x7f80_0000,
            0xff80_0000,
            0x8000_0000,
            1,
        ];
        let mut b: Vec<u8> = f32s.iter().flat_map(|x| x.to_le_bytes()).collect();
        canonicalize_nans(DT_FLOAT, &mut b);
        let got: Vec<u32> = b
            .chunks(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(
            got,
            [
                CANONICAL_NAN_F32,
                CANONICAL_NAN_F32,
                CANONICAL_NAN_F32,
                0x7f80_0000,
                0xff80_0000,
                0x8000_0000,
                1
            ]
        );
        let mut h: Vec<u8> = [0xfe01u16, 0x7c01, 0x7c00]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        canonicalize_nans(DT_FLOAT16, &mut h);
        assert_eq!(h, [0x00, 0x7e, 0x00, 0x7e, 0x00, 0x7c]);
        let mut d: Vec<u8> = [0xfff8_0000_0000_0001u64, 0x7ff0_0000_0000_0000]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        canonicalize_nans(DT_DOUBLE, &mut d);
        assert_eq!(&d[..8], &CANONICAL_NAN_F64.to_le_bytes());
        assert_eq!(&d[8..], &0x7ff0_0000_0000_0000u64.to_le_bytes());
        // An int32 whose bits read as a NaN is a number.
        let mut i = 0x7fc0_0001u32.to_le_bytes().to_vec();
        canonicalize_nans(DT_INT32, &mut i);
        assert_eq!(i, 0x7fc0_0001u32.to_le_bytes());
    }

    /// The host's divss/sqrtss (x86-64: Rust's f32 `/` and `sqrt` compile to them).
    fn host_div(a: u32, b: u32) -> u32 {
        (f32::from_bits(a) / f32::from_bits(b)).to_bits()
    }
    fn host_sqrt(a: u32) -> u32 {
        f32::from_bits(a).sqrt().to_bits()
    }

    fn xorshift(s: &mut u64) -> u64 {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        *s
    }

    /// Edge patterns: zeros, subnormals, the normal boundary, ones, the largest finite, infinities,
    /// quiet and signalling NaNs with payloads, each with both signs.
    fn edges() -> std::vec::Vec<u32> {
        let mut v = std::vec::Vec::new();
        for x in [
            0u32,
            1,
            2,
            3,
            0x7f_ffff,
            0x40_0000,
            0x80_0000,
            0x80_0001,
            0xff_ffff,
            0x3f80_0000,
            0x3f80_0001,
            0x3fff_ffff,
            0x4000_0000,
            0x3f7f_ffff,
            0x7f7f_ffff,
            0x7f7f_fffe,
            0x7f00_0000,
            0x0100_0000,
            0x7f80_0000,
            0x7fc0_0000,
            0x7fc0_1234,
            0x7f80_0001,
            0x7fbf_ffff,
            0x3400_0000,
            0x4b00_0000,
            0x3eaa_aaab,
            0x5f00_0000,
            0x2000_0000,
        ] {
            v.push(x);
            v.push(x | SIGN);
        }
        v
    }

    #[test]
    fn div_matches_the_host_on_edges() {
        let e = edges();
        for &a in &e {
            for &b in &e {
                assert_eq!(div(a, b), host_div(a, b), "{a:#010x} / {b:#010x}");
            }
        }
    }

    #[test]
    fn sqrt_matches_the_host_on_edges_and_every_subnormal() {
        for &a in &edges() {
            assert_eq!(sqrt(a), host_sqrt(a), "sqrt {a:#010x}");
        }
        for a in 0..=FRAC {
            assert_eq!(sqrt(a), host_sqrt(a), "sqrt {a:#010x}");
        }
    }

    /// Scale of the random and sampled runs: 1 by default (a few seconds in a debug build);
    /// OPTINFER_IEEE_SCALE=8 runs 32M quotients and every 7th float (613M square roots).
    fn scale() -> u32 {
        std::env::var("OPTINFER_IEEE_SCALE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1)
    }

    #[test]
    fn div_matches_the_host_on_random_patterns() {
        // Per 4M: 2M uniform bit patterns, 1M with exponents near each other (quotients near 1 and
        // ties), 0.5M with subnormal results and 0.5M near overflow.
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..4_000_000 * scale() {
            let r = xorshift(&mut s);
            let (mut a, mut b) = (r as u32, (r >> 32) as u32);
            match i & 7 {
                0..=3 => {}
                4 | 5 => b = (b & (SIGN | FRAC)) | (a & EXP) ^ ((b & 3) << 23),
                6 => {
                    // a small, b large: results around and below 2^-126.
                    a = (a & (SIGN | FRAC)) | ((a >> 23) & 0x1f) << 23;
                    b = (b & (SIGN | FRAC)) | (0x60 + ((b >> 23) & 0x3f)) << 23;
                }
                _ => {
                    a = (a & (SIGN | FRAC)) | (0xe0 + ((a >> 23) & 0x1e)) << 23;
                    b = (b & (SIGN | FRAC)) | ((b >> 23) & 0x3f) << 23;
                }
            }
            assert_eq!(div(a, b), host_div(a, b), "{a:#010x} / {b:#010x}");
        }
    }

    #[test]
    fn sqrt_matches_the_host_on_sampled_patterns() {
        // Every 56th bit pattern of the whole range (77M), every 7th at scale 8.
        let step = 56 / scale().clamp(1, 8);
        let mut a = 0u32;
        while a < 0xffff_ff00 {
            assert_eq!(sqrt(a), host_sqrt(a), "sqrt {a:#010x}");
            a += step;
        }
    }
}
