//! The tolerant transcendental checks (src/pure/transcend.rs) natively against the host's f64 libm: the
//! reference is the correctly rounded value, claims up to 8 ulps pass, past 8.25 fail, IEEE specials hold.
//! (Test code may use f64; program code may not.) The same checks run in the SBF VM against onnxruntime in
//! programs/tests/tolerant-unary.test.ts.
use optinfer::pure::transcend::{check_unary, reference_bits, Unary, FLOOR_EXP};

const SIGN: u32 = 0x8000_0000;
const INF: u32 = 0x7f80_0000;
const ONE: u32 = 0x3f80_0000;

fn is_nan(x: u32) -> bool {
    x & !SIGN > INF
}

fn f(b: u32) -> f32 {
    f32::from_bits(b)
}

/// The correctly rounded float32 of an f64 value (f64's libm is within an ulp of f64, far below f32's).
fn cr(v: f64) -> u32 {
    (v as f32).to_bits()
}

/// The float `n` ulps from `b` (same sign, toward +inf in magnitude for n > 0).
fn step(b: u32, n: i32) -> u32 {
    (b as i64 + n as i64) as u32
}

fn exact(op: Unary, x: f64) -> f64 {
    match op {
        Unary::Exp => x.exp(),
        Unary::Log => x.ln(),
        Unary::Tanh => x.tanh(),
        Unary::Sigmoid => 1.0 / (1.0 + (-x).exp()),
    }
}

fn lcg(seed: &mut u64) -> u32 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (*seed >> 32) as u32
}

/// Inputs across the op's whole domain: every exponent, both signs, where the op is interesting.
fn inputs(op: Unary, n: usize) -> Vec<u32> {
    let mut seed = 7 + op as u64;
    (0..n)
        .map(|_| {
            let b = lcg(&mut seed);
            match op {
                // [-104, 89], and a fifth of them scaled down to 2^-40.
                Unary::Exp => {
                    let v = (b as f64 / 4294967296.0 * 193.0 - 104.0) as f32;
                    let scale = if b.is_multiple_of(5) {
                        2f32.powi(-(((b >> 3) % 40) as i32))
                    } else {
                        1.0
                    };
                    (v * scale).to_bits()
                }
                // Every positive float, subnormals included.
                Unary::Log => b & !SIGN,
                // +-[2^-28, 16].
                Unary::Tanh | Unary::Sigmoid => {
                    let m = f(b & 0x3fff_ffff | 0x3000_0000) * 8.0;
                    (if b & SIGN != 0 { -m } else { m }).to_bits()
                }
            }
        })
        .filter(|&b| !is_nan(b) && b & !SIGN != INF)
        .collect()
}

#[test]
fn the_reference_is_the_correctly_rounded_value() {
    for op in [Unary::Exp, Unary::Log, Unary::Tanh] {
        let mut off = 0;
        let xs = inputs(op, 200_000);
        for &x in &xs {
            let v = exact(op, f(x) as f64);
            if !(v.abs() > 1e-37 && v.abs() < 1e37) {
                continue;
            }
            let want = cr(v);
            let got = reference_bits(op, x);
            // The fixed-point value agrees with f64 to far below an ulp: the rounded bits differ at most
            // on a near-tie, by one.
            assert!(got.abs_diff(want) <= 1, "{op:?}({}) = {} vs {}", f(x), f(got), f(want));
            off += (got != want) as u32;
        }
        assert!(off < 10, "{op:?}: {off} near-ties of {}", xs.len());
    }
}

#[test]
fn claims_within_eight_ulps_pass_and_past_eight_and_a_quarter_fail() {
    for op in [Unary::Exp, Unary::Log, Unary::Tanh] {
        let (mut checked, mut edge) = (0, 0);
        for &x in &inputs(op, 100_000) {
            let v = exact(op, f(x) as f64);
            if !(v.abs() > 1e-30 && v.abs() < 1e30) || v == 0.0 {
                continue;
            }
            let b = cr(v);
            // Stay inside one binade so "n ulps" is unambiguous.
            let (lo, hi) = (step(b, -9), step(b, 9));
            if (lo >> 23) != (b >> 23) || (hi >> 23) != (b >> 23) || v as f32 == 0.0 {
                continue;
            }
            // The distance from the exact value in its ulps decides: up to 8 passes, past 8.25 (the
            // quarter ulp allowed for the reference's own error) and the 2^-126 floor fails.
            let ulp = 2f64.powi(v.abs().log2().floor() as i32 - 23);
            for n in -10..=10 {
                let c = step(b, n);
                let d = (f(c) as f64 - v).abs() / ulp;
                if d <= 8.0 {
                    assert!(check_unary(op, x, c), "{op:?}({}) claimed {d} ulp off", f(x));
                    edge += (d > 7.5) as u32;
                } else if d > 8.26 + 2f64.powi(FLOOR_EXP) / ulp {
                    assert!(!check_unary(op, x, c), "{op:?}({}) claimed {d} ulp off passed", f(x));
                }
            }
            assert!(
                !check_unary(op, x, b ^ SIGN),
                "{op:?}({}) with the wrong sign passed",
                f(x)
            );
            checked += 1;
        }
        assert!(
            checked > 50_000 && edge > 10_000,
            "{op:?}: {checked} inputs, {edge} claims within half an ulp of the edge"
        );
    }
}

#[test]
fn sigmoid_is_checked_to_an_absolute_two_to_the_minus_21() {
    let tol = (2f64).powi(-21);
    let mut seed = 3;
    for &x in &inputs(Unary::Sigmoid, 100_000) {
        let v = exact(Unary::Sigmoid, f(x) as f64);
        assert!(check_unary(Unary::Sigmoid, x, cr(v)), "sigmoid({})", f(x));
        // 0.9 of the tolerance passes, 1.1 of it fails (the claim's rounding is at most 1/16 of it).
        let d = (lcg(&mut seed) % 2) as f64 * 2.0 - 1.0;
        let inside = cr(v + d * tol * 0.9);
        let outside = cr(v + d * tol * 1.1);
        // The claims' own rounding moves them: assert on their actual distance.
        if (f(inside) as f64 - v).abs() < tol * 0.999 && f(inside) >= 0.0 {
            assert!(check_unary(Unary::Sigmoid, x, inside), "sigmoid({}) inside", f(x));
        }
        if (f(outside) as f64 - v).abs() > tol * 1.001 {
            assert!(
                !check_unary(Unary::Sigmoid, x, outside),
                "sigmoid({}) outside {}",
                f(x),
                f(outside)
            );
        }
    }
    // The tail: 0 is honest below about -15, and 1 above +15.
    assert!(check_unary(Unary::Sigmoid, (-18.0f32).to_bits(), 0));
    assert!(check_unary(Unary::Sigmoid, (18.0f32).to_bits(), ONE));
    assert!(!check_unary(Unary::Sigmoid, (-10.0f32).to_bits(), 0));
}

#[test]
fn special_values_follow_ieee() {
    let nan = 0x7fc0_0000;
    for op in [Unary::Exp, Unary::Log, Unary::Tanh, Unary::Sigmoid] {
        assert!(check_unary(op, nan, 0xffc0_0000), "{op:?}(NaN) = NaN");
        assert!(!check_unary(op, nan, 0), "{op:?}(NaN) != 0");
        assert!(!check_unary(op, ONE, nan), "{op:?}(1) != NaN");
    }
    assert!(check_unary(Unary::Exp, INF, INF));
    assert!(check_unary(Unary::Exp, SIGN | INF, 0));
    assert!(!check_unary(Unary::Exp, SIGN | INF, ONE));
    assert!(check_unary(Unary::Exp, (89.0f32).to_bits(), INF), "exp(89) overflows");
    assert!(
        !check_unary(Unary::Exp, (88.0f32).to_bits(), INF),
        "exp(88) = 1.65e38 is finite"
    );
    assert!(
        check_unary(Unary::Exp, (-104.0f32).to_bits(), 0),
        "exp(-104) flushed to 0"
    );
    assert!(check_unary(Unary::Exp, 0, ONE) && check_unary(Unary::Exp, SIGN, ONE));
    assert!(check_unary(Unary::Log, 0, SIGN | INF) && check_unary(Unary::Log, SIGN, SIGN | INF));
    assert!(check_unary(Unary::Log, (-1.0f32).to_bits(), nan));
    assert!(!check_unary(Unary::Log, (-1.0f32).to_bits(), 0));
    assert!(check_unary(Unary::Log, INF, INF));
    assert!(check_unary(Unary::Log, ONE, 0), "ln 1 = 0");
    assert!(!check_unary(Unary::Log, ONE, (1e-6f32).to_bits()), "ln 1 != 1e-6");
    assert!(check_unary(Unary::Log, 1, SIGN | INF), "ln of a subnormal read as zero");
    assert!(check_unary(Unary::Log, 1, (-103.27893f32).to_bits()), "ln 2^-149");
    assert!(check_unary(Unary::Tanh, INF, ONE) && check_unary(Unary::Tanh, SIGN | INF, SIGN | ONE));
    assert!(check_unary(Unary::Tanh, 1, 1), "tanh of the smallest subnormal");
    assert!(check_unary(Unary::Sigmoid, SIGN | INF, 0) && check_unary(Unary::Sigmoid, INF, ONE));
    assert!(check_unary(Unary::Sigmoid, 0, 0x3f00_0000), "sigmoid(0) = 0.5");
}

/// Review 17: the absolute floor accepted exp(-100) = -2^-126, a negative exp a following Log turns into NaN.
#[test]
fn a_claim_of_the_wrong_sign_fails_even_within_the_floor() {
    let tiny_neg = SIGN | (1 << 23); // -2^-126
    assert!(
        check_unary(Unary::Exp, (-100.0f32).to_bits(), 0),
        "+0 is an honest exp(-100)"
    );
    assert!(check_unary(Unary::Exp, (-100.0f32).to_bits(), SIGN), "-0 too");
    assert!(!check_unary(Unary::Exp, (-100.0f32).to_bits(), tiny_neg));
    assert!(
        !check_unary(Unary::Sigmoid, (-30.0f32).to_bits(), SIGN | 0x3400_0000),
        "sigmoid is never negative"
    );
    assert!(check_unary(Unary::Sigmoid, (-30.0f32).to_bits(), 0));
    assert!(!check_unary(
        Unary::Tanh,
        (1e-30f32).to_bits(),
        SIGN | (1e-30f32).to_bits()
    ));
    assert!(check_unary(Unary::Tanh, (1e-30f32).to_bits(), (1e-30f32).to_bits()));
    assert!(check_unary(Unary::Tanh, 1, 0), "a flushed tanh of a subnormal");
}
