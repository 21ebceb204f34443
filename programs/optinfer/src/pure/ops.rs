//! The one-step op set: output-shape inference and exact recomputation of one output chunk.
//!
//! Semantics follow onnxruntime's CPU kernels: integer arithmetic wraps, float32 arithmetic is
//! single IEEE-754 operations (soft-float on SBF, bit-exact), float->int conversions follow
//! x86 cvttss2si (NaN and out-of-range give i32::MIN), rounding is half-to-even. Every float NaN
//! computed is the canonical one (`ieee::canonicalize_nans`): which NaN onnxruntime returns depends
//! on the kernel's lane, tail, thread block and backend, and no game turns on it.
use super::tensor::{
    dtype_size, Header, CHUNK_BYTES, DT_BOOL, DT_FLOAT, DT_INT32, DT_INT64, DT_INT8, DT_UINT8, MAX_RANK,
};

pub const OP_ENTRY_BYTES: usize = 24;
pub const MAX_OP_INPUTS: usize = 4;

pub const OP_IDENTITY: u8 = 1;
pub const OP_RESHAPE: u8 = 2;
pub const OP_FLATTEN: u8 = 3;
pub const OP_TRANSPOSE: u8 = 4;
pub const OP_RELU: u8 = 5;
pub const OP_ADD: u8 = 6;
pub const OP_SUB: u8 = 7;
pub const OP_MUL: u8 = 8;
pub const OP_MATMUL_INTEGER: u8 = 9;
pub const OP_CLIP: u8 = 10;
pub const OP_QUANTIZE_LINEAR: u8 = 11;
pub const OP_DEQUANTIZE_LINEAR: u8 = 12;
pub const OP_CAST: u8 = 13;
// Data movement and comparisons (issue 15): exact by construction, byte copies and integer compares.
pub const OP_CONCAT: u8 = 14;
pub const OP_GATHER: u8 = 15;
pub const OP_SLICE: u8 = 16;
pub const OP_SQUEEZE: u8 = 17;
pub const OP_UNSQUEEZE: u8 = 18;
pub const OP_SHAPE: u8 = 19;
pub const OP_EQUAL: u8 = 20;
pub const OP_NOT: u8 = 21;
pub const OP_WHERE: u8 = 22;
pub const OP_CONSTANT_OF_SHAPE: u8 = 23;
pub const OP_PAD: u8 = 24;
// Elementwise arithmetic and comparisons exact by construction (issue 15, third round): sign-bit
// ops, IEEE compares, correctly rounded division and square root (pure/ieee.rs).
pub const OP_NEG: u8 = 25;
pub const OP_ABS: u8 = 26;
pub const OP_LESS: u8 = 27;
pub const OP_GREATER: u8 = 28;
pub const OP_LESS_OR_EQUAL: u8 = 29;
pub const OP_GREATER_OR_EQUAL: u8 = 30;
pub const OP_DIV: u8 = 31;
pub const OP_SQRT: u8 = 32;
/// Pow with a constant exponent of 2 or 3 (attrs[0]): onnxruntime squares or cubes in single
/// multiplications when the exponent is one element (measured bit-identical; other exponents call
/// powf and are not exact here).
pub const OP_POW: u8 = 33;
/// DynamicQuantizeLinear, one layer per output (attrs[0]: 0 y, 1 scale, 2 zero point), each
/// recomputed from the whole of x as onnxruntime's GetQuantizationParameter and QuantizeLinear do.
pub const OP_DYNAMIC_QUANTIZE_LINEAR: u8 = 34;
/// ConvInteger, 1-D (rank 3) or 2-D (rank 4): x uint8, w uint8 or int8, per-tensor zero points,
/// int32 out. attrs: w dtype, stride h, stride w, dilation h, dilation w, pads top, left, bottom,
/// right (u8 each; the h ones 1, 1, 0, 0 for 1-D), group u16. Padding reads as x's zero point.
pub const OP_CONV_INTEGER: u8 = 35;
// Tolerant-mode float ops (issue 15): no bit-exact recomputation exists across executor
// configurations, so the one-step judges the executor's claimed element within a bound instead
// (`judge_tolerant`). add_model_ops takes them only in a model registered in tolerant mode.
/// Exp, Log, Tanh, Sigmoid of float32, judged by pure/transcend.rs (Unary code = op - OP_EXP).
pub const OP_EXP: u8 = 36;
pub const OP_LOG: u8 = 37;
pub const OP_TANH: u8 = 38;
pub const OP_SIGMOID: u8 = 39;
/// MatMul of rank-2 float32 [M, K] x [K, N], judged by pure/tolerant.rs's dot-product bound.
pub const OP_MATMUL: u8 = 40;

/// Whether `op` is judged within a bound (tolerant mode only) rather than recomputed bit for bit.
pub fn is_tolerant(op: u8) -> bool {
    (OP_EXP..=OP_MATMUL).contains(&op)
}

/// Slice's attrs: attrs[0] below MAX_RANK is one axis with i32 start, end, step at 1, 5 and 9;
/// SLICE_AXES | mask slices the mask's axes (one or two, in increasing order), each with i16
/// start, end, step (at 1 and at 7). The compiler clamps bounds to [-d - 1, d] first, which ONNX's
/// clamping makes the same slice.
pub const SLICE_AXES: u8 = 0x40;
/// Pad's modes (attrs[0]); attrs[1..5] the constant as i32 bits (sign-extended for int64), attrs[5]
/// the padded axes as two nibbles (low first, 0xF none), then i16 begin and end pads of each.
pub const PAD_CONSTANT: u8 = 0;
pub const PAD_REFLECT: u8 = 1;
pub const PAD_EDGE: u8 = 2;

pub const REF_LAYER: u16 = 0;
pub const REF_INPUT: u16 = 1;
pub const REF_WEIGHT: u16 = 2;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OpError {
    /// The op code is not one the referee can recompute exactly.
    Unsupported,
    /// The op is supported but this dtype combination is not exact in onnxruntime.
    Inexact,
    /// Operands do not have the shapes or dtypes the op needs.
    BadOperands,
    /// The entry itself is malformed (input count, attributes, references).
    BadEntry,
    /// A sparse opening lacks a chunk the recomputation reads.
    MissingChunk,
    /// The operands' values have no result every honest run agrees on: onnxruntime refuses the run
    /// (int32 division by zero, a Gather index out of range), dies (INT_MIN / -1), or answers by its
    /// vector lanes (DynamicQuantizeLinear of a NaN, which honest executors refuse to commit). No
    /// honest trace holds such a layer: a one-step that meets one convicts the executor.
    Undecidable,
}

/// One row of a model's op table, as registered on chain.
#[derive(Clone, Copy, Debug)]
pub struct OpEntry {
    pub op: u8,
    pub n_inputs: u8,
    pub refs: [u16; MAX_OP_INPUTS],
    pub attrs: [u8; 14],
}

impl OpEntry {
    pub fn parse(b: &[u8]) -> OpEntry {
        let mut refs = [0u16; MAX_OP_INPUTS];
        for (i, r) in refs.iter_mut().enumerate() {
            *r = u16::from_le_bytes([b[2 + 2 * i], b[3 + 2 * i]]);
        }
        let mut attrs = [0u8; 14];
        attrs.copy_from_slice(&b[10..24]);
        OpEntry {
            op: b[0],
            n_inputs: b[1],
            refs,
            attrs,
        }
    }
    pub fn ref_kind(&self, i: usize) -> u16 {
        self.refs[i] >> 14
    }
    pub fn ref_index(&self, i: usize) -> u16 {
        self.refs[i] & 0x3fff
    }

    /// Registration-time check: known op, right input count, exact dtype combination, and
    /// layer references only to earlier layers.
    pub fn validate(&self, layer: u32) -> Result<(), OpError> {
        let (lo, hi) = match self.op {
            OP_IDENTITY | OP_RELU | OP_FLATTEN | OP_TRANSPOSE | OP_CAST | OP_CLIP => (1, 1),
            OP_SLICE | OP_SQUEEZE | OP_UNSQUEEZE | OP_SHAPE | OP_NOT => (1, 1),
            OP_CONSTANT_OF_SHAPE | OP_PAD | OP_NEG | OP_ABS | OP_SQRT | OP_POW => (1, 1),
            OP_DYNAMIC_QUANTIZE_LINEAR => (1, 1),
            OP_EXP..=OP_SIGMOID => (1, 1),
            OP_MATMUL => (2, 2),
            OP_LESS..=OP_DIV => (2, 2),
            OP_RESHAPE => (1, 2),
            OP_ADD | OP_SUB | OP_MUL | OP_GATHER | OP_EQUAL => (2, 2),
            OP_WHERE => (3, 3),
            OP_CONCAT => (1, MAX_OP_INPUTS),
            OP_MATMUL_INTEGER | OP_CONV_INTEGER => (2, 4),
            OP_QUANTIZE_LINEAR | OP_DEQUANTIZE_LINEAR => (2, 3),
            _ => return Err(OpError::Unsupported),
        };
        let n = self.n_inputs as usize;
        if n < lo || n > hi {
            return Err(OpError::BadEntry);
        }
        for i in 0..n {
            match self.ref_kind(i) {
                REF_LAYER if (self.ref_index(i) as u32) < layer => {}
                REF_INPUT | REF_WEIGHT => {}
                _ => return Err(OpError::BadEntry),
            }
        }
        match self.op {
            OP_MATMUL_INTEGER => match (self.attrs[0], self.attrs[1]) {
                (DT_INT8, DT_INT8) | (DT_UINT8, DT_UINT8) => Ok(()),
                // uint8 x int8 saturates pairwise in onnxruntime's AVX2 kernel.
                (DT_UINT8, DT_INT8) | (DT_INT8, DT_UINT8) => Err(OpError::Inexact),
                _ => Err(OpError::BadEntry),
            },
            OP_CAST => match self.attrs[0] {
                DT_FLOAT | DT_INT32 | DT_INT8 | DT_UINT8 => Ok(()),
                _ => Err(OpError::Unsupported),
            },
            OP_TRANSPOSE => {
                let r = self.attrs[0] as usize;
                if r == 0 || r > MAX_RANK {
                    return Err(OpError::BadEntry);
                }
                let mut seen = 0u32;
                for &p in &self.attrs[1..1 + r] {
                    if p as usize >= r || seen & (1 << p) != 0 {
                        return Err(OpError::BadEntry);
                    }
                    seen |= 1 << p;
                }
                Ok(())
            }
            OP_RESHAPE => {
                if self.attrs[0] as usize > 3 {
                    return Err(OpError::BadEntry);
                }
                Ok(())
            }
            OP_CONCAT | OP_GATHER if self.attrs[0] as usize >= MAX_RANK => Err(OpError::BadEntry),
            OP_SLICE => match slice_axes(self) {
                Some((ax, n)) if ax[..n].iter().all(|x| x.3 != 0) => Ok(()),
                _ => Err(OpError::BadEntry),
            },
            OP_CONSTANT_OF_SHAPE
                if !matches!(
                    self.attrs[0],
                    DT_FLOAT | DT_INT32 | DT_INT64 | DT_INT8 | DT_UINT8 | DT_BOOL
                ) =>
            {
                Err(OpError::BadEntry)
            }
            OP_PAD => match pad_axes(self) {
                // Reflect and edge with a negative pad crop first in onnxruntime: not modelled, refused.
                Some((ax, n)) if self.attrs[0] == PAD_CONSTANT || ax[..n].iter().all(|x| x.1 >= 0 && x.2 >= 0) => {
                    Ok(())
                }
                _ => Err(OpError::BadEntry),
            },
            OP_SQUEEZE | OP_UNSQUEEZE if self.attrs[0] >> MAX_RANK != 0 => Err(OpError::BadEntry),
            OP_SHAPE if self.attrs[0] > self.attrs[1] || self.attrs[1] as usize > MAX_RANK => Err(OpError::BadEntry),
            OP_POW if !matches!(self.attrs[0], 2 | 3) => Err(OpError::BadEntry),
            OP_DYNAMIC_QUANTIZE_LINEAR if self.attrs[0] > 2 => Err(OpError::BadEntry),
            // onnxruntime's ConvInteger: uint8 x uint8 and uint8 x int8 (measured exact, unlike MatMulInteger's).
            OP_CONV_INTEGER => {
                let a = &self.attrs;
                let group = u16::from_le_bytes([a[9], a[10]]);
                if !matches!(a[0], DT_UINT8 | DT_INT8) || a[1..5].contains(&0) || group == 0 {
                    return Err(OpError::BadEntry);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// An input tensor of the one-step: its header and either its full canonical bytes or, for a
/// sparse opening, only the chunks the recomputation reads (each Merkle-proven by the caller).
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    pub header: Header,
    pub bytes: &'a [u8],
    pub pieces: &'a [(u32, &'a [u8])],
    pub sparse: bool,
}

impl<'a> Operand<'a> {
    pub fn full(header: Header, bytes: &'a [u8]) -> Operand<'a> {
        Operand {
            header,
            bytes,
            pieces: &[],
            sparse: false,
        }
    }
    pub fn sparse(header: Header, pieces: &'a [(u32, &'a [u8])]) -> Operand<'a> {
        Operand {
            header,
            bytes: &[],
            pieces,
            sparse: true,
        }
    }
    /// The `es` bytes of element `i`; elements never straddle chunks since `es` divides 256.
    fn at(&self, i: usize, es: usize) -> Result<&'a [u8], OpError> {
        let off = i * es;
        if !self.sparse {
            return self.bytes.get(off..off + es).ok_or(OpError::BadOperands);
        }
        let c = (off / CHUNK_BYTES) as u32;
        let (_, chunk) = self
            .pieces
            .iter()
            .find(|(ix, _)| *ix == c)
            .ok_or(OpError::MissingChunk)?;
        let s = off % CHUNK_BYTES;
        chunk.get(s..s + es).ok_or(OpError::BadOperands)
    }
}

fn rd_i32(t: &Operand, i: usize) -> Result<i32, OpError> {
    let b = t.at(i, 4)?;
    Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}
fn rd_i64(t: &Operand, i: usize) -> Result<i64, OpError> {
    let b = t.at(i, 8)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    Ok(i64::from_le_bytes(w))
}
fn rd_f32(t: &Operand, i: usize) -> Result<f32, OpError> {
    Ok(f32::from_bits(rd_i32(t, i)? as u32))
}
/// Reads element i of an int8/uint8/int32 tensor widened to i32.
fn rd_int(t: &Operand, i: usize) -> Result<i32, OpError> {
    match t.header.dtype {
        DT_INT8 => Ok(t.at(i, 1)?[0] as i8 as i32),
        DT_UINT8 => Ok(t.at(i, 1)?[0] as i32),
        _ => rd_i32(t, i),
    }
}
fn bits_i32(a: &[u8]) -> i32 {
    i32::from_le_bytes([a[0], a[1], a[2], a[3]])
}

/// x86 cvttss2si: truncation, with NaN and out-of-range giving i32::MIN.
pub fn f32_to_i32_x86(x: f32) -> i32 {
    // 2^31 as f32 is exact; the comparisons are single soft-float calls.
    if x.is_nan() || !(-2147483648.0f32..2147483648.0f32).contains(&x) {
        i32::MIN
    } else {
        x as i32
    }
}

/// Round half to even via the 2^23 trick: exact for every f32 under IEEE round-to-nearest-even.
pub fn round_half_even(x: f32) -> f32 {
    const TWO23: f32 = 8388608.0;
    if x.is_nan() {
        return x;
    }
    if x >= TWO23 || x <= -TWO23 {
        return x;
    }
    if x >= 0.0 {
        (x + TWO23) - TWO23
    } else {
        -((-x + TWO23) - TWO23)
    }
}

fn is_scalar(h: &Header) -> bool {
    h.numel() == 1
}

/// numpy-style broadcast of two shapes.
fn broadcast(a: &Header, b: &Header) -> Option<Header> {
    let r = core::cmp::max(a.rank, b.rank) as usize;
    let mut out = Header {
        dtype: a.dtype,
        rank: r as u8,
        dims: [0; MAX_RANK],
    };
    for i in 0..r {
        let da = if i + (a.rank as usize) >= r {
            a.dims[i + a.rank as usize - r]
        } else {
            1
        };
        let db = if i + (b.rank as usize) >= r {
            b.dims[i + b.rank as usize - r]
        } else {
            1
        };
        out.dims[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        };
    }
    Some(out)
}

/// Flat index into `src` for output flat index `o` under broadcasting to `out`.
fn broadcast_index(out: &Header, src: &Header, mut o: u64) -> usize {
    let r = out.rank as usize;
    let off = r - src.rank as usize;
    let mut idx = 0u64;
    let mut stride = 1u64;
    for i in (0..r).rev() {
        let d = out.dims[i] as u64;
        let c = o % d;
        o /= d;
        if i >= off {
            let sd = src.dims[i - off] as u64;
            if sd != 1 {
                idx += c * stride;
            }
            stride *= sd;
        }
    }
    idx as usize
}

/// The header the op must produce from these operands, or why it cannot be computed.
pub fn infer(e: &OpEntry, ins: &[Operand]) -> Result<Header, OpError> {
    if ins.len() != e.n_inputs as usize {
        return Err(OpError::BadEntry);
    }
    for x in ins {
        let len = x.header.byte_len().ok_or(OpError::BadOperands)?;
        if !x.sparse && len != x.bytes.len() as u64 {
            return Err(OpError::BadOperands);
        }
    }
    let a = ins[0].header;
    let int_or_float = |d: u8| d == DT_INT32 || d == DT_FLOAT;
    match e.op {
        OP_IDENTITY => Ok(a),
        OP_RESHAPE => {
            let r = e.attrs[0] as usize;
            let mut dims = [0u32; 3];
            for (i, d) in dims.iter_mut().enumerate().take(r) {
                *d = bits_i32(&e.attrs[1 + 4 * i..5 + 4 * i]) as u32;
            }
            let h = Header::new(a.dtype, &dims[..r]).ok_or(OpError::BadEntry)?;
            if h.numel() != a.numel() {
                return Err(OpError::BadOperands);
            }
            Ok(h)
        }
        OP_FLATTEN => {
            let axis = e.attrs[0] as usize;
            if axis > a.rank as usize {
                return Err(OpError::BadOperands);
            }
            let outer: u64 = a.dims()[..axis].iter().map(|&d| d as u64).product();
            let inner: u64 = a.dims()[axis..].iter().map(|&d| d as u64).product();
            if outer > u32::MAX as u64 || inner > u32::MAX as u64 {
                return Err(OpError::BadOperands);
            }
            Ok(Header::new(a.dtype, &[outer as u32, inner as u32]).unwrap())
        }
        OP_TRANSPOSE => {
            let r = e.attrs[0] as usize;
            if r != a.rank as usize {
                return Err(OpError::BadOperands);
            }
            let mut h = a;
            for i in 0..r {
                h.dims[i] = a.dims[e.attrs[1 + i] as usize];
            }
            Ok(h)
        }
        OP_RELU => {
            if matches!(a.dtype, DT_FLOAT | DT_INT32 | DT_INT8) {
                Ok(a)
            } else {
                Err(OpError::BadOperands)
            }
        }
        OP_CLIP => {
            if matches!(a.dtype, DT_FLOAT | DT_INT32 | DT_INT8 | DT_UINT8) {
                Ok(a)
            } else {
                Err(OpError::BadOperands)
            }
        }
        OP_ADD | OP_SUB | OP_MUL => {
            let b = ins[1].header;
            if a.dtype != b.dtype || !int_or_float(a.dtype) {
                return Err(OpError::BadOperands);
            }
            broadcast(&a, &b).ok_or(OpError::BadOperands)
        }
        OP_MATMUL_INTEGER => {
            let b = ins[1].header;
            if a.dtype != e.attrs[0] || b.dtype != e.attrs[1] || a.rank != 2 || b.rank != 2 || a.dims[1] != b.dims[0] {
                return Err(OpError::BadOperands);
            }
            for (i, x) in ins.iter().enumerate().skip(2) {
                // A per-tensor zero point, or for b one per column ([N]) as onnxruntime takes;
                // onnxruntime refuses a per-row a zero point.
                let per_column = i == 3 && x.header.rank == 1 && x.header.dims[0] == b.dims[1];
                if !(is_scalar(&x.header) || per_column) || x.header.dtype != ins[i - 2].header.dtype {
                    return Err(OpError::BadOperands);
                }
            }
            Ok(Header::new(DT_INT32, &[a.dims[0], b.dims[1]]).unwrap())
        }
        OP_QUANTIZE_LINEAR => {
            let s = ins[1].header;
            if a.dtype != DT_FLOAT || s.dtype != DT_FLOAT || !is_scalar(&s) {
                return Err(OpError::BadOperands);
            }
            let out = if ins.len() == 3 {
                let z = ins[2].header;
                if !is_scalar(&z) {
                    return Err(OpError::BadOperands);
                }
                z.dtype
            } else {
                DT_UINT8
            };
            if out != DT_UINT8 && out != DT_INT8 {
                return Err(OpError::BadOperands);
            }
            let mut h = a;
            h.dtype = out;
            Ok(h)
        }
        OP_DEQUANTIZE_LINEAR => {
            let s = ins[1].header;
            if !matches!(a.dtype, DT_INT8 | DT_UINT8 | DT_INT32) || s.dtype != DT_FLOAT || !is_scalar(&s) {
                return Err(OpError::BadOperands);
            }
            if ins.len() == 3 && (!is_scalar(&ins[2].header) || ins[2].header.dtype != a.dtype) {
                return Err(OpError::BadOperands);
            }
            let mut h = a;
            h.dtype = DT_FLOAT;
            Ok(h)
        }
        OP_CAST => {
            if !matches!(a.dtype, DT_FLOAT | DT_INT32 | DT_INT8 | DT_UINT8) {
                return Err(OpError::BadOperands);
            }
            let mut h = a;
            h.dtype = e.attrs[0];
            Ok(h)
        }
        OP_CONCAT..=OP_PAD => infer_movement(e, ins),
        OP_NEG..=OP_POW => infer_arith(e, ins),
        OP_DYNAMIC_QUANTIZE_LINEAR if a.dtype == DT_FLOAT => match e.attrs[0] {
            0 => Ok(Header::new(DT_UINT8, a.dims()).unwrap()),
            1 => Ok(Header::new(DT_FLOAT, &[]).unwrap()),
            _ => Ok(Header::new(DT_UINT8, &[]).unwrap()),
        },
        OP_DYNAMIC_QUANTIZE_LINEAR => Err(OpError::BadOperands),
        OP_CONV_INTEGER => conv_geometry(e, ins).map(|g| g.out),
        OP_EXP..=OP_SIGMOID if a.dtype == DT_FLOAT => Ok(a),
        OP_MATMUL => {
            let b = ins[1].header;
            let ok = a.dtype == DT_FLOAT && b.dtype == DT_FLOAT && a.rank == 2 && b.rank == 2;
            // At most MAX_TERMS terms per element: the bound's gamma stays valid (pure/tolerant.rs).
            if !ok || a.dims[1] != b.dims[0] || a.dims[1] > super::tolerant::MAX_TERMS {
                return Err(OpError::BadOperands);
            }
            Ok(Header::new(DT_FLOAT, &[a.dims[0], b.dims[1]]).unwrap())
        }
        _ => Err(OpError::Unsupported),
    }
}

/// One claimed output element of a tolerant op, its header and the model's declared arithmetic (one argument:
/// SBF passes at most five in registers).
pub struct TolerantClaim {
    /// The op's output header.
    pub out: Header,
    pub element: u64,
    /// The claimed f32 bits.
    pub claimed: u32,
    pub arith: super::tolerant::Arith,
}

/// Tolerant mode's leaf check: could an executor on any configuration (with the model's declared
/// arithmetic) have claimed `claimed` (f32 bits) as output element `o` of the tolerant op `e`?
/// Reads only that element's operands: x[o] for the unary ops, row i of a and column j of b for
/// MatMul. The bounds and their derivations are pure/tolerant.rs's and pure/transcend.rs's.
#[inline(never)]
pub fn judge_tolerant(e: &OpEntry, ins: &[Operand], c: &TolerantClaim) -> Result<bool, OpError> {
    let (out, o, claimed, arith) = (&c.out, c.element, c.claimed, c.arith);
    match e.op {
        OP_EXP..=OP_SIGMOID => {
            let op = super::transcend::Unary::from_code(e.op - OP_EXP).ok_or(OpError::BadEntry)?;
            let x = rd_i32(&ins[0], o as usize)? as u32;
            Ok(super::transcend::check_unary(op, x, claimed))
        }
        OP_MATMUL => {
            let (a, b) = (&ins[0], &ins[1]);
            let (k, n) = (a.header.dims[1] as u64, out.dims[1] as u64);
            if n == 0 {
                return Err(OpError::BadOperands);
            }
            let (i, j) = (o / n, o % n);
            let mut acc = super::tolerant::DotAcc::new();
            for t in 0..k {
                let x = rd_i32(a, (i * k + t) as usize)? as u32;
                let y = rd_i32(b, (t * n + j) as usize)? as u32;
                acc.add(x, y);
            }
            acc.verdict(claimed, arith)
                .map(|v| v.honest())
                .map_err(|_| OpError::BadOperands)
        }
        _ => Err(OpError::Unsupported),
    }
}

/// infer for issue 15's elementwise arithmetic and comparisons, out of line (see infer_movement).
#[inline(never)]
fn infer_arith(e: &OpEntry, ins: &[Operand]) -> Result<Header, OpError> {
    let a = ins[0].header;
    match e.op {
        // The integer dtypes are Add's: onnxruntime has more, the referee takes int32.
        OP_NEG | OP_ABS | OP_POW if matches!(a.dtype, DT_FLOAT | DT_INT32) => Ok(a),
        OP_SQRT if a.dtype == DT_FLOAT => Ok(a),
        OP_LESS..=OP_DIV => {
            let b = ins[1].header;
            let ok = if e.op == OP_DIV {
                matches!(a.dtype, DT_FLOAT | DT_INT32)
            } else {
                matches!(a.dtype, DT_FLOAT | DT_INT32 | DT_INT64 | DT_INT8 | DT_UINT8)
            };
            if a.dtype != b.dtype || !ok {
                return Err(OpError::BadOperands);
            }
            let mut h = broadcast(&a, &b).ok_or(OpError::BadOperands)?;
            if e.op != OP_DIV {
                h.dtype = DT_BOOL;
            }
            Ok(h)
        }
        _ => Err(OpError::BadOperands),
    }
}

/// infer for the data-movement and comparison ops, out of line: inlined, the one-step's handler
/// passes the SBF branch range.
#[inline(never)]
fn infer_movement(e: &OpEntry, ins: &[Operand]) -> Result<Header, OpError> {
    let a = ins[0].header;
    match e.op {
        OP_CONCAT => {
            let axis = e.attrs[0] as usize;
            if axis >= a.rank as usize {
                return Err(OpError::BadOperands);
            }
            let mut h = a;
            let mut total = a.dims[axis] as u64;
            for x in &ins[1..] {
                let b = x.header;
                if b.dtype != a.dtype || b.rank != a.rank {
                    return Err(OpError::BadOperands);
                }
                for i in 0..a.rank as usize {
                    if i != axis && b.dims[i] != a.dims[i] {
                        return Err(OpError::BadOperands);
                    }
                }
                total += b.dims[axis] as u64;
            }
            if total > u32::MAX as u64 {
                return Err(OpError::BadOperands);
            }
            h.dims[axis] = total as u32;
            Ok(h)
        }
        OP_GATHER => {
            let idx = ins[1].header;
            let axis = e.attrs[0] as usize;
            let r = a.rank as usize + idx.rank as usize;
            if axis >= a.rank as usize || r - 1 > MAX_RANK || !matches!(idx.dtype, DT_INT32 | DT_INT64) {
                return Err(OpError::BadOperands);
            }
            let mut h = Header {
                dtype: a.dtype,
                rank: (r - 1) as u8,
                dims: [0; MAX_RANK],
            };
            h.dims[..axis].copy_from_slice(&a.dims[..axis]);
            h.dims[axis..axis + idx.rank as usize].copy_from_slice(idx.dims());
            h.dims[axis + idx.rank as usize..r - 1].copy_from_slice(&a.dims[axis + 1..a.rank as usize]);
            Ok(h)
        }
        OP_SLICE => {
            let (ax, n) = slice_axes(e).ok_or(OpError::BadEntry)?;
            let mut h = a;
            for &(axis, s, t, step) in &ax[..n] {
                if axis >= a.rank as usize {
                    return Err(OpError::BadOperands);
                }
                h.dims[axis] = slice_range(a.dims[axis], s, t, step).2;
            }
            Ok(h)
        }
        OP_CONSTANT_OF_SHAPE => {
            // The output's dims are the shape operand's values (registration: shapes::check_layer).
            if a.dtype != DT_INT64 || a.rank != 1 || a.dims[0] as usize > MAX_RANK {
                return Err(OpError::BadOperands);
            }
            let mut dims = [0u32; MAX_RANK];
            for (i, d) in dims.iter_mut().enumerate().take(a.dims[0] as usize) {
                let v = rd_i64(&ins[0], i)?;
                if !(0..=u32::MAX as i64).contains(&v) {
                    return Err(OpError::BadOperands);
                }
                *d = v as u32;
            }
            let h = Header::new(e.attrs[0], &dims[..a.dims[0] as usize]).ok_or(OpError::BadOperands)?;
            h.byte_len().ok_or(OpError::BadOperands)?;
            Ok(h)
        }
        OP_PAD => {
            let (ax, n) = pad_axes(e).ok_or(OpError::BadEntry)?;
            if !matches!(a.dtype, DT_FLOAT | DT_INT32 | DT_INT64 | DT_INT8 | DT_UINT8 | DT_BOOL) {
                return Err(OpError::BadOperands);
            }
            let mut h = a;
            for &(axis, pb, pe) in &ax[..n] {
                if axis >= a.rank as usize {
                    return Err(OpError::BadOperands);
                }
                let d = a.dims[axis] as i64;
                let m = d + pb + pe;
                // onnxruntime refuses reflect pads reaching past the axis, and edge pads of an empty one.
                let bad = match e.attrs[0] {
                    PAD_REFLECT => pb >= d || pe >= d,
                    PAD_EDGE => d == 0 && m > 0,
                    _ => false,
                };
                if bad || !(0..=u32::MAX as i64).contains(&m) {
                    return Err(OpError::BadOperands);
                }
                h.dims[axis] = m as u32;
            }
            h.byte_len().ok_or(OpError::BadOperands)?;
            Ok(h)
        }
        OP_SQUEEZE => {
            let mask = e.attrs[0] as u32;
            if mask >> a.rank != 0 {
                return Err(OpError::BadOperands);
            }
            let mut h = a;
            h.rank = 0;
            h.dims = [0; MAX_RANK];
            for i in 0..a.rank as usize {
                if mask & (1 << i) == 0 {
                    h.dims[h.rank as usize] = a.dims[i];
                    h.rank += 1;
                } else if a.dims[i] != 1 {
                    return Err(OpError::BadOperands);
                }
            }
            Ok(h)
        }
        OP_UNSQUEEZE => {
            let mask = e.attrs[0] as u32;
            let r = a.rank as usize + mask.count_ones() as usize;
            if r > MAX_RANK || mask >> r != 0 {
                return Err(OpError::BadOperands);
            }
            let mut h = a;
            h.rank = r as u8;
            let mut k = 0;
            for i in 0..r {
                if mask & (1 << i) != 0 {
                    h.dims[i] = 1;
                } else {
                    h.dims[i] = a.dims[k];
                    k += 1;
                }
            }
            Ok(h)
        }
        OP_SHAPE => {
            let (s, t) = (e.attrs[0], e.attrs[1]);
            if s > t || t > a.rank {
                return Err(OpError::BadOperands);
            }
            Ok(Header::new(DT_INT64, &[(t - s) as u32]).unwrap())
        }
        OP_EQUAL => {
            let b = ins[1].header;
            if a.dtype != b.dtype || !matches!(a.dtype, DT_FLOAT | DT_INT32 | DT_INT64 | DT_INT8 | DT_UINT8 | DT_BOOL) {
                return Err(OpError::BadOperands);
            }
            let mut h = broadcast(&a, &b).ok_or(OpError::BadOperands)?;
            h.dtype = DT_BOOL;
            Ok(h)
        }
        OP_NOT => {
            if a.dtype != DT_BOOL {
                return Err(OpError::BadOperands);
            }
            Ok(a)
        }
        OP_WHERE => {
            let (x, y) = (ins[1].header, ins[2].header);
            // onnxruntime's Where has no int8 kernel: no honest trace holds one.
            if a.dtype != DT_BOOL
                || x.dtype != y.dtype
                || !matches!(x.dtype, DT_FLOAT | DT_INT32 | DT_INT64 | DT_UINT8 | DT_BOOL)
            {
                return Err(OpError::BadOperands);
            }
            let mut h = broadcast(&broadcast(&a, &x).ok_or(OpError::BadOperands)?, &y).ok_or(OpError::BadOperands)?;
            h.dtype = x.dtype;
            Ok(h)
        }
        _ => Err(OpError::Unsupported),
    }
}

/// One sliced axis: (axis, start, end, step) as registered.
type SliceAxis = (usize, i64, i64, i64);
/// One padded axis: (axis, begin pad, end pad).
type PadAxis = (usize, i64, i64);

/// The sliced axes of a Slice entry (see SLICE_AXES) as (axis, start, end, step), and how many.
fn slice_axes(e: &OpEntry) -> Option<([SliceAxis; 2], usize)> {
    let mut ax = [(0usize, 0i64, 0i64, 0i64); 2];
    let f = e.attrs[0];
    if (f as usize) < MAX_RANK {
        let w = |k: usize| bits_i32(&e.attrs[k..k + 4]) as i64;
        ax[0] = (f as usize, w(1), w(5), w(9));
        return Some((ax, 1));
    }
    let mask = f ^ SLICE_AXES;
    if mask >> MAX_RANK != 0 || !(1..=2).contains(&mask.count_ones()) {
        return None;
    }
    let h = |k: usize| i16::from_le_bytes([e.attrs[k], e.attrs[k + 1]]) as i64;
    let mut n = 0;
    for axis in 0..MAX_RANK {
        if mask & (1 << axis) != 0 {
            let at = 1 + 6 * n;
            ax[n] = (axis, h(at), h(at + 2), h(at + 4));
            n += 1;
        }
    }
    Some((ax, n))
}

/// The padded axes of a Pad entry (see PAD_CONSTANT) as (axis, begin, end), and how many.
fn pad_axes(e: &OpEntry) -> Option<([PadAxis; 2], usize)> {
    let mut ax = [(0usize, 0i64, 0i64); 2];
    if e.attrs[0] > PAD_EDGE {
        return None;
    }
    let h = |k: usize| i16::from_le_bytes([e.attrs[k], e.attrs[k + 1]]) as i64;
    let (lo, hi) = ((e.attrs[5] & 0xf) as usize, (e.attrs[5] >> 4) as usize);
    let mut n = 0;
    for (k, axis) in [lo, hi].into_iter().enumerate() {
        if axis == 0xf {
            continue;
        }
        // Two distinct axes in increasing order, the first before the second.
        if axis >= MAX_RANK || (n == 1 && axis <= ax[0].0) || (k == 1 && n == 0) {
            return None;
        }
        ax[n] = (axis, h(6 + 4 * k), h(8 + 4 * k));
        n += 1;
    }
    Some((ax, n))
}

/// Slice of an axis of length `d` from start `s` to end `t` by `step`, with ONNX's clamping:
/// the first index, the step and the element count.
fn slice_range(d: u32, mut s: i64, mut t: i64, step: i64) -> (i64, i64, u32) {
    let d = d as i64;
    if s < 0 {
        s += d;
    }
    if t < 0 {
        t += d;
    }
    let count = if d == 0 {
        0
    } else if step > 0 {
        s = s.clamp(0, d);
        t = t.clamp(0, d);
        // Unsigned division: the SBF backend has no signed one.
        if t > s {
            ((t - s) as u64).div_ceil(step as u64) as i64
        } else {
            0
        }
    } else if step < 0 {
        s = s.clamp(0, d - 1);
        t = t.clamp(-1, d - 1);
        if s > t {
            ((s - t) as u64).div_ceil((-step) as u64) as i64
        } else {
            0
        }
    } else {
        0
    };
    (s, step, count as u32)
}

/// The coordinates of flat index `o` in `h`.
fn coords_of(h: &Header, mut o: u64) -> [u64; MAX_RANK] {
    let mut c = [0u64; MAX_RANK];
    for i in (0..h.rank as usize).rev() {
        let d = h.dims[i] as u64;
        c[i] = o % d;
        o /= d;
    }
    c
}

/// The flat index of coordinates `c` in `h`.
fn flat_of(h: &Header, c: &[u64; MAX_RANK]) -> u64 {
    let mut idx = 0u64;
    for (d, x) in h.dims.iter().zip(c.iter()).take(h.rank as usize) {
        idx = idx * *d as u64 + x;
    }
    idx
}

/// Element index of byte offset `s` for elements of `es` bytes.
fn idx_of(s: usize, es: usize) -> usize {
    s / es
}

fn clip_bounds_i32(e: &OpEntry, lo: i32, hi: i32) -> (i32, i32) {
    let mn = if e.attrs[0] & 1 != 0 {
        bits_i32(&e.attrs[1..5])
    } else {
        lo
    };
    let mx = if e.attrs[0] & 2 != 0 {
        bits_i32(&e.attrs[5..9])
    } else {
        hi
    };
    (mn, mx)
}

/// Computes output element `o` (flat index) as raw little-endian bytes into `dst`.
fn element(e: &OpEntry, ins: &[Operand], out: &Header, o: u64, dst: &mut [u8]) -> Result<(), OpError> {
    let a = &ins[0];
    match e.op {
        OP_IDENTITY | OP_RESHAPE | OP_FLATTEN | OP_SQUEEZE | OP_UNSQUEEZE => {
            let es = dst.len();
            let s = o as usize * es;
            dst.copy_from_slice(a.at(idx_of(s, es), es)?);
        }
        OP_TRANSPOSE => {
            let r = out.rank as usize;
            let mut coords = [0u64; MAX_RANK];
            let mut rem = o;
            for i in (0..r).rev() {
                coords[i] = rem % out.dims[i] as u64;
                rem /= out.dims[i] as u64;
            }
            // Output axis i is input axis perm[i].
            let mut in_coords = [0u64; MAX_RANK];
            for (i, c) in coords.iter().enumerate().take(r) {
                in_coords[e.attrs[1 + i] as usize] = *c;
            }
            let mut idx = 0u64;
            for (d, c) in a.header.dims.iter().zip(in_coords.iter()).take(r) {
                idx = idx * *d as u64 + c;
            }
            let es = dst.len();
            let s = idx as usize * es;
            dst.copy_from_slice(a.at(idx_of(s, es), es)?);
        }
        OP_RELU => match a.header.dtype {
            DT_FLOAT => {
                let x = rd_f32(a, o as usize)?;
                // onnxruntime keeps -0 and NaN (x < 0 ? 0 : x), checked against it in ort.test.ts.
                let y = if x < 0.0 { 0.0 } else { x };
                dst.copy_from_slice(&y.to_bits().to_le_bytes());
            }
            DT_INT32 => {
                let x = rd_i32(a, o as usize)?;
                dst.copy_from_slice(&x.max(0).to_le_bytes());
            }
            _ => dst[0] = (a.at(o as usize, 1)?[0] as i8).max(0) as u8,
        },
        OP_CLIP => match a.header.dtype {
            DT_FLOAT => {
                let x = rd_f32(a, o as usize)?;
                // An absent bound is the largest finite float, as in onnxruntime: Clip(+inf) = f32::MAX.
                let mn = if e.attrs[0] & 1 != 0 {
                    f32::from_bits(bits_i32(&e.attrs[1..5]) as u32)
                } else {
                    f32::MIN
                };
                let mx = if e.attrs[0] & 2 != 0 {
                    f32::from_bits(bits_i32(&e.attrs[5..9]) as u32)
                } else {
                    f32::MAX
                };
                let y = if x < mn { mn } else { x };
                let y = if y > mx { mx } else { y };
                dst.copy_from_slice(&y.to_bits().to_le_bytes());
            }
            DT_INT32 => {
                let (mn, mx) = clip_bounds_i32(e, i32::MIN, i32::MAX);
                let y = rd_i32(a, o as usize)?.max(mn).min(mx);
                dst.copy_from_slice(&y.to_le_bytes());
            }
            DT_INT8 => {
                let (mn, mx) = clip_bounds_i32(e, -128, 127);
                dst[0] = (a.at(o as usize, 1)?[0] as i8 as i32).max(mn).min(mx) as i8 as u8;
            }
            _ => {
                let (mn, mx) = clip_bounds_i32(e, 0, 255);
                dst[0] = (a.at(o as usize, 1)?[0] as i32).max(mn).min(mx) as u8;
            }
        },
        OP_ADD | OP_SUB | OP_MUL => {
            let b = &ins[1];
            let ia = broadcast_index(out, &a.header, o);
            let ib = broadcast_index(out, &b.header, o);
            if out.dtype == DT_FLOAT {
                let (x, y) = (rd_f32(a, ia)?, rd_f32(b, ib)?);
                let r = match e.op {
                    OP_ADD => x + y,
                    OP_SUB => x - y,
                    _ => x * y,
                };
                // Any NaN here is made canonical in compute_range: its payload is not decided.
                dst.copy_from_slice(&r.to_bits().to_le_bytes());
            } else {
                let (x, y) = (rd_i32(a, ia)?, rd_i32(b, ib)?);
                let r = match e.op {
                    OP_ADD => x.wrapping_add(y),
                    OP_SUB => x.wrapping_sub(y),
                    _ => x.wrapping_mul(y),
                };
                dst.copy_from_slice(&r.to_le_bytes());
            }
        }
        OP_MATMUL_INTEGER => {
            let b = &ins[1];
            let k = a.header.dims[1] as usize;
            let n = b.header.dims[1] as usize;
            let (m_i, n_i) = ((o / n as u64) as usize, (o % n as u64) as usize);
            let za = if ins.len() > 2 { rd_int(&ins[2], 0)? } else { 0 };
            let zb = if ins.len() > 3 {
                let per_column = !is_scalar(&ins[3].header);
                rd_int(&ins[3], if per_column { n_i } else { 0 })?
            } else {
                0
            };
            let mut acc = 0i32;
            if !a.sparse && !b.sparse {
                // Whole operands: plain strided slice reads; this loop is most of a large
                // one-step's compute units. Shapes were checked against the byte lengths in infer.
                let row = &a.bytes[m_i * k..m_i * k + k];
                let (sa, sb) = (a.header.dtype == DT_INT8, b.header.dtype == DT_INT8);
                for (kk, &xa) in row.iter().enumerate() {
                    let xb = b.bytes[kk * n + n_i];
                    let x = if sa { xa as i8 as i32 } else { xa as i32 } - za;
                    let y = if sb { xb as i8 as i32 } else { xb as i32 } - zb;
                    acc = acc.wrapping_add(x.wrapping_mul(y));
                }
            } else {
                for kk in 0..k {
                    let x = rd_int(a, m_i * k + kk)? - za;
                    let y = rd_int(b, kk * n + n_i)? - zb;
                    acc = acc.wrapping_add(x.wrapping_mul(y));
                }
            }
            dst.copy_from_slice(&acc.to_le_bytes());
        }
        OP_QUANTIZE_LINEAR => {
            let x = rd_f32(a, o as usize)?;
            let scale = rd_f32(&ins[1], 0)?;
            let (qmin, qmax) = if out.dtype == DT_INT8 {
                (-128i32, 127i32)
            } else {
                (0, 255)
            };
            let zp = if ins.len() == 3 { rd_int(&ins[2], 0)? } else { 0 };
            let v = x / scale;
            let q = if v.is_nan() {
                qmin
            } else {
                let lo = (qmin - zp) as f32;
                let hi = (qmax - zp) as f32;
                let c = if v < lo {
                    lo
                } else if v > hi {
                    hi
                } else {
                    v
                };
                f32_to_i32_x86(round_half_even(c)) + zp
            };
            dst[0] = q as u8;
        }
        OP_DEQUANTIZE_LINEAR => {
            let x = rd_int(a, o as usize)?;
            let scale = rd_f32(&ins[1], 0)?;
            let zp = if ins.len() == 3 { rd_int(&ins[2], 0)? } else { 0 };
            let y = (x.wrapping_sub(zp) as f32) * scale;
            dst.copy_from_slice(&y.to_bits().to_le_bytes());
        }
        OP_CAST => {
            let src = a.header.dtype;
            let i = o as usize;
            match out.dtype {
                DT_FLOAT => {
                    let y = if src == DT_FLOAT {
                        rd_f32(a, i)?
                    } else {
                        rd_int(a, i)? as f32
                    };
                    dst.copy_from_slice(&y.to_bits().to_le_bytes());
                }
                _ => {
                    let v = if src == DT_FLOAT {
                        f32_to_i32_x86(rd_f32(a, i)?)
                    } else {
                        rd_int(a, i)?
                    };
                    // Narrowing casts keep the low bytes, as static_cast does.
                    let es = dst.len();
                    dst.copy_from_slice(&v.to_le_bytes()[..es]);
                }
            }
        }
        OP_CONCAT..=OP_PAD => element_movement(&Movement { e, ins, out }, o, dst)?,
        OP_NEG..=OP_POW => element_arith(&Movement { e, ins, out }, o, dst)?,
        OP_CONV_INTEGER => dst.copy_from_slice(&conv_element(e, ins, o)?.to_le_bytes()),
        _ => return Err(OpError::Unsupported),
    }
    Ok(())
}

/// Reads element `i` of an int32, int64, int8 or uint8 tensor widened to i64 (comparisons).
fn rd_wide(t: &Operand, i: usize) -> Result<i64, OpError> {
    match t.header.dtype {
        DT_INT64 => rd_i64(t, i),
        _ => Ok(rd_int(t, i)? as i64),
    }
}

/// element for issue 15's elementwise arithmetic and comparisons, out of line (see infer_movement).
#[inline(never)]
fn element_arith(m: &Movement, o: u64, dst: &mut [u8]) -> Result<(), OpError> {
    let (e, ins, out) = (m.e, m.ins, m.out);
    let a = &ins[0];
    let float = a.header.dtype == DT_FLOAT;
    match e.op {
        OP_NEG | OP_ABS | OP_SQRT => {
            let x = rd_i32(a, o as usize)?;
            let y = match e.op {
                // onnxruntime flips or clears the sign bit (a NaN is then made canonical in compute_range).
                OP_NEG if float => x ^ i32::MIN,
                OP_ABS if float => x & i32::MAX,
                // Two's complement wraps: -INT_MIN and |INT_MIN| are INT_MIN, as onnxruntime gives.
                OP_NEG => x.wrapping_neg(),
                OP_ABS => x.wrapping_abs(),
                _ => super::ieee::sqrt(x as u32) as i32,
            };
            dst.copy_from_slice(&y.to_le_bytes());
        }
        OP_POW => {
            let x = rd_i32(a, o as usize)?;
            let y = if float {
                // Eigen's square and cube: (x * x) * x (a NaN is made canonical in compute_range).
                let v = f32::from_bits(x as u32);
                let s = v * v;
                (if e.attrs[0] == 3 { s * v } else { s }).to_bits() as i32
            } else {
                let s = x.wrapping_mul(x);
                if e.attrs[0] == 3 {
                    s.wrapping_mul(x)
                } else {
                    s
                }
            };
            dst.copy_from_slice(&y.to_le_bytes());
        }
        OP_DIV => {
            let b = &ins[1];
            let x = rd_i32(a, broadcast_index(out, &a.header, o))?;
            let y = rd_i32(b, broadcast_index(out, &b.header, o))?;
            let q = if float {
                super::ieee::div(x as u32, y as u32) as i32
            } else {
                // onnxruntime refuses a run dividing by zero, and INT_MIN / -1 kills the process
                // (SIGFPE): no honest trace holds either.
                if y == 0 || (x == i32::MIN && y == -1) {
                    return Err(OpError::Undecidable);
                }
                // Truncation, on magnitudes: the SBF backend has no signed division.
                let q = x.unsigned_abs() / y.unsigned_abs();
                if (x < 0) != (y < 0) {
                    (q as i32).wrapping_neg()
                } else {
                    q as i32
                }
            };
            dst.copy_from_slice(&q.to_le_bytes());
        }
        _ => {
            let b = &ins[1];
            let (ia, ib) = (broadcast_index(out, &a.header, o), broadcast_index(out, &b.header, o));
            // IEEE compares for float: a NaN makes each of them false.
            let (lt, eq, gt) = if float {
                let (x, y) = (rd_f32(a, ia)?, rd_f32(b, ib)?);
                (x < y, x == y, x > y)
            } else {
                let (x, y) = (rd_wide(a, ia)?, rd_wide(b, ib)?);
                (x < y, x == y, x > y)
            };
            dst[0] = match e.op {
                OP_LESS => lt,
                OP_GREATER => gt,
                OP_LESS_OR_EQUAL => lt || eq,
                _ => gt || eq,
            } as u8;
        }
    }
    Ok(())
}

/// The op, operands and output header of element_movement, in one argument: SBF calls pass five registers.
struct Movement<'x, 'a> {
    e: &'x OpEntry,
    ins: &'x [Operand<'a>],
    out: &'x Header,
}

/// element for the data-movement and comparison ops, out of line (see infer_movement).
#[inline(never)]
fn element_movement(m: &Movement, o: u64, dst: &mut [u8]) -> Result<(), OpError> {
    let (e, ins, out) = (m.e, m.ins, m.out);
    let a = &ins[0];
    match e.op {
        OP_CONCAT => {
            let axis = e.attrs[0] as usize;
            let mut c = coords_of(out, o);
            let mut k = 0;
            while c[axis] >= ins[k].header.dims[axis] as u64 {
                c[axis] -= ins[k].header.dims[axis] as u64;
                k += 1;
            }
            let es = dst.len();
            dst.copy_from_slice(ins[k].at(flat_of(&ins[k].header, &c) as usize, es)?);
        }
        OP_GATHER => {
            let axis = e.attrs[0] as usize;
            let ih = ins[1].header;
            let inner: u64 = a.header.dims[axis + 1..a.header.rank as usize]
                .iter()
                .map(|&d| d as u64)
                .product();
            let n_idx = ih.numel();
            let dim = a.header.dims[axis] as i64;
            let (k, rest) = (o % inner, o / inner);
            let (j, outer) = (rest % n_idx, rest / n_idx);
            let mut ix = if ih.dtype == DT_INT64 {
                rd_i64(&ins[1], j as usize)?
            } else {
                rd_i32(&ins[1], j as usize)? as i64
            };
            if ix < 0 {
                ix += dim;
            }
            if ix < 0 || ix >= dim {
                // onnxruntime refuses the run: no honest trace holds this layer.
                return Err(OpError::Undecidable);
            }
            let src = (outer * dim as u64 + ix as u64) * inner + k;
            let es = dst.len();
            dst.copy_from_slice(a.at(src as usize, es)?);
        }
        OP_SLICE => {
            let (ax, n) = slice_axes(e).ok_or(OpError::BadEntry)?;
            let mut c = coords_of(out, o);
            for &(axis, s, t, step) in &ax[..n] {
                let (start, step, _) = slice_range(a.header.dims[axis], s, t, step);
                c[axis] = (start + c[axis] as i64 * step) as u64;
            }
            let es = dst.len();
            dst.copy_from_slice(a.at(flat_of(&a.header, &c) as usize, es)?);
        }
        OP_CONSTANT_OF_SHAPE => {
            let es = dst.len();
            dst.copy_from_slice(&e.attrs[1..1 + es]);
        }
        OP_PAD => {
            let (ax, n) = pad_axes(e).ok_or(OpError::BadEntry)?;
            let mut c = coords_of(out, o);
            let es = dst.len();
            for &(axis, pb, _) in &ax[..n] {
                let d = a.header.dims[axis] as i64;
                let x = c[axis] as i64 - pb;
                let x = match e.attrs[0] {
                    _ if (0..d).contains(&x) => x,
                    PAD_REFLECT if x < 0 => -x,
                    PAD_REFLECT => 2 * (d - 1) - x,
                    PAD_EDGE => x.clamp(0, d - 1),
                    _ => {
                        // The constant, its low bytes (an int64 one sign-extended from i32).
                        let v = bits_i32(&e.attrs[1..5]) as i64;
                        dst.copy_from_slice(&v.to_le_bytes()[..es]);
                        return Ok(());
                    }
                };
                c[axis] = x as u64;
            }
            dst.copy_from_slice(a.at(flat_of(&a.header, &c) as usize, es)?);
        }
        OP_SHAPE => {
            let d = a.header.dims[e.attrs[0] as usize + o as usize] as i64;
            dst.copy_from_slice(&d.to_le_bytes());
        }
        OP_EQUAL => {
            let b = &ins[1];
            let es = dtype_size(a.header.dtype).ok_or(OpError::BadOperands)?;
            let x = a.at(broadcast_index(out, &a.header, o), es)?;
            let y = b.at(broadcast_index(out, &b.header, o), es)?;
            let eq = if a.header.dtype == DT_FLOAT {
                // IEEE equality: -0 == 0, NaN equals nothing.
                f32::from_bits(bits_i32(x) as u32) == f32::from_bits(bits_i32(y) as u32)
            } else if a.header.dtype == DT_BOOL {
                (x[0] != 0) == (y[0] != 0)
            } else {
                x == y
            };
            dst[0] = eq as u8;
        }
        OP_NOT => dst[0] = (a.at(o as usize, 1)?[0] == 0) as u8,
        OP_WHERE => {
            let es = dst.len();
            let c = a.at(broadcast_index(out, &a.header, o), 1)?[0] != 0;
            let pick = if c { &ins[1] } else { &ins[2] };
            dst.copy_from_slice(pick.at(broadcast_index(out, &pick.header, o), es)?);
            // onnxruntime merges (c ? x : 0) and (c ? 0 : y), keeping the first unless it equals
            // zero: a -0 picked from x comes out +0, one from y stays -0 (ort.test.ts, movement-onnx).
            if c && out.dtype == DT_FLOAT && bits_i32(dst) as u32 == 0x8000_0000 {
                dst.copy_from_slice(&[0; 4]);
            }
        }
        _ => return Err(OpError::Unsupported),
    }
    Ok(())
}

/// Recomputes output chunk `chunk` into `out_buf`, returning the output header and chunk length.
pub fn compute_chunk(
    e: &OpEntry,
    ins: &[Operand],
    chunk: u64,
    out_buf: &mut [u8; CHUNK_BYTES],
) -> Result<(Header, usize), OpError> {
    compute_range(e, ins, chunk, 0, u32::MAX, out_buf).map(|(h, len, _)| (h, len))
}

/// Recomputes elements `from..to` (clamped to the chunk) of output chunk `chunk` into their
/// places in `out_buf`: a one-step too heavy for one transaction runs in several such slices.
/// Returns the output header, the chunk's byte length and the element count of the chunk.
pub fn compute_range(
    e: &OpEntry,
    ins: &[Operand],
    chunk: u64,
    from: u32,
    to: u32,
    out_buf: &mut [u8; CHUNK_BYTES],
) -> Result<(Header, usize, u32), OpError> {
    let out = infer(e, ins)?;
    let es = dtype_size(out.dtype).ok_or(OpError::BadOperands)?;
    let total = out.byte_len().ok_or(OpError::BadOperands)?;
    let start = chunk * CHUNK_BYTES as u64;
    if start >= total {
        return Ok((out, 0, 0));
    }
    let len = core::cmp::min(CHUNK_BYTES as u64, total - start) as usize;
    let n = (len / es) as u32;
    let first = start / es as u64;
    let (lo, hi) = (from.min(n) as usize, to.min(n) as usize);
    if e.op == OP_DYNAMIC_QUANTIZE_LINEAR {
        let span = (first, lo as u32, hi as u32);
        dql_range(e, &ins[0], &span, out_buf)?;
    } else {
        for j in lo..hi {
            element(e, ins, &out, first + j as u64, &mut out_buf[j * es..(j + 1) * es])?;
        }
    }
    // Every NaN the referee computes is the canonical one, as every committed trace's (PROTOCOL.md).
    super::ieee::canonicalize_nans(out.dtype, &mut out_buf[lo * es..hi * es]);
    Ok((out, len, n))
}

/// A ConvInteger's shapes, each as 2-D (a 1-D conv has h = 1): x [n, c, h, w], w [m, c / group,
/// kh, kw], output [n, m, oh, ow] (rank of x).
struct ConvGeometry {
    out: Header,
    c: u32,
    h: u32,
    w: u32,
    m: u32,
    cg: u32,
    kh: u32,
    kw: u32,
    oh: u32,
    ow: u32,
}

#[inline(never)]
fn conv_geometry(e: &OpEntry, ins: &[Operand]) -> Result<ConvGeometry, OpError> {
    let (x, k) = (ins[0].header, ins[1].header);
    let a = &e.attrs;
    let bad = Err(OpError::BadOperands);
    if x.dtype != DT_UINT8 || k.dtype != a[0] || x.rank != k.rank || !(3..=4).contains(&x.rank) {
        return bad;
    }
    for (i, z) in ins.iter().enumerate().skip(2) {
        if !is_scalar(&z.header) || z.header.dtype != ins[i - 2].header.dtype {
            return bad;
        }
    }
    let two = x.rank == 4;
    if !two && (a[1] != 1 || a[3] != 1 || a[5] != 0 || a[7] != 0) {
        return Err(OpError::BadEntry);
    }
    let d = |t: &Header, i: usize| t.dims[i];
    let (h, kh) = if two { (d(&x, 2), d(&k, 2)) } else { (1, 1) };
    let (w, kw) = (d(&x, x.rank as usize - 1), d(&k, k.rank as usize - 1));
    let group = u16::from_le_bytes([a[9], a[10]]) as u32;
    let (c, m, cg) = (d(&x, 1), d(&k, 0), d(&k, 1));
    if c % group != 0 || m % group != 0 || c / group != cg {
        return bad;
    }
    // Output length (len + pads - span) / stride + 1, span = dilation * (kernel - 1) + 1.
    // (length, pad before, pad after, kernel, dilation, stride) in one tuple: SBF calls pass five registers.
    let outlen = |q: &(u32, u8, u8, u32, u8, u8)| -> Option<u32> {
        let span = (q.4 as u64) * (q.3 as u64).checked_sub(1)? + 1;
        let full = q.0 as u64 + q.1 as u64 + q.2 as u64;
        Some(((full.checked_sub(span)?) / q.5 as u64 + 1) as u32)
    };
    let oh = outlen(&(h, a[5], a[7], kh, a[3], a[1])).ok_or(OpError::BadOperands)?;
    let ow = outlen(&(w, a[6], a[8], kw, a[4], a[2])).ok_or(OpError::BadOperands)?;
    let out = if two {
        Header::new(DT_INT32, &[d(&x, 0), m, oh, ow])
    } else {
        Header::new(DT_INT32, &[d(&x, 0), m, ow])
    };
    Ok(ConvGeometry {
        out: out.ok_or(OpError::BadOperands)?,
        c,
        h,
        w,
        m,
        cg,
        kh,
        kw,
        oh,
        ow,
    })
}

/// Output element `o` of a ConvInteger: the sum over its window of (x - x_zp) (w - w_zp), a padded
/// x reading as x_zp (onnxruntime pads with the zero point), in wrapping int32.
#[inline(never)]
fn conv_element(e: &OpEntry, ins: &[Operand], o: u64) -> Result<i32, OpError> {
    let g = conv_geometry(e, ins)?;
    let a = &e.attrs;
    let xzp = if ins.len() > 2 { rd_int(&ins[2], 0)? } else { 0 };
    let wzp = if ins.len() > 3 { rd_int(&ins[3], 0)? } else { 0 };
    let ow = (o % g.ow as u64) as i64;
    let oh = (o / g.ow as u64 % g.oh as u64) as i64;
    let m = (o / (g.ow as u64 * g.oh as u64) % g.m as u64) as u32;
    let n = o / (g.ow as u64 * g.oh as u64 * g.m as u64);
    let group = u16::from_le_bytes([a[9], a[10]]) as u32;
    let c0 = m / (g.m / group) * g.cg;
    let mut s = 0i32;
    for c in 0..g.cg {
        for kh in 0..g.kh {
            let ih = oh * a[1] as i64 - a[5] as i64 + kh as i64 * a[3] as i64;
            for kw in 0..g.kw {
                let iw = ow * a[2] as i64 + kw as i64 * a[4] as i64 - a[6] as i64;
                let xv = if ih < 0 || ih >= g.h as i64 || iw < 0 || iw >= g.w as i64 {
                    xzp
                } else {
                    let row = (n * g.c as u64 + (c0 + c) as u64) * g.h as u64 + ih as u64;
                    rd_int(&ins[0], (row * g.w as u64 + iw as u64) as usize)?
                };
                let wi = ((m as u64 * g.cg as u64 + c as u64) * g.kh as u64 + kh as u64) * g.kw as u64 + kw as u64;
                let wv = rd_int(&ins[1], wi as usize)?;
                s = s.wrapping_add((xv - xzp).wrapping_mul(wv - wzp));
            }
        }
    }
    Ok(s)
}

/// onnxruntime's GetQuantizationParameter for uint8: the range of x widened to take 0, the scale
/// (max - min) / 255 (1 for an all-zero x), the zero point round(clamp(0 - min / scale, 0, 255)),
/// clamped as std::max(0, std::min(255, v)) so a NaN (x holding -inf, scale inf) gives 255.
/// A NaN in x is refused: onnxruntime's vectorized min/max keeps or drops it by its lane.
#[inline(never)]
pub fn dql_params(x: &Operand) -> Result<(u32, i32), OpError> {
    // Integer keys in float order (-0 taken as +0, so the float comparisons' answer): no soft-float.
    let key = |b: u32| if b & 0x8000_0000 != 0 { !b } else { b | 0x8000_0000 };
    let (mut mn, mut mx) = (0u32, 0u32);
    for i in 0..x.header.numel() as usize {
        let b = rd_i32(x, i)? as u32;
        if b & 0x7fff_ffff > 0x7f80_0000 {
            return Err(OpError::Undecidable);
        }
        let b = if b == 0x8000_0000 { 0 } else { b };
        if key(b) < key(mn) {
            mn = b;
        }
        if key(b) > key(mx) {
            mx = b;
        }
    }
    use super::ieee::div;
    let scale = if mx == mn {
        1.0f32.to_bits()
    } else {
        // max - min: never NaN (max >= 0 >= min), correctly rounded by soft-float.
        div((f32::from_bits(mx) - f32::from_bits(mn)).to_bits(), 255.0f32.to_bits())
    };
    let izp = 0.0f32 - f32::from_bits(div(mn, scale));
    let c = if izp < 255.0 { izp } else { 255.0 };
    let c = if 0.0 < c { c } else { 0.0 };
    Ok((scale, f32_to_i32_x86(round_half_even(c))))
}

/// Elements `js` of a DynamicQuantizeLinear output chunk starting at flat element `first`: the
/// parameters once per slice, then y as QuantizeLinear(x, scale, zero point) or the parameter.
#[inline(never)]
fn dql_range(e: &OpEntry, x: &Operand, span: &(u64, u32, u32), out_buf: &mut [u8; CHUNK_BYTES]) -> Result<(), OpError> {
    // (first, from, to) in one argument: SBF calls pass five registers.
    let &(first, from, to) = span;
    let (scale, zp) = dql_params(x)?;
    for j in from..to {
        match e.attrs[0] {
            0 => {
                let q = f32::from_bits(super::ieee::div(rd_i32(x, (first + j as u64) as usize)? as u32, scale));
                // divps then clamp to [-zp, 255 - zp] (maxps/minps give the bound for NaN), round, + zp.
                let v = if q.is_nan() {
                    0
                } else {
                    let (lo, hi) = (-zp as f32, (255 - zp) as f32);
                    let c = if q < lo {
                        lo
                    } else if q > hi {
                        hi
                    } else {
                        q
                    };
                    f32_to_i32_x86(round_half_even(c)) + zp
                };
                out_buf[j as usize] = v as u8;
            }
            1 => out_buf[..4].copy_from_slice(&scale.to_le_bytes()),
            _ => out_buf[0] = zp as u8,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_half_even_ties() {
        for (x, want) in [
            (0.5f32, 0.0f32),
            (1.5, 2.0),
            (2.5, 2.0),
            (-2.5, -2.0),
            (-3.5, -4.0),
            (2.4999998, 2.0),
            (8388609.0, 8388609.0),
        ] {
            assert_eq!(round_half_even(x).to_bits(), want.to_bits(), "{x}");
        }
    }

    #[test]
    fn float_to_int_follows_cvttss2si() {
        assert_eq!(f32_to_i32_x86(f32::NAN), i32::MIN);
        assert_eq!(f32_to_i32_x86(3e9), i32::MIN);
        assert_eq!(f32_to_i32_x86(-3e9), i32::MIN);
        assert_eq!(f32_to_i32_x86(-2147483648.0), i32::MIN);
        assert_eq!(f32_to_i32_x86(-1.9), -1);
        assert_eq!(f32_to_i32_x86(2147483520.0), 2147483520);
    }

    fn entry(op: u8, refs: &[u16], attrs: &[u8]) -> OpEntry {
        let mut e = OpEntry {
            op,
            n_inputs: refs.len() as u8,
            refs: [0; MAX_OP_INPUTS],
            attrs: [0; 14],
        };
        e.refs[..refs.len()].copy_from_slice(refs);
        e.attrs[..attrs.len()].copy_from_slice(attrs);
        e
    }

    #[test]
    fn validate_refuses_what_the_one_step_cannot_do() {
        let input = REF_INPUT << 14;
        assert_eq!(entry(99, &[input], &[]).validate(0), Err(OpError::Unsupported));
        assert_eq!(
            entry(OP_MATMUL_INTEGER, &[input, input], &[DT_UINT8, DT_INT8]).validate(0),
            Err(OpError::Inexact)
        );
        assert_eq!(
            entry(OP_MATMUL_INTEGER, &[input, input], &[DT_INT8, DT_INT8]).validate(0),
            Ok(())
        );
        assert_eq!(
            entry(OP_RELU, &[3], &[]).validate(3),
            Err(OpError::BadEntry),
            "layer may not read itself"
        );
        assert_eq!(entry(OP_RELU, &[2], &[]).validate(3), Ok(()));
        assert_eq!(
            entry(OP_TRANSPOSE, &[input], &[2, 0, 0]).validate(0),
            Err(OpError::BadEntry),
            "perm repeats an axis"
        );
        assert_eq!(
            entry(OP_CAST, &[input], &[DT_INT32 + 1]).validate(0),
            Err(OpError::Unsupported)
        );
        assert_eq!(
            entry(OP_ADD, &[input], &[]).validate(0),
            Err(OpError::BadEntry),
            "Add takes two inputs"
        );
    }

    #[test]
    fn matmul_chunk_matches_direct_sum() {
        let a: std::vec::Vec<u8> = (0..6 * 5).map(|i| (i * 37 % 256) as u8).collect();
        let b: std::vec::Vec<u8> = (0..5 * 70).map(|i| (i * 91 % 256) as u8).collect();
        let ins = [
            Operand::full(Header::new(DT_INT8, &[6, 5]).unwrap(), &a),
            Operand::full(Header::new(DT_INT8, &[5, 70]).unwrap(), &b),
        ];
        let e = entry(
            OP_MATMUL_INTEGER,
            &[REF_INPUT << 14, REF_WEIGHT << 14],
            &[DT_INT8, DT_INT8],
        );
        let mut out = [0u8; CHUNK_BYTES];
        // Chunk 1 holds output elements 64..128: rows 0 and 1 of the 6x70 result.
        let (h, len) = compute_chunk(&e, &ins, 1, &mut out).unwrap();
        assert_eq!(h.dims(), &[6, 70]);
        assert_eq!(len, 256);
        for j in 0..64 {
            let o = 64 + j;
            let (r, c) = (o / 70, o % 70);
            let want: i32 = (0..5)
                .map(|k| (a[r * 5 + k] as i8 as i32) * (b[k * 70 + c] as i8 as i32))
                .sum();
            assert_eq!(i32::from_le_bytes(out[4 * j..4 * j + 4].try_into().unwrap()), want);
        }
    }

    #[test]
    fn slice_range_matches_enumeration() {
        // Every (start, end, step) over a small axis against the numpy-style walk ONNX specifies.
        for d in 0u32..6 {
            for start in -8i32..9 {
                for end in [-9, -8, -3, -1, 0, 1, 3, 5, 8, i32::MAX, i32::MIN] {
                    for step in [-3i32, -2, -1, 1, 2, 3, i32::MAX, i32::MIN] {
                        let (s0, st, n) = slice_range(d, start as i64, end as i64, step as i64);
                        let di = d as i64;
                        let (mut s, mut t) = (start as i64, end as i64);
                        if s < 0 {
                            s += di;
                        }
                        if t < 0 {
                            t += di;
                        }
                        let mut want = std::vec::Vec::new();
                        // ONNX clamps a negative step's start into the axis: [0, d - 1].
                        let mut i = if step > 0 { s.max(0) } else { s.max(0).min(di - 1) };
                        while (step > 0 && i < t.min(di)) || (step < 0 && i > t.max(-1)) {
                            want.push(i);
                            i += step as i64;
                        }
                        let got: std::vec::Vec<i64> = (0..n as i64).map(|k| s0 + k * st).collect();
                        assert_eq!(got, want, "d {d} start {start} end {end} step {step}");
                    }
                }
            }
        }
    }

    #[test]
    fn slice_two_axes_pad_and_constant_of_shape() {
        let h = |dt: u8, d: &[u32]| Header::new(dt, d).unwrap();
        let input = REF_INPUT << 14;
        // x[1:, ::-2] of a [3, 5] int8: rows 1..2, columns 4, 2, 0.
        let mut a = [0u8; 14];
        a[0] = SLICE_AXES | 0b11;
        for (k, v) in [1i16, 3, 1, -1, -6, -2].iter().enumerate() {
            a[1 + 2 * k..3 + 2 * k].copy_from_slice(&v.to_le_bytes());
        }
        let e = entry(OP_SLICE, &[input], &a);
        assert_eq!(e.validate(0), Ok(()));
        let data: std::vec::Vec<u8> = (0..15).collect();
        let ins = [Operand::full(h(DT_INT8, &[3, 5]), &data)];
        let mut out = [0u8; CHUNK_BYTES];
        let (hd, len) = compute_chunk(&e, &ins, 0, &mut out).unwrap();
        assert_eq!(hd.dims(), &[2, 3]);
        assert_eq!(&out[..len], &[9, 7, 5, 14, 12, 10]);
        a[0] = SLICE_AXES | 0b111;
        assert_eq!(
            entry(OP_SLICE, &[input], &a).validate(0),
            Err(OpError::BadEntry),
            "three axes"
        );
        // Pad [2, 3] int8: axis 1 reflect by (2, 1), axis 0 by (1, 0).
        let mut p = [0u8; 14];
        p[0] = PAD_REFLECT;
        p[5] = 0x10;
        for (k, v) in [1i16, 0, 2, 1].iter().enumerate() {
            p[6 + 2 * k..8 + 2 * k].copy_from_slice(&v.to_le_bytes());
        }
        let e = entry(OP_PAD, &[input], &p);
        assert_eq!(e.validate(0), Ok(()));
        let data = [1u8, 2, 3, 4, 5, 6];
        let ins = [Operand::full(h(DT_INT8, &[2, 3]), &data)];
        let (hd, len) = compute_chunk(&e, &ins, 0, &mut out).unwrap();
        assert_eq!(hd.dims(), &[3, 6]);
        assert_eq!(&out[..len], &[6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5]);
        p[0] = PAD_EDGE;
        let (_, len) = compute_chunk(&entry(OP_PAD, &[input], &p), &ins, 0, &mut out).unwrap();
        assert_eq!(&out[..len], &[1, 1, 1, 2, 3, 3, 1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6]);
        // Constant 7 with a crop: axis 1 by (-1, 2).
        let mut p = [0u8; 14];
        p[1] = 7;
        p[5] = 0xf1;
        p[6..8].copy_from_slice(&(-1i16).to_le_bytes());
        p[8..10].copy_from_slice(&2i16.to_le_bytes());
        let (_, len) = compute_chunk(&entry(OP_PAD, &[input], &p), &ins, 0, &mut out).unwrap();
        assert_eq!(&out[..len], &[2, 3, 7, 7, 5, 6, 7, 7]);
        p[0] = PAD_REFLECT;
        assert_eq!(
            entry(OP_PAD, &[input], &p).validate(0),
            Err(OpError::BadEntry),
            "reflect crop"
        );
        p[0] = PAD_CONSTANT;
        p[5] = 0x1f;
        assert_eq!(
            entry(OP_PAD, &[input], &p).validate(0),
            Err(OpError::BadEntry),
            "axis after none"
        );
        let mut p = [0u8; 14];
        p[0] = PAD_REFLECT;
        p[5] = 0xf1;
        p[6..8].copy_from_slice(&3i16.to_le_bytes());
        assert_eq!(
            compute_chunk(&entry(OP_PAD, &[input], &p), &ins, 0, &mut out).err(),
            Some(OpError::BadOperands),
            "reflect pad of 3 on an axis of 3"
        );
        // ConstantOfShape int64 -2 of shape [2, 3]; a negative dim is refused.
        let mut c = [0u8; 14];
        c[0] = DT_INT64;
        c[1..9].copy_from_slice(&(-2i64).to_le_bytes());
        let e = entry(OP_CONSTANT_OF_SHAPE, &[input], &c);
        assert_eq!(e.validate(0), Ok(()));
        let shape: std::vec::Vec<u8> = [2i64, 3].iter().flat_map(|v| v.to_le_bytes()).collect();
        let ins = [Operand::full(h(DT_INT64, &[2]), &shape)];
        let (hd, len) = compute_chunk(&e, &ins, 0, &mut out).unwrap();
        assert_eq!(hd.dims(), &[2, 3]);
        assert_eq!(len, 48);
        assert!(out[..48].chunks(8).all(|w| w == (-2i64).to_le_bytes()));
        let shape: std::vec::Vec<u8> = [2i64, -3].iter().flat_map(|v| v.to_le_bytes()).collect();
        let ins = [Operand::full(h(DT_INT64, &[2]), &shape)];
        assert_eq!(compute_chunk(&e, &ins, 0, &mut out).err(), Some(OpError::BadOperands));
        c[0] = 11;
        assert_eq!(
            entry(OP_CONSTANT_OF_SHAPE, &[input], &c).validate(0),
            Err(OpError::BadEntry),
            "double"
        );
    }

    #[test]
    fn data_movement_refusals() {
        let input = REF_INPUT << 14;
        let h = |dt: u8, d: &[u32]| Header::new(dt, d).unwrap();
        let infer1 = |op: u8, attrs: &[u8], hs: &[Header]| {
            let ins: std::vec::Vec<Operand> = hs.iter().map(|x| Operand::sparse(*x, &[])).collect();
            infer(&entry(op, &[input; 4][..hs.len()], attrs), &ins)
        };
        assert_eq!(
            infer1(OP_SQUEEZE, &[0b10], &[h(DT_FLOAT, &[1, 3])]),
            Err(OpError::BadOperands),
            "squeezes a dim of 3"
        );
        assert_eq!(
            infer1(OP_SQUEEZE, &[0b01], &[h(DT_FLOAT, &[1, 3])]).unwrap().dims(),
            &[3]
        );
        assert_eq!(
            infer1(OP_UNSQUEEZE, &[0b101], &[h(DT_INT64, &[7])]).unwrap().dims(),
            &[1, 7, 1]
        );
        assert_eq!(
            infer1(OP_UNSQUEEZE, &[0b1000], &[h(DT_INT64, &[7])]),
            Err(OpError::BadOperands),
            "axis 3 of a rank-2 output"
        );
        assert_eq!(
            infer1(OP_CONCAT, &[1], &[h(DT_FLOAT, &[2, 3]), h(DT_FLOAT, &[3, 3])]),
            Err(OpError::BadOperands),
            "other dims differ"
        );
        assert_eq!(
            infer1(OP_CONCAT, &[0], &[h(DT_FLOAT, &[2, 3]), h(DT_INT32, &[3, 3])]),
            Err(OpError::BadOperands),
            "dtypes differ"
        );
        assert_eq!(
            infer1(OP_GATHER, &[0], &[h(DT_FLOAT, &[5]), h(DT_FLOAT, &[2])]),
            Err(OpError::BadOperands),
            "float indices"
        );
        assert_eq!(
            infer1(OP_WHERE, &[], &[h(DT_BOOL, &[4]), h(DT_INT8, &[4]), h(DT_INT8, &[4])]),
            Err(OpError::BadOperands),
            "onnxruntime has no int8 Where"
        );
        assert_eq!(
            infer1(OP_SHAPE, &[1, 3], &[h(DT_FLOAT, &[2, 2])]),
            Err(OpError::BadOperands),
            "end past the rank"
        );
        assert_eq!(
            entry(OP_SLICE, &[input], &[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]).validate(0),
            Err(OpError::BadEntry),
            "step 0"
        );
        assert_eq!(entry(OP_CONCAT, &[input; 4], &[0]).validate(0), Ok(()));
        // An index out of range: onnxruntime refuses the run, the referee refuses the element.
        let data = [1u8, 2, 3];
        let idx = 3i64.to_le_bytes();
        let ins = [
            Operand::full(h(DT_UINT8, &[3]), &data),
            Operand::full(h(DT_INT64, &[1]), &idx),
        ];
        let mut out = [0u8; CHUNK_BYTES];
        let e = entry(OP_GATHER, &[input, input], &[0]);
        assert_eq!(compute_chunk(&e, &ins, 0, &mut out).err(), Some(OpError::Undecidable));
        let idx = (-3i64).to_le_bytes();
        let ins = [ins[0], Operand::full(h(DT_INT64, &[1]), &idx)];
        assert_eq!(compute_chunk(&e, &ins, 0, &mut out).unwrap().1, 1);
        assert_eq!(out[0], 1);
    }

    #[test]
    fn arithmetic_and_comparison_refusals_and_edges() {
        let input = REF_INPUT << 14;
        let h = |dt: u8, d: &[u32]| Header::new(dt, d).unwrap();
        let infer1 = |op: u8, hs: &[Header]| {
            let ins: std::vec::Vec<Operand> = hs.iter().map(|x| Operand::sparse(*x, &[])).collect();
            infer(&entry(op, &[input; 4][..hs.len()], &[]), &ins)
        };
        let f = h(DT_FLOAT, &[4]);
        assert_eq!(
            infer1(OP_SQRT, &[h(DT_INT32, &[4])]),
            Err(OpError::BadOperands),
            "int Sqrt"
        );
        assert_eq!(
            infer1(OP_NEG, &[h(DT_UINT8, &[4])]),
            Err(OpError::BadOperands),
            "uint8 Neg"
        );
        assert_eq!(
            infer1(OP_DIV, &[h(DT_INT64, &[4]); 2]),
            Err(OpError::BadOperands),
            "int64 Div"
        );
        assert_eq!(
            infer1(OP_LESS, &[f, h(DT_INT32, &[4])]),
            Err(OpError::BadOperands),
            "dtypes differ"
        );
        assert_eq!(
            infer1(OP_LESS, &[h(DT_BOOL, &[4]); 2]),
            Err(OpError::BadOperands),
            "bool Less"
        );
        let g = infer1(OP_GREATER_OR_EQUAL, &[h(DT_INT8, &[4, 1]), h(DT_INT8, &[3])]).unwrap();
        assert_eq!((g.dtype, g.dims()), (DT_BOOL, &[4, 3][..]));
        assert_eq!(
            entry(OP_DIV, &[input], &[]).validate(0),
            Err(OpError::BadEntry),
            "one input"
        );
        assert_eq!(
            entry(OP_SQRT, &[input; 2], &[]).validate(0),
            Err(OpError::BadEntry),
            "two inputs"
        );
        // Integer Div: truncation; a zero divisor and INT_MIN / -1 are refused (onnxruntime fails the run).
        let run = |op: u8, xs: &[i32], ys: &[i32]| {
            let (bx, by): (std::vec::Vec<u8>, std::vec::Vec<u8>) = (
                xs.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ys.iter().flat_map(|v| v.to_le_bytes()).collect(),
            );
            let hx = h(DT_INT32, &[xs.len() as u32]);
            let hy = h(DT_INT32, &[ys.len() as u32]);
            let ins = [Operand::full(hx, &bx), Operand::full(hy, &by)];
            let refs = [input; 2];
            let e = entry(op, &refs[..if ys.is_empty() { 1 } else { 2 }], &[]);
            let mut out = [0u8; CHUNK_BYTES];
            compute_chunk(&e, &ins[..e.n_inputs as usize], 0, &mut out).map(|(_, n)| {
                (0..n / 4)
                    .map(|i| bits_i32(&out[4 * i..]))
                    .collect::<std::vec::Vec<i32>>()
            })
        };
        assert_eq!(
            run(
                OP_DIV,
                &[7, -7, 7, -7, i32::MIN, i32::MIN, 0],
                &[2, 2, -2, -2, 7, 1, -3]
            ),
            Ok(vec![3, -3, -3, 3, -306783378, i32::MIN, 0])
        );
        assert_eq!(run(OP_DIV, &[1, 2], &[1, 0]), Err(OpError::Undecidable));
        assert_eq!(run(OP_DIV, &[i32::MIN], &[-1]), Err(OpError::Undecidable));
        assert_eq!(run(OP_NEG, &[i32::MIN, 5, 0], &[]), Ok(vec![i32::MIN, -5, 0]));
        assert_eq!(run(OP_ABS, &[i32::MIN, -5, 0], &[]), Ok(vec![i32::MIN, 5, 0]));
    }

    #[test]
    fn pow_and_dynamic_quantize_linear_refusals() {
        let input = REF_INPUT << 14;
        let h = |dt: u8, d: &[u32]| Header::new(dt, d).unwrap();
        let with = |op: u8, a0: u8| {
            let mut e = entry(op, &[input], &[]);
            e.attrs[0] = a0;
            e
        };
        for n in [0u8, 1, 4, 255] {
            assert_eq!(with(OP_POW, n).validate(0), Err(OpError::BadEntry), "Pow by {n}");
        }
        assert_eq!(with(OP_POW, 3).validate(0), Ok(()));
        assert_eq!(with(OP_DYNAMIC_QUANTIZE_LINEAR, 3).validate(0), Err(OpError::BadEntry));
        let sparse = |dt: u8| [Operand::sparse(h(dt, &[4]), &[])];
        assert_eq!(infer(&with(OP_POW, 2), &sparse(DT_INT8)), Err(OpError::BadOperands));
        assert_eq!(
            infer(&with(OP_DYNAMIC_QUANTIZE_LINEAR, 0), &sparse(DT_INT32)),
            Err(OpError::BadOperands)
        );
        let s = infer(&with(OP_DYNAMIC_QUANTIZE_LINEAR, 1), &sparse(DT_FLOAT)).unwrap();
        assert_eq!((s.dtype, s.rank), (DT_FLOAT, 0));
        // A NaN anywhere in x is undecidable (onnxruntime's min/max keeps or drops it by lane).
        let x: std::vec::Vec<u8> = [1.0f32, f32::NAN, -2.0, 0.5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let ins = [Operand::full(h(DT_FLOAT, &[4]), &x)];
        let mut out = [0u8; CHUNK_BYTES];
        for k in 0..3 {
            let e = with(OP_DYNAMIC_QUANTIZE_LINEAR, k);
            assert_eq!(
                compute_chunk(&e, &ins, 0, &mut out),
                Err(OpError::Undecidable),
                "output {k}"
            );
        }
        // -inf: scale inf, 0 - (-inf / inf) is NaN, std::max(0, std::min(255, NaN)) = 255.
        let x: std::vec::Vec<u8> = [f32::NEG_INFINITY, 1.0, 2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let ins = [Operand::full(h(DT_FLOAT, &[3]), &x)];
        assert_eq!(dql_params(&ins[0]), Ok((f32::INFINITY.to_bits(), 255)));
        let e = with(OP_DYNAMIC_QUANTIZE_LINEAR, 0);
        compute_chunk(&e, &ins, 0, &mut out).unwrap();
        assert_eq!(&out[..3], &[0, 255, 255]);
    }

    #[test]
    fn conv_integer_refusals() {
        let r = |k: u16, i: u16| (k << 14) | i;
        let h = |dt: u8, d: &[u32]| Header::new(dt, d).unwrap();
        let conv = |a: [u8; 11], n: usize| {
            let mut e = entry(
                OP_CONV_INTEGER,
                &[r(REF_INPUT, 0), r(REF_WEIGHT, 0), r(REF_WEIGHT, 1), r(REF_WEIGHT, 2)][..n],
                &[],
            );
            e.attrs[..11].copy_from_slice(&a);
            e
        };
        let ok = [DT_UINT8, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0];
        assert_eq!(conv(ok, 2).validate(0), Ok(()));
        let mut zero_stride = ok;
        zero_stride[2] = 0;
        assert_eq!(conv(zero_stride, 2).validate(0), Err(OpError::BadEntry));
        let mut no_group = ok;
        no_group[9] = 0;
        assert_eq!(conv(no_group, 2).validate(0), Err(OpError::BadEntry));
        let mut float_w = ok;
        float_w[0] = DT_FLOAT;
        assert_eq!(conv(float_w, 2).validate(0), Err(OpError::BadEntry));
        let run = |e: &OpEntry, hs: &[Header]| {
            let ins: std::vec::Vec<Operand> = hs.iter().map(|x| Operand::sparse(*x, &[])).collect();
            infer(e, &ins)
        };
        let (x, w) = (h(DT_UINT8, &[1, 4, 5, 5]), h(DT_UINT8, &[2, 4, 3, 3]));
        assert_eq!(
            run(&conv(ok, 2), &[x, w]).map(|o| o.dims().to_vec()),
            Ok(vec![1, 2, 3, 3])
        );
        // int8 x: onnxruntime's ConvInteger takes uint8 x only.
        assert_eq!(
            run(&conv(ok, 2), &[h(DT_INT8, &[1, 4, 5, 5]), w]),
            Err(OpError::BadOperands)
        );
        // A per-channel w zero point: onnxruntime refuses ("Non per-tensor quantization").
        let zx = h(DT_UINT8, &[]);
        assert_eq!(
            run(&conv(ok, 4), &[x, w, zx, h(DT_UINT8, &[2])]),
            Err(OpError::BadOperands)
        );
        // Channels not matching the group, a kernel longer than the padded input.
        let mut g2 = ok;
        g2[9] = 2;
        assert_eq!(run(&conv(g2, 2), &[x, w]), Err(OpError::BadOperands));
        assert_eq!(
            run(&conv(ok, 2), &[h(DT_UINT8, &[1, 4, 2, 2]), w]),
            Err(OpError::BadOperands)
        );
        // 1-D with an h stride, dilation or pad: malformed.
        let mut one_d = ok;
        one_d[5] = 1;
        let (x1, w1) = (h(DT_UINT8, &[1, 4, 9]), h(DT_UINT8, &[2, 4, 3]));
        assert_eq!(
            run(&conv(ok, 2), &[x1, w1]).map(|o| o.dims().to_vec()),
            Ok(vec![1, 2, 7])
        );
        assert_eq!(run(&conv(one_d, 2), &[x1, w1]), Err(OpError::BadEntry));
    }

    #[test]
    fn broadcast_shapes() {
        let h = |d: &[u32]| Header::new(DT_INT32, d).unwrap();
        assert_eq!(broadcast(&h(&[4, 1]), &h(&[1, 8])).unwrap().dims(), &[4, 8]);
        assert_eq!(broadcast(&h(&[2, 3, 4]), &h(&[4])).unwrap().dims(), &[2, 3, 4]);
        assert!(broadcast(&h(&[3]), &h(&[4])).is_none());
    }
}
