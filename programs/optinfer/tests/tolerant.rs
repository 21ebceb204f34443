//! The tolerant dot-product check (pure/tolerant.rs) against honest f32 results of many summation orders, and at its bound.
use optinfer::pure::tolerant::{check_dot, check_reduce, reciprocal, Arith, DotAcc, Verdict};

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// A random f32 of the given shape: `lo..hi` binary exponents, random sign and significand.
fn rand_f32(s: &mut u64, lo: i32, hi: i32) -> f32 {
    let r = xorshift(s);
    let e = lo + (r % (hi - lo + 1) as u64) as i32;
    let m = 1.0 + ((r >> 8) & 0x7f_ffff) as f32 / (1u32 << 23) as f32;
    let v = m * 2f32.powi(e.clamp(-126, 127)) * if e < -126 { 2f32.powi(e + 126) } else { 1.0 };
    if (r >> 40) & 1 == 1 {
        -v
    } else {
        v
    }
}

/// One case: (a, b, bias) of some magnitude profile.
fn gen_case(s: &mut u64, k: usize, kind: u32) -> (Vec<f32>, Vec<f32>, Option<f32>) {
    let mut a: Vec<f32> = Vec::with_capacity(k);
    let mut b: Vec<f32> = Vec::with_capacity(k);
    for i in 0..k {
        let (x, y) = match kind {
            // Typical layer: activations and weights around 1.
            0 => (rand_f32(s, -4, 2), rand_f32(s, -6, 0)),
            // Wide exponent spread.
            1 => (rand_f32(s, -40, 40), rand_f32(s, -40, 40)),
            // Subnormal products and inputs.
            2 => (rand_f32(s, -149, -120), rand_f32(s, -30, 3)),
            // Cancellation: pairs that almost cancel.
            3 => {
                let x = rand_f32(s, -2, 2);
                let y = rand_f32(s, -2, 2);
                if i % 2 == 1 {
                    (-a[i - 1], f32::from_bits(b[i - 1].to_bits() ^ (xorshift(s) & 3) as u32))
                } else {
                    (x, y)
                }
            }
            // Sparse (ReLU activations): half zeros.
            4 => (
                if xorshift(s) & 1 == 0 { 0.0 } else { rand_f32(s, -3, 3) },
                rand_f32(s, -5, 1),
            ),
            // Near the top of the range.
            _ => (rand_f32(s, 50, 62), rand_f32(s, 50, 62)),
        };
        a.push(x);
        b.push(y);
    }
    let bias = if xorshift(s) & 1 == 0 {
        Some(rand_f32(s, -3, 3))
    } else {
        None
    };
    (a, b, bias)
}

fn ftz(x: f32, on: bool) -> f32 {
    if on && x != 0.0 && x.abs() < f32::MIN_POSITIVE {
        0.0 * x
    } else {
        x
    }
}

/// Sums terms in one honest order. `lanes` accumulators (1 = sequential), each element
/// multiplied then added, or fused; reversed or not; FTZ results and DAZ inputs on request.
fn sum_lanes(a: &[f32], b: &[f32], bias: Option<f32>, lanes: usize, fma: bool, rev: bool, ftzdaz: bool) -> f32 {
    let k = a.len();
    let mut acc = vec![0f32; lanes];
    let bias_first = bias.is_some() && !rev;
    if bias_first {
        acc[0] = ftz(bias.unwrap(), ftzdaz);
    }
    for t in 0..k {
        let i = if rev { k - 1 - t } else { t };
        let (x, y) = (ftz(a[i], ftzdaz), ftz(b[i], ftzdaz));
        let l = t % lanes;
        acc[l] = if fma {
            ftz(x.mul_add(y, acc[l]), ftzdaz)
        } else {
            ftz(acc[l] + ftz(x * y, ftzdaz), ftzdaz)
        };
    }
    // Horizontal sum as a tree, as SIMD does.
    let mut w = lanes;
    while w > 1 {
        w /= 2;
        for l in 0..w {
            acc[l] = ftz(acc[l] + acc[l + w], ftzdaz);
        }
    }
    let mut r = acc[0];
    if let (Some(c), false) = (bias, bias_first) {
        r = ftz(r + ftz(c, ftzdaz), ftzdaz);
    }
    r
}

fn pairwise(p: &[f32]) -> f32 {
    match p.len() {
        0 => 0.0,
        1 => p[0],
        n => pairwise(&p[..n / 2]) + pairwise(&p[n / 2..]),
    }
}

/// Every honest result we emulate for (a, b, bias).
fn honest_results(a: &[f32], b: &[f32], bias: Option<f32>, s: &mut u64) -> Vec<(String, f32)> {
    let mut out = vec![];
    for lanes in [1, 4, 8, 16] {
        for fma in [false, true] {
            for rev in [false, true] {
                out.push((
                    format!("lanes {lanes} fma {fma} rev {rev}"),
                    sum_lanes(a, b, bias, lanes, fma, rev, false),
                ));
            }
        }
    }
    out.push(("ftz+daz".into(), sum_lanes(a, b, bias, 1, false, false, true)));
    out.push((
        "ftz+daz lanes 8 fma".into(),
        sum_lanes(a, b, bias, 8, true, false, true),
    ));
    let mut prods: Vec<f32> = a.iter().zip(b).map(|(x, y)| x * y).collect();
    if let Some(c) = bias {
        prods.push(c);
    }
    out.push(("pairwise".into(), pairwise(&prods)));
    // Worst-ish orders: by magnitude ascending and descending, and a random shuffle.
    let mut sorted = prods.clone();
    sorted.sort_by(|x, y| x.abs().partial_cmp(&y.abs()).unwrap());
    out.push(("ascending".into(), sorted.iter().fold(0f32, |s, x| s + x)));
    out.push(("descending".into(), sorted.iter().rev().fold(0f32, |s, x| s + x)));
    for i in (1..prods.len()).rev() {
        let j = (xorshift(s) % (i as u64 + 1)) as usize;
        prods.swap(i, j);
    }
    out.push(("shuffled".into(), prods.iter().fold(0f32, |s, x| s + x)));
    out.push(("shuffled pairwise".into(), pairwise(&prods)));
    // Wide accumulation, one final rounding.
    let wide: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum::<f64>() + bias.unwrap_or(0.0) as f64;
    out.push(("f64 accumulate".into(), wide as f32));
    out
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Exact sum of f64 values as a non-overlapping expansion (Shewchuk's grow-expansion).
fn grow(e: &mut Vec<f64>, x: f64) {
    let mut q = x;
    let mut out = Vec::with_capacity(e.len() + 1);
    for &c in e.iter() {
        let s = q + c;
        let bv = s - q;
        let err = (q - (s - bv)) + (c - bv);
        if err != 0.0 {
            out.push(err);
        }
        q = s;
    }
    out.push(q);
    *e = out;
}

fn approx(e: &[f64]) -> f64 {
    e.iter().rev().sum()
}

/// The bound c*S + 4T + A in f64 (independent of the program's integer arithmetic), and the exact
/// sum's expansion.
fn bound_f64(a: &[f32], b: &[f32], bias: Option<f32>, arith: Arith) -> (Vec<f64>, f64) {
    let mut terms: Vec<(f32, f32)> = a.iter().copied().zip(b.iter().copied()).collect();
    if let Some(c) = bias {
        terms.push((c, 1.0));
    }
    let mut e = vec![];
    let (mut s, mut t, mut n) = (0f64, 0f64, 0f64);
    for &(x, y) in &terms {
        let p = x as f64 * y as f64;
        grow(&mut e, p);
        s += p.abs();
        if p != 0.0 {
            n += 1.0;
            if x.is_subnormal() || y.is_subnormal() {
                t += p.abs();
            }
        }
    }
    let c = match arith {
        Arith::Fp32 => n / (2f64.powi(24) - n),
        Arith::InputPrecision { mantissa_bits: m } => {
            let g = n / (2f64.powi(23) - n);
            (1.0 + 2f64.powi(-(m as i32))).powi(2) * (1.0 + g) - 1.0
        }
    };
    (e, c * s + 4.0 * t + terms.len() as f64 * 2f64.powi(-123))
}

fn dist(e: &[f64], c: f32) -> f64 {
    let mut x = e.to_vec();
    grow(&mut x, -(c as f64));
    approx(&x).abs()
}

const KS: [usize; 14] = [1, 2, 3, 5, 8, 16, 31, 64, 100, 256, 1000, 2048, 4096, 8192];

#[test]
fn every_honest_order_passes() {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut worst = f64::INFINITY;
    let mut checked = 0;
    for &k in &KS {
        for kind in 0..6 {
            let reps = if k >= 2048 { 1 } else { 3 };
            for _ in 0..reps {
                let (a, b, bias) = gen_case(&mut s, k, kind);
                let (ab, bb) = (bits(&a), bits(&b));
                let (e, bound) = bound_f64(&a, &b, bias, Arith::Fp32);
                for (name, r) in honest_results(&a, &b, bias, &mut s) {
                    let v = check_dot(&ab, &bb, bias.map(f32::to_bits), r.to_bits(), Arith::Fp32).unwrap();
                    assert!(v.honest(), "K={k} kind={kind} {name}: {r} judged {v:?}");
                    if r.is_finite() {
                        let d = dist(&e, r);
                        if d > 0.0 {
                            worst = worst.min(bound / d);
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    println!("{checked} honest results passed; least margin bound/error = {worst:.3}");
    assert!(worst >= 1.0);
}

#[test]
fn claims_beyond_the_bound_fail_and_at_it_pass() {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let (mut inside, mut outside) = (0, 0);
    for &k in &KS {
        for kind in 0..5 {
            let (a, b, bias) = gen_case(&mut s, k, kind);
            let (ab, bb) = (bits(&a), bits(&b));
            for arith in [Arith::Fp32, Arith::InputPrecision { mantissa_bits: 10 }] {
                let (e, bound) = bound_f64(&a, &b, bias, arith);
                let exact = approx(&e);
                for dir in [1.0, -1.0] {
                    let t = (exact + dir * bound) as f32;
                    for step in -3i32..=3 {
                        let c = f32::from_bits((t.to_bits() as i32 + step) as u32);
                        if !c.is_finite() {
                            continue;
                        }
                        let d = dist(&e, c);
                        let v = check_dot(&ab, &bb, bias.map(f32::to_bits), c.to_bits(), arith).unwrap();
                        if d <= bound * (1.0 - 1e-9) {
                            assert_eq!(v, Verdict::Within, "K={k} kind={kind} {arith:?} d={d} bound={bound}");
                            inside += 1;
                        } else if d >= bound * (1.0 + 1e-9) {
                            assert_eq!(v, Verdict::Outside, "K={k} kind={kind} {arith:?} d={d} bound={bound}");
                            outside += 1;
                        }
                    }
                }
            }
        }
    }
    println!("{inside} claims inside the bound passed, {outside} just outside failed");
    assert!(inside > 100 && outside > 100);
}

#[test]
fn a_claim_exactly_at_the_bound_passes() {
    // One term (1 - 2^-24) * 1: S = 1 - 2^-24, gamma_1 * S = 2^-24 exactly; 1.0 is at the bound.
    let a = [0x3f7f_ffffu32];
    let b = [1f32.to_bits()];
    assert_eq!(
        check_dot(&a, &b, None, 1f32.to_bits(), Arith::Fp32),
        Ok(Verdict::Within)
    );
    let above = f32::from_bits(1f32.to_bits() + 1).to_bits();
    assert_eq!(check_dot(&a, &b, None, above, Arith::Fp32), Ok(Verdict::Outside));
    let below = f32::from_bits(0x3f7f_fffe).to_bits();
    assert_eq!(check_dot(&a, &b, None, below, Arith::Fp32), Ok(Verdict::Within));
    assert_eq!(check_dot(&a, &b, None, 0x3f7f_fffd, Arith::Fp32), Ok(Verdict::Outside));
    // Zero terms add no rounding: 0 * x terms do not widen the bound.
    let a0 = [0x3f7f_ffffu32, 0, 0, 0];
    let b0 = [1f32.to_bits(), 0x4000_0000, 0x4000_0000, 0x4000_0000];
    assert_eq!(check_dot(&a0, &b0, None, above, Arith::Fp32), Ok(Verdict::Outside));
    // An exact sum of zero: only +-0 and values within A = K' * 2^-123 pass.
    assert_eq!(
        check_dot(&[0], &[0], None, 0x8000_0000, Arith::Fp32),
        Ok(Verdict::Within)
    );
    assert_eq!(check_dot(&[0], &[0], None, 1, Arith::Fp32), Ok(Verdict::Within));
    assert_eq!(
        check_dot(&[0], &[0], None, (2f32.powi(-122)).to_bits(), Arith::Fp32),
        Ok(Verdict::Outside)
    );
}

/// Rounds x to m stored significand bits (nearest even, or truncated).
fn reduce(x: f32, m: u32, trunc: bool) -> f32 {
    let sh = 23 - m;
    let u = x.to_bits();
    let r = if trunc {
        u >> sh << sh
    } else {
        let half = 1u32 << (sh - 1);
        let odd = (u >> sh) & 1;
        (u + half - 1 + odd) >> sh << sh
    };
    f32::from_bits(r)
}

#[test]
fn reduced_input_precision_passes_its_bound_and_breaks_fp32s() {
    let mut s = 0x1234_5678_9abc_def1u64;
    let mut fp32_broken = 0;
    for &k in &KS {
        for kind in [0, 1, 3, 4] {
            let (a, b, bias) = gen_case(&mut s, k, kind);
            let (ab, bb) = (bits(&a), bits(&b));
            for (m, trunc) in [(10, false), (10, true), (7, false), (7, true)] {
                let ar: Vec<f32> = a.iter().map(|&x| reduce(x, m, trunc)).collect();
                let br: Vec<f32> = b.iter().map(|&x| reduce(x, m, trunc)).collect();
                let br_bias = bias.map(|c| reduce(c, m, trunc));
                for (name, r) in honest_results(&ar, &br, br_bias, &mut s) {
                    let arith = Arith::InputPrecision { mantissa_bits: m as u8 };
                    let v = check_dot(&ab, &bb, bias.map(f32::to_bits), r.to_bits(), arith).unwrap();
                    assert!(v.honest(), "K={k} kind={kind} m={m} trunc={trunc} {name}: {v:?}");
                    if !check_dot(&ab, &bb, bias.map(f32::to_bits), r.to_bits(), Arith::Fp32)
                        .unwrap()
                        .honest()
                    {
                        fp32_broken += 1;
                    }
                }
            }
        }
    }
    println!("{fp32_broken} reduced-precision results break the fp32 bound");
    assert!(fp32_broken > 0);
}

#[test]
fn non_finite_claims_follow_ieee() {
    let one = 1f32.to_bits();
    let (inf, ninf, nan) = (f32::INFINITY.to_bits(), f32::NEG_INFINITY.to_bits(), 0x7fc0_0000u32);
    let big = f32::MAX.to_bits();
    let fp = Arith::Fp32;
    // NaN input or inf * 0: NaN only.
    assert_eq!(
        check_dot(&[nan, one], &[one, one], None, 0xffc0_0000, fp),
        Ok(Verdict::NonFinite)
    );
    assert_eq!(
        check_dot(&[nan, one], &[one, one], None, one, fp),
        Ok(Verdict::MustBeNonFinite)
    );
    assert_eq!(check_dot(&[inf], &[0], None, inf, fp), Ok(Verdict::NotNonFinite));
    assert_eq!(check_dot(&[inf], &[0], None, nan, fp), Ok(Verdict::NonFinite));
    // +inf and -inf terms: NaN only.
    assert_eq!(
        check_dot(&[inf, ninf], &[one, one], None, inf, fp),
        Ok(Verdict::NotNonFinite)
    );
    assert_eq!(
        check_dot(&[inf, ninf], &[one, one], None, nan, fp),
        Ok(Verdict::NonFinite)
    );
    // One infinity: its sign only, no NaN unless the rest could overflow or DAZ meets it.
    assert_eq!(
        check_dot(&[inf, one], &[one, one], None, inf, fp),
        Ok(Verdict::NonFinite)
    );
    assert_eq!(
        check_dot(&[inf, one], &[one, one], None, ninf, fp),
        Ok(Verdict::NotNonFinite)
    );
    assert_eq!(
        check_dot(&[inf, one], &[one, one], None, nan, fp),
        Ok(Verdict::NotNonFinite)
    );
    assert_eq!(
        check_dot(&[inf, one], &[one, one], None, one, fp),
        Ok(Verdict::MustBeNonFinite)
    );
    assert_eq!(
        check_dot(
            &[inf, big, big],
            &[one, big & 0x7fff_ffff, big | 1 << 31],
            None,
            nan,
            fp
        ),
        Ok(Verdict::NonFinite)
    );
    assert_eq!(check_dot(&[inf], &[1], None, nan, fp), Ok(Verdict::NonFinite));
    // Finite inputs: inf/NaN only where some order overflows.
    assert_eq!(check_dot(&[one], &[one], None, inf, fp), Ok(Verdict::NotNonFinite));
    assert_eq!(
        check_dot(&[big, big, big | 1 << 31], &[one; 3], None, inf, fp),
        Ok(Verdict::NonFinite)
    );
    assert_eq!(
        check_dot(&[big, big, big | 1 << 31], &[one; 3], None, nan, fp),
        Ok(Verdict::NonFinite)
    );
    assert_eq!(
        check_dot(&[big, big, big | 1 << 31], &[one; 3], None, big, fp),
        Ok(Verdict::Within)
    );
    // 2^127 * 1 cannot overflow in fp32 (S * (1 + gamma) stays below 2^128 - 2^103; f32::MAX is
    // already past that test, which is conservative), but an input that large rounded to m bits can.
    let p127 = 0x7f00_0000u32;
    assert_eq!(check_dot(&[p127], &[one], None, inf, fp), Ok(Verdict::NotNonFinite));
    assert_eq!(check_dot(&[big], &[one], None, inf, fp), Ok(Verdict::NonFinite));
    let tf32 = Arith::InputPrecision { mantissa_bits: 10 };
    assert_eq!(check_dot(&[p127], &[one], None, inf, tf32), Ok(Verdict::NonFinite));
}

#[test]
fn bad_arguments_are_refused() {
    use optinfer::pure::tolerant::{DotError, MAX_TERMS};
    assert_eq!(
        check_dot(&[1], &[], None, 0, Arith::Fp32),
        Err(DotError::LengthMismatch)
    );
    let z = vec![0u32; MAX_TERMS as usize];
    assert_eq!(check_dot(&z, &z, Some(0), 0, Arith::Fp32), Err(DotError::TooManyTerms));
    assert_eq!(check_dot(&z, &z, None, 0, Arith::Fp32), Ok(Verdict::Within));
    for m in [0u8, 17, 23] {
        assert_eq!(
            check_dot(&[1], &[1], None, 0, Arith::InputPrecision { mantissa_bits: m }),
            Err(DotError::BadPrecision)
        );
    }
    // The streaming form equals the one-shot form.
    let mut acc = DotAcc::new();
    acc.add(3f32.to_bits(), 2f32.to_bits());
    acc.add_bias(1f32.to_bits());
    assert_eq!(acc.verdict(7f32.to_bits(), Arith::Fp32), Ok(Verdict::Within));
}

#[test]
fn the_reciprocal_is_correctly_rounded() {
    for n in 1..=70_000u32 {
        let r = f32::from_bits(reciprocal(n));
        // r * n is exact in f64 (24 + 17 bits): no neighbour of r is nearer 1/n.
        let err = |x: f32| (x as f64 * n as f64 - 1.0).abs();
        let (lo, hi) = (f32::from_bits(r.to_bits() - 1), f32::from_bits(r.to_bits() + 1));
        assert!(err(r) <= err(lo) && err(r) <= err(hi), "fl(1/{n}) = {r}");
    }
}

/// ReduceSum and ReduceMean computed the ways kernels do: every one passes; a claim outside fails.
#[test]
fn every_honest_reduction_passes_and_past_the_bound_fails() {
    let mut s = 99u64;
    let (mut checked, mut outside) = (0, 0);
    for k in [1usize, 2, 7, 96, 400, 2400, 8192] {
        for kind in 0..6 {
            let (x, _, _) = gen_case(&mut s, k, kind);
            let ones = vec![1f32; k];
            let n = k as f32;
            let r = f32::from_bits(reciprocal(k as u32));
            let scaled: Vec<f32> = x.iter().map(|v| v / n).collect();
            let by_r: Vec<f32> = x.iter().map(|v| v * r).collect();
            let mut sums = vec![];
            for lanes in [1, 4, 8, 16] {
                for rev in [false, true] {
                    sums.push(sum_lanes(&x, &ones, None, lanes, false, rev, false));
                }
            }
            sums.push(pairwise(&x));
            for &sum in &sums {
                checked += 2;
                assert!(
                    check_reduce(&bits(&x), false, sum.to_bits(), Arith::Fp32)
                        .unwrap()
                        .honest(),
                    "sum k={k}"
                );
                for mean in [sum / n, sum * r] {
                    assert!(
                        check_reduce(&bits(&x), true, mean.to_bits(), Arith::Fp32)
                            .unwrap()
                            .honest(),
                        "mean k={k}"
                    );
                }
            }
            for m in [
                pairwise(&scaled),
                pairwise(&by_r),
                sum_lanes(&scaled, &ones, None, 8, false, false, false),
            ] {
                assert!(
                    check_reduce(&bits(&x), true, m.to_bits(), Arith::Fp32)
                        .unwrap()
                        .honest(),
                    "mean of x/n k={k}"
                );
            }
            // The exact mean moved by 2 x its bound (computed in f64 from the exact sum and S) fails.
            let exact: f64 = x.iter().map(|&v| v as f64).sum::<f64>() / k as f64;
            let sabs: f64 = x.iter().map(|&v| (v as f64).abs()).sum::<f64>() / k as f64;
            let g = (k as f64 + 3.0) * 2f64.powi(-24);
            let far = (exact + 2.0 * g * sabs + 2f64.powi(-100)) as f32;
            if far.is_finite() && (far as f64 - exact).abs() > 1.5 * g * sabs + k as f64 * 2f64.powi(-120) {
                assert_eq!(
                    check_reduce(&bits(&x), true, far.to_bits(), Arith::Fp32).unwrap(),
                    Verdict::Outside,
                    "k={k}"
                );
                outside += 1;
            }
        }
    }
    assert!(checked > 500 && outside > 20, "{checked} honest, {outside} outside");
}
