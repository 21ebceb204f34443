//! Registered operand shapes and the one-step cost model: whether every chunk of a layer can be decided.
//!
//! A model's shape record (state/model_shapes.rs) holds, as packed headers (tensor.rs `pack`), its
//! graph inputs in name order, its weights (each with its chunk root, so the weight root can be
//! recomputed from them) and the output of every layer. Registration refuses a layer unless the op
//! takes its registered operand shapes, produces its registered output shape, and the one-step of
//! its worst-case output chunk fits the proof buffer, the heap and, in slices, the compute limit.
//! The cost constants are mirrored in state/shapes.ts (drift test: state/shapes.test.ts).
use super::hash::Hash32;
use super::merkle;
use super::ops::{self, OpEntry, OpError, Operand, MAX_OP_INPUTS};
use super::tensor::{self, dtype_size, Header, CHUNK_BYTES, DT_INT8, MAX_RANK, PACKED_HEADER_BYTES};

/// Bytes of one weight's record: packed header, then chunk root.
pub const WEIGHT_SHAPE_BYTES: usize = PACKED_HEADER_BYTES + 32;

/// Compute units one one-step slice may plan for (of the 1.4M a transaction can request).
pub const CU_BUDGET: u64 = 1_200_000;
/// Heap bytes the openings of one one-step may allocate (of the 32 KiB bump heap).
pub const HEAP_BUDGET: u64 = 24 * 1024;
/// Proof-data bytes one one-step may need: about 580 buffer-write transactions.
pub const MAX_STEP_BYTES: u64 = 512 * 1024;
/// Proof-data bytes one write_proof_buffer transaction carries (of the 1232 a transaction holds).
pub const PROOF_WRITE_BYTES: u64 = 900;
/// Slots one transaction of a side's sequence is given to land: each waits for the one before it
/// (a buffer write appends after the previous one), about 1.6 s at 400 ms per slot.
pub const SLOTS_PER_TX: u64 = 4;
/// Challenger transactions of a game besides the bisection rounds and the one-step: its trace,
/// its two layer reveals and a spare.
pub const GAME_TXS: u64 = 4;
/// Fixed cost of a one_step transaction: account loading, parsing, the move checks and resolution.
pub const CU_BASE: u64 = 40_000;
/// Per 256-byte chunk of a whole opening: its leaf hash, its share of the tree's node hashes and the reads
/// (measured about 650 CU in a whole [K, 64] float MatMul opening, review 29; it was 400).
pub const CU_WHOLE_CHUNK: u64 = 700;
/// Per chunk of a sparse opening, plus CU_PROOF_NODE per sibling on its path.
pub const CU_SPARSE_CHUNK: u64 = 400;
pub const CU_PROOF_NODE: u64 = 200;
/// Per step of the prefix chain from an opened layer to the agreed prefix.
pub const CU_PREFIX_STEP: u64 = 250;
/// Per model input listed to rebuild the input tensor-set digest.
pub const CU_INPUT_ENTRY: u64 = 300;
/// Per output element of any op (reads, arithmetic, the store), and per multiply-add of MatMulInteger.
pub const CU_ELEMENT: u64 = 1_500;
pub const CU_MAC: u64 = 60;
/// Per input element DynamicQuantizeLinear scans for its range, once per slice.
pub const CU_SCAN: u64 = 120;
/// Per multiply-add of ConvInteger (its window index arithmetic on top of a MAC): measured 50-60 in the VM.
pub const CU_CONV_MAC: u64 = 80;
/// One term of a tolerant dot product (pure/tolerant.rs, measured about 114 in the SBF VM) and its reads.
pub const CU_DOT_TERM: u64 = 160;
/// One tolerant transcendental check (pure/transcend.rs, measured at most about 2,100 in the SBF VM).
pub const CU_TRANSCEND: u64 = 3_000;
/// Heap per sparse opening (its sibling scratch and Vec) and per chunk it holds; per weight proof.
pub const HEAP_SPARSE: u64 = 40 * 32 + 64;
pub const HEAP_PIECE: u64 = 24;
pub const HEAP_WEIGHT: u64 = 24 * 32 + 64;
/// The input list of an opening lists every graph input as u16 length, name and digest; names are
/// not registered, so the model's input names are bounded by this (the executor's compiler checks).
pub const MAX_INPUT_NAME: u64 = 64;

/// Ops whose output element i reads element i of each input of the output's element count: the
/// submitter opens those inputs sparsely (dispute/step-data.ts elementwiseChunks), others whole.
pub fn elementwise(op: u8) -> bool {
    matches!(
        op,
        ops::OP_IDENTITY
            | ops::OP_RESHAPE
            | ops::OP_FLATTEN
            | ops::OP_RELU
            | ops::OP_ADD
            | ops::OP_SUB
            | ops::OP_MUL
            | ops::OP_CLIP
            | ops::OP_QUANTIZE_LINEAR
            | ops::OP_DEQUANTIZE_LINEAR
            | ops::OP_CAST
            | ops::OP_SQUEEZE
            | ops::OP_UNSQUEEZE
            | ops::OP_EQUAL
            | ops::OP_EXP
            | ops::OP_LOG
            | ops::OP_TANH
            | ops::OP_SIGMOID
            | ops::OP_NOT
            | ops::OP_WHERE
            | ops::OP_NEG
            | ops::OP_ABS
            | ops::OP_LESS
            | ops::OP_GREATER
            | ops::OP_LESS_OR_EQUAL
            | ops::OP_GREATER_OR_EQUAL
            | ops::OP_DIV
            | ops::OP_SQRT
            | ops::OP_POW
    )
}

/// Why registration refuses a layer; each names what the one-step could not do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Refusal {
    /// A shape record does not parse: unknown dtype, rank over 6, or over u32::MAX elements.
    BadRecord,
    /// A zero point that is not one value per tensor (per-row/column zero points are not exact here).
    ZeroPoint,
    /// The op cannot take its registered operand shapes.
    Operands(OpError),
    /// The op's output from the registered operands is not the layer's registered shape.
    OutputShape,
    /// The proof data of the worst-case chunk passes MAX_STEP_BYTES.
    Buffer,
    /// The openings alone, or one output element on top of them, pass CU_BUDGET.
    Compute,
    /// The openings allocate more than HEAP_BUDGET.
    Heap,
    /// The challenger's transactions of the game, at SLOTS_PER_TX each, pass the dispute clock.
    Clock,
}

impl Refusal {
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::BadRecord => "shape record does not parse",
            Refusal::ZeroPoint => "zero point is not per-tensor (per-row/column zero points are refused)",
            Refusal::Operands(_) => "op cannot take its registered operand shapes",
            Refusal::OutputShape => "output differs from the registered shape",
            Refusal::Buffer => "one-step proof data passes the buffer limit",
            Refusal::Compute => "one-step does not fit the compute limit even in one-element slices",
            Refusal::Heap => "one-step openings pass the heap limit",
            Refusal::Clock => "one-step does not fit the dispute clock",
        }
    }
}

/// What the one-step of a layer's worst-case chunk needs: the submitter's plan.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct StepPlan {
    /// Proof-data bytes in the buffer.
    pub bytes: u64,
    /// Compute units every slice spends before computing elements (openings, chains, base).
    pub fixed_cu: u64,
    /// Compute units per output element.
    pub element_cu: u64,
    /// Output elements in a full chunk.
    pub elements: u32,
    /// Elements one slice may compute within CU_BUDGET (the `max_elements` to submit).
    pub slice: u32,
    /// Heap bytes the openings allocate.
    pub heap: u64,
    /// Transactions the challenger sends, one after another, in a game that ends in this chunk's
    /// one-step: its moves, then the proof buffer's creation and writes, then every slice. They all
    /// run on its clock, so the clock must give each SLOTS_PER_TX slots (check_clock).
    pub txs: u64,
}

/// A model's shape record: `inputs` packed headers, `weights` (header, chunk root), `layers` headers.
pub struct ShapeTable<'a> {
    pub bytes: &'a [u8],
    pub inputs: u32,
    pub weights: u32,
    pub layers: u32,
}

fn header_at(b: &[u8], at: usize) -> Option<Header> {
    let raw: &[u8; PACKED_HEADER_BYTES] = b.get(at..at + PACKED_HEADER_BYTES)?.try_into().ok()?;
    let h = Header::unpack(raw);
    if h.rank as usize > MAX_RANK || h.dims[h.rank as usize..].iter().any(|&d| d != 0) {
        return None;
    }
    h.byte_len()?;
    Some(h)
}

impl<'a> ShapeTable<'a> {
    pub fn len_for(inputs: u32, weights: u32, layers: u32) -> u64 {
        (inputs as u64 + layers as u64) * PACKED_HEADER_BYTES as u64 + weights as u64 * WEIGHT_SHAPE_BYTES as u64
    }
    pub fn complete(&self) -> bool {
        self.bytes.len() as u64 == Self::len_for(self.inputs, self.weights, self.layers)
    }
    fn weights_at(&self) -> usize {
        self.inputs as usize * PACKED_HEADER_BYTES
    }
    fn layers_at(&self) -> usize {
        self.weights_at() + self.weights as usize * WEIGHT_SHAPE_BYTES
    }
    pub fn input(&self, i: u32) -> Option<Header> {
        if i >= self.inputs {
            return None;
        }
        header_at(self.bytes, i as usize * PACKED_HEADER_BYTES)
    }
    pub fn weight(&self, i: u32) -> Option<(Header, &'a [u8])> {
        if i >= self.weights {
            return None;
        }
        let at = self.weights_at() + i as usize * WEIGHT_SHAPE_BYTES;
        let root = self.bytes.get(at + PACKED_HEADER_BYTES..at + WEIGHT_SHAPE_BYTES)?;
        Some((header_at(self.bytes, at)?, root))
    }
    pub fn layer(&self, i: u32) -> Option<Header> {
        if i >= self.layers {
            return None;
        }
        header_at(self.bytes, self.layers_at() + i as usize * PACKED_HEADER_BYTES)
    }
    /// The registered header of operand `i` of `e`.
    pub fn operand(&self, e: &OpEntry, i: usize) -> Option<Header> {
        let idx = e.ref_index(i) as u32;
        match e.ref_kind(i) {
            ops::REF_LAYER => self.layer(idx),
            ops::REF_INPUT => self.input(idx),
            ops::REF_WEIGHT => self.weight(idx).map(|(h, _)| h),
            _ => None,
        }
    }

    /// The weight root the registered weight records commit to (the executor's compiler puts one
    /// empty int8 tensor in a model without weights).
    pub fn weight_root(&self) -> Option<Hash32> {
        let empty = Header::new(DT_INT8, &[0]).unwrap();
        if self.weights == 0 {
            let d = tensor::digest_from_root(&empty, &tensor::chunk_root(&[]));
            return Some(merkle::root_streaming(1, |_| merkle::leaf_hash(&d)));
        }
        for i in 0..self.weights {
            self.weight(i)?;
        }
        Some(merkle::root_streaming(self.weights as u64, |i| {
            let (h, root) = self.weight(i as u32).unwrap();
            let root: &[u8; 32] = root.try_into().unwrap();
            merkle::leaf_hash(&tensor::digest_from_root(&h, root))
        }))
    }
}

fn serialized_header(h: &Header) -> u64 {
    2 + 8 * h.rank as u64
}

/// Checks layer `layer` (op entry `e`) against the registered shapes and plans its worst-case chunk.
pub fn check_layer(e: &OpEntry, t: &ShapeTable, layer: u32) -> Result<StepPlan, Refusal> {
    let n = e.n_inputs as usize;
    let mut hs = [Header::default(); MAX_OP_INPUTS];
    for (i, h) in hs.iter_mut().enumerate().take(n) {
        *h = t.operand(e, i).ok_or(Refusal::BadRecord)?;
    }
    let out_reg = t.layer(layer).ok_or(Refusal::BadRecord)?;
    let zero_points = match e.op {
        // MatMulInteger's b zero point may be per column: infer checks it is [N].
        ops::OP_MATMUL_INTEGER => 2..n.min(3),
        ops::OP_CONV_INTEGER => 2..n,
        ops::OP_QUANTIZE_LINEAR | ops::OP_DEQUANTIZE_LINEAR => 2.min(n)..n,
        _ => 0..0,
    };
    for h in &hs[zero_points] {
        if h.numel() != 1 {
            return Err(Refusal::ZeroPoint);
        }
    }
    let empty = Operand::sparse(Header::default(), &[]);
    let mut ins = [empty; MAX_OP_INPUTS];
    for (slot, h) in ins.iter_mut().zip(hs.iter()).take(n) {
        *slot = Operand::sparse(*h, &[]);
    }
    let out = if e.op == ops::OP_CONSTANT_OF_SHAPE {
        // Its dims are data, not known here: the registered ones, if the shape operand holds as
        // many values as their rank (the one-step reads the values and convicts any other claim).
        let s = hs[0];
        let fits = s.dtype == tensor::DT_INT64 && s.rank == 1 && s.dims[0] == out_reg.rank as u32;
        if !fits || out_reg.dtype != e.attrs[0] {
            return Err(Refusal::Operands(OpError::BadOperands));
        }
        out_reg
    } else {
        ops::infer(e, &ins[..n]).map_err(Refusal::Operands)?
    };
    if out != out_reg {
        return Err(Refusal::OutputShape);
    }
    let mut p = plan(e, &hs[..n], &out, t.inputs, layer)?;
    let chunks = out.chunk_count().ok_or(Refusal::BadRecord)?;
    p.txs = challenger_txs(&p, t.layers, chunks);
    Ok(p)
}

/// The challenger's sequential transactions in a game on a layer of a `layers`-layer model whose
/// output has `chunks` chunks: its moves (one per bisection round, GAME_TXS besides), the proof
/// buffer's creation and its writes, and the one-step's slices.
pub fn challenger_txs(p: &StepPlan, layers: u32, chunks: u64) -> u64 {
    let moves = GAME_TXS + merkle::depth_for(layers as u64) as u64 + merkle::depth_for(chunks) as u64;
    let writes = p.bytes.div_ceil(PROOF_WRITE_BYTES);
    let slices = (p.elements as u64).div_ceil(core::cmp::max(1, p.slice) as u64);
    moves + 1 + writes + slices
}

/// The clock slots a game ending in the planned one-step needs (SLOTS_PER_TX per transaction);
/// Refusal::Clock when that passes `clock_slots`.
pub fn check_clock(p: &StepPlan, clock_slots: u64) -> Result<u64, Refusal> {
    let need = p.txs.saturating_mul(SLOTS_PER_TX);
    if need > clock_slots {
        return Err(Refusal::Clock);
    }
    Ok(need)
}

/// The cost of the one-step of the worst-case chunk of an op with operands `hs` and output `out`.
pub fn plan(e: &OpEntry, hs: &[Header], out: &Header, inputs: u32, layer: u32) -> Result<StepPlan, Refusal> {
    let osz = dtype_size(out.dtype).ok_or(Refusal::BadRecord)? as u64;
    let total = out.numel();
    let elements = core::cmp::min(CHUNK_BYTES as u64 / osz, total) as u32;
    let mut p = StepPlan {
        fixed_cu: CU_BASE,
        elements,
        ..StepPlan::default()
    };
    for (i, h) in hs.iter().enumerate() {
        let len = h.byte_len().ok_or(Refusal::BadRecord)?;
        let chunks = h.chunk_count().ok_or(Refusal::BadRecord)?;
        let isz = dtype_size(h.dtype).ok_or(Refusal::BadRecord)? as u64;
        // Where the operand comes from: its proof of membership.
        match e.ref_kind(i) {
            ops::REF_LAYER => {
                let steps = (layer - e.ref_index(i) as u32) as u64;
                p.bytes += 32 + 4 + 32 * steps;
                p.fixed_cu += CU_PREFIX_STEP * steps;
            }
            ops::REF_INPUT => {
                p.bytes += 4 + inputs as u64 * (2 + MAX_INPUT_NAME + 32);
                p.fixed_cu += CU_INPUT_ENTRY * inputs as u64;
            }
            _ => {
                p.bytes += 1 + 32 * 24 + 32;
                p.fixed_cu += CU_PROOF_NODE * 24;
                p.heap += HEAP_WEIGHT;
            }
        }
        // The opening: sparse exactly when the submitter opens it sparsely.
        if elementwise(e.op) && h.numel() == total && len > CHUNK_BYTES as u64 {
            let k = core::cmp::min((elements as u64 * isz).div_ceil(CHUNK_BYTES as u64) + 1, chunks);
            let depth = merkle::depth_for(chunks) as u64;
            p.bytes += 1 + serialized_header(h) + 32 + 2 + k * (4 + 1 + 32 * depth + CHUNK_BYTES as u64);
            p.fixed_cu += k * (CU_SPARSE_CHUNK + CU_PROOF_NODE * depth);
            p.heap += HEAP_SPARSE + HEAP_PIECE * k;
        } else {
            p.bytes += 1 + serialized_header(h) + 4 + len;
            p.fixed_cu += CU_WHOLE_CHUNK * chunks;
        }
    }
    if e.op == ops::OP_DYNAMIC_QUANTIZE_LINEAR {
        p.fixed_cu += CU_SCAN * hs[0].numel();
    }
    p.element_cu = CU_ELEMENT
        + match e.op {
            ops::OP_MATMUL_INTEGER => CU_MAC * hs[0].dims[1] as u64,
            // One multiply-add per window element: c / group x kh x kw (w's dims past the first).
            ops::OP_CONV_INTEGER => CU_CONV_MAC * (hs[1].numel() / core::cmp::max(1, hs[1].dims[0] as u64)),
            ops::OP_EXP..=ops::OP_SIGMOID => CU_TRANSCEND,
            ops::OP_MATMUL => CU_DOT_TERM * hs[0].dims[1] as u64,
            _ => 0,
        };
    if ops::is_tolerant(e.op) {
        // A tolerant one-step judges one element, the first where the two sides' chunks differ; both
        // chunks come with the openings and are hashed against the disputed leaves.
        p.elements = 1;
        p.bytes += 2 * CHUNK_BYTES as u64;
        p.fixed_cu += 2 * CU_WHOLE_CHUNK;
    }
    if p.bytes > MAX_STEP_BYTES {
        return Err(Refusal::Buffer);
    }
    if p.heap > HEAP_BUDGET {
        return Err(Refusal::Heap);
    }
    if p.fixed_cu + p.element_cu > CU_BUDGET {
        return Err(Refusal::Compute);
    }
    p.slice = core::cmp::max(
        1,
        core::cmp::min(p.elements as u64, (CU_BUDGET - p.fixed_cu) / p.element_cu),
    ) as u32;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pure::ops::{OP_MATMUL_INTEGER, REF_INPUT, REF_WEIGHT};
    use crate::pure::tensor::DT_INT32;

    fn table(inputs: &[Header], weights: &[Header], layers: &[Header]) -> std::vec::Vec<u8> {
        let mut b = std::vec::Vec::new();
        for h in inputs {
            b.extend_from_slice(&h.pack());
        }
        for h in weights {
            b.extend_from_slice(&h.pack());
            b.extend_from_slice(&[7u8; 32]);
        }
        for h in layers {
            b.extend_from_slice(&h.pack());
        }
        b
    }
    fn mm(n_inputs: u8) -> OpEntry {
        let mut e = OpEntry {
            op: OP_MATMUL_INTEGER,
            n_inputs,
            refs: [
                REF_INPUT << 14,
                REF_WEIGHT << 14,
                (REF_WEIGHT << 14) | 1,
                (REF_WEIGHT << 14) | 2,
            ],
            attrs: [0; 14],
        };
        e.attrs[0] = DT_INT8;
        e.attrs[1] = DT_INT8;
        e
    }
    fn h(dtype: u8, d: &[u32]) -> Header {
        Header::new(dtype, d).unwrap()
    }

    #[test]
    fn per_row_zero_point_is_refused_per_column_taken() {
        // Weights: b, a per-row a zero point [8], a per-column b zero point [32], a scalar one.
        let b = table(
            &[h(DT_INT8, &[8, 32])],
            &[
                h(DT_INT8, &[32, 32]),
                h(DT_INT8, &[8]),
                h(DT_INT8, &[32]),
                h(DT_INT8, &[]),
            ],
            &[h(DT_INT32, &[8, 32])],
        );
        let t = ShapeTable {
            bytes: &b,
            inputs: 1,
            weights: 4,
            layers: 1,
        };
        assert!(t.complete());
        assert_eq!(
            check_layer(&mm(4), &t, 0),
            Err(Refusal::ZeroPoint),
            "per-row a zero point"
        );
        let mut per_column = mm(4);
        per_column.refs[2] = (REF_WEIGHT << 14) | 3;
        assert!(check_layer(&per_column, &t, 0).is_ok(), "per-column b zero point");
        let mut wrong_len = per_column;
        wrong_len.refs[3] = (REF_WEIGHT << 14) | 1;
        assert_eq!(
            check_layer(&wrong_len, &t, 0),
            Err(Refusal::Operands(OpError::BadOperands)),
            "b zero point of 8 for 32 columns"
        );
        let p = check_layer(&mm(2), &t, 0).unwrap();
        assert_eq!(p.elements, 64);
        assert!(p.slice == 64, "{p:?}");
    }

    #[test]
    fn constant_of_shape_takes_the_registered_dims_of_its_shape_operand_rank() {
        use crate::pure::ops::{OP_CONSTANT_OF_SHAPE, REF_LAYER};
        use crate::pure::tensor::{DT_FLOAT, DT_INT64};
        let e = |dt: u8| {
            let mut attrs = [0u8; 14];
            attrs[0] = dt;
            OpEntry {
                op: OP_CONSTANT_OF_SHAPE,
                n_inputs: 1,
                refs: [REF_LAYER << 14, 0, 0, 0],
                attrs,
            }
        };
        let t = |shape: Header, out: Header| table(&[h(DT_FLOAT, &[4])], &[], &[shape, out]);
        let at = |b: &[u8]| {
            check_layer(
                &e(DT_FLOAT),
                &ShapeTable {
                    bytes: b,
                    inputs: 1,
                    weights: 0,
                    layers: 2,
                },
                1,
            )
        };
        assert!(at(&t(h(DT_INT64, &[2]), h(DT_FLOAT, &[3, 5]))).is_ok());
        let refused = Err(Refusal::Operands(OpError::BadOperands));
        assert_eq!(
            at(&t(h(DT_INT64, &[3]), h(DT_FLOAT, &[3, 5]))),
            refused,
            "rank 2 from 3 values"
        );
        assert_eq!(at(&t(h(DT_INT32, &[2]), h(DT_FLOAT, &[3, 5]))), refused, "int32 shape");
        assert_eq!(
            at(&t(h(DT_INT64, &[2]), h(DT_INT32, &[3, 5]))),
            refused,
            "dtype off the value's"
        );
    }

    #[test]
    fn oversized_matmul_is_refused_and_a_wrong_output_shape_too() {
        let b = table(
            &[h(DT_INT8, &[1, 12288])],
            &[h(DT_INT8, &[12288, 64])],
            &[h(DT_INT32, &[1, 64])],
        );
        let t = ShapeTable {
            bytes: &b,
            inputs: 1,
            weights: 1,
            layers: 1,
        };
        assert_eq!(check_layer(&mm(2), &t, 0), Err(Refusal::Buffer), "768 KiB of weights");
        let b = table(
            &[h(DT_INT8, &[1, 7680])],
            &[h(DT_INT8, &[7680, 64])],
            &[h(DT_INT32, &[1, 64])],
        );
        let t = ShapeTable {
            bytes: &b,
            inputs: 1,
            weights: 1,
            layers: 1,
        };
        assert_eq!(
            check_layer(&mm(2), &t, 0),
            Err(Refusal::Compute),
            "480 KiB: one element passes the budget"
        );
        let b = table(
            &[h(DT_INT8, &[1, 2048])],
            &[h(DT_INT8, &[2048, 64])],
            &[h(DT_INT32, &[1, 64])],
        );
        let t = ShapeTable {
            bytes: &b,
            inputs: 1,
            weights: 1,
            layers: 1,
        };
        let p = check_layer(&mm(2), &t, 0).unwrap();
        assert!(p.slice >= 1 && p.slice < 64, "{p:?}");
        // 128 KiB of weights: ~146 writes and ~10 slices, so a 100-slot clock cannot hold the game.
        assert!(p.txs > 150 && p.txs < 180, "{p:?}");
        assert_eq!(check_clock(&p, 100), Err(Refusal::Clock));
        assert_eq!(check_clock(&p, p.txs * SLOTS_PER_TX), Ok(p.txs * SLOTS_PER_TX));
        let b = table(
            &[h(DT_INT8, &[1, 2048])],
            &[h(DT_INT8, &[2048, 64])],
            &[h(DT_INT32, &[64, 1])],
        );
        let t = ShapeTable {
            bytes: &b,
            inputs: 1,
            weights: 1,
            layers: 1,
        };
        assert_eq!(check_layer(&mm(2), &t, 0), Err(Refusal::OutputShape));
    }
}
