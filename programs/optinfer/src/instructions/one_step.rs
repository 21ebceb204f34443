//! Anyone: recomputes the disputed chunk (or header) from opened inputs in a proof buffer and
//! resolves the dispute: the executor loses exactly when its chunk differs from the recomputation.
use anchor_lang::prelude::*;

use super::claim_timeout::finish;
use super::reveal_layer::pack_header;
use crate::errors::OptinferError;
use crate::events::{OneStepExecuted, OneStepProgress};
use crate::game::{charge_clock, now_slot};
use crate::pure::ops::{self, OpEntry, Operand, MAX_OP_INPUTS};
use crate::pure::tensor::{self, Header, CHUNK_BYTES};
use crate::pure::{merkle, trace};
use crate::state::*;
use alloc::vec::Vec;

#[derive(Accounts)]
pub struct OneStep {
    pub submitter: Signer,
    #[account(mut, seeds = [seeds::DISPUTE, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes()], bump = dispute.bump)]
    pub dispute: Account<Dispute>,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, address = dispute.batch @ OptinferError::WrongAccount)]
    pub batch: Account<Batch>,
    #[account(mut, seeds = [seeds::OPERATOR, dispute.executor.as_ref()], bump = executor_operator.bump)]
    pub executor_operator: Account<Operator>,
    #[account(mut, seeds = [seeds::OPERATOR, dispute.challenger.as_ref()], bump = challenger_operator.bump)]
    pub challenger_operator: Account<Operator>,
    #[account(mut, address = config.treasury @ OptinferError::WrongAccount)]
    pub treasury: UncheckedAccount,
    #[account(address = dispute.model @ OptinferError::WrongAccount)]
    pub model: Account<Model>,
    #[account(constraint = ops_page.model == *model.address() @ OptinferError::WrongOpsPage)]
    pub ops_page: Account<OpsPage>,
    #[account(constraint = buffer.dispute == *dispute.address() @ OptinferError::BufferMismatch)]
    pub buffer: ProofBufferAccount,
}

/// Cursor over the proof buffer; every read is bounds-checked into BadStepData.
pub struct Reader<'a> {
    pub b: &'a [u8],
    pub at: usize,
}

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).ok_or(OptinferError::BadStepData)?;
        if end > self.b.len() {
            return Err(OptinferError::BadStepData.into());
        }
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    pub fn u32(&mut self) -> Result<u32> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    pub fn h32(&mut self) -> Result<&'a [u8; 32]> {
        Ok(self.take(32)?.try_into().unwrap())
    }
    /// header (dtype, rank, u64 dims) || u32 byte length || bytes
    pub fn tensor(&mut self) -> Result<Operand<'a>> {
        let (header, used) = Header::parse(&self.b[self.at..]).ok_or(OptinferError::BadHeader)?;
        self.at += used;
        let n = self.u32()? as usize;
        let bytes = self.take(n)?;
        if header.byte_len() != Some(n as u64) {
            return Err(OptinferError::BadHeader.into());
        }
        Ok(Operand::full(header, bytes))
    }

    /// An opened tensor that must have digest `want`: mode 0 is the whole tensor (`tensor`),
    /// mode 1 only some chunks: header || chunkRoot || u16 n || n x (u32 index || u8 depth ||
    /// siblings || chunk bytes), each chunk proven against chunkRoot. Sparse openings let a
    /// one-step read a few chunks of a tensor far larger than a proof buffer.
    pub fn opened(&mut self, want: &[u8; 32]) -> Result<Operand<'a>> {
        if self.u8()? == 0 {
            let t = self.tensor()?;
            if &tensor::tensor_digest(&t.header, t.bytes) != want {
                return Err(OptinferError::InvalidProof.into());
            }
            return Ok(t);
        }
        let (header, used) = Header::parse(&self.b[self.at..]).ok_or(OptinferError::BadHeader)?;
        self.at += used;
        let root = *self.h32()?;
        if &tensor::digest_from_root(&header, &root) != want {
            return Err(OptinferError::InvalidProof.into());
        }
        let total = header.byte_len().ok_or(OptinferError::BadHeader)?;
        let count = header.chunk_count().ok_or(OptinferError::BadHeader)?;
        let n = self.u16()? as usize;
        let mut pieces = Vec::with_capacity(n);
        let mut sib = alloc::vec![[0u8; 32]; 40];
        for _ in 0..n {
            let index = self.u32()?;
            let depth = self.u8()? as usize;
            if index as u64 >= count || depth > sib.len() {
                return Err(OptinferError::BadStepData.into());
            }
            for s in sib.iter_mut().take(depth) {
                *s = *self.h32()?;
            }
            let start = index as u64 * CHUNK_BYTES as u64;
            let len = core::cmp::min(CHUNK_BYTES as u64, total - start) as usize;
            let bytes = self.take(len)?;
            if !merkle::verify(&root, &merkle::leaf_hash(bytes), index as u64, count, &sib[..depth]) {
                return Err(OptinferError::InvalidProof.into());
            }
            pieces.push((index, bytes));
        }
        // One instruction, one bump-allocated heap that is never freed: leaking ties the pieces
        // to the buffer's lifetime without copying chunk bytes.
        Ok(Operand::sparse(header, pieces.leak()))
    }
}

/// Opens every input of the op from the buffer and checks it against what both sides agreed
/// on (earlier layers), the job record (model inputs) or the model (weights).
fn open_inputs<'a>(
    e: &OpEntry,
    r: &mut Reader<'a>,
    d: &Dispute,
    m: &Model,
    out: &mut [Operand<'a>; MAX_OP_INPUTS],
) -> Result<()> {
    let agreed = d.agreed.get();
    for (i, slot) in out.iter_mut().enumerate().take(e.n_inputs as usize) {
        let idx = e.ref_index(i) as u32;
        match e.ref_kind(i) {
            ops::REF_LAYER => {
                // Walk the prefix chain from layer idx up to the agreed prefix.
                if idx >= agreed {
                    return Err(OptinferError::LayerNotAgreed.into());
                }
                let mut p = *r.h32()?;
                let c = r.u32()?;
                if c != agreed - idx {
                    return Err(OptinferError::BadStepData.into());
                }
                let first = *r.h32()?;
                p = trace::step(&p, idx, &first);
                for k in 1..c {
                    p = trace::step(&p, idx + k, r.h32()?);
                }
                if p != d.agreed_prefix {
                    return Err(OptinferError::PrefixMismatch.into());
                }
                *slot = r.opened(&first)?;
            }
            ops::REF_INPUT => {
                let count = r.u32()? as usize;
                if count == 0 || count > 16 || idx as usize >= count {
                    return Err(OptinferError::BadStepData.into());
                }
                let mut names: [&[u8]; 16] = [&[]; 16];
                let mut digs: [&[u8; 32]; 16] = [&[0u8; 32]; 16];
                for k in 0..count {
                    let l = r.u16()? as usize;
                    names[k] = r.take(l)?;
                    digs[k] = r.h32()?;
                }
                let set = tensor::tensor_set_digest((0..count).map(|k| (names[k], digs[k])));
                if set != d.input_digest {
                    return Err(OptinferError::InvalidProof.into());
                }
                *slot = r.opened(digs[idx as usize])?;
            }
            _ => {
                let n = r.u8()? as usize;
                let mut sib = alloc::vec![[0u8; 32]; 24];
                if n > sib.len() {
                    return Err(OptinferError::BadStepData.into());
                }
                for s in sib.iter_mut().take(n) {
                    *s = *r.h32()?;
                }
                // The weight's digest comes first so the tensor can be opened sparsely against it.
                let dig = *r.h32()?;
                if !merkle::verify(
                    &m.weight_root,
                    &merkle::leaf_hash(&dig),
                    idx as u64,
                    m.weight_count.get() as u64,
                    &sib[..n],
                ) {
                    return Err(OptinferError::InvalidProof.into());
                }
                *slot = r.opened(&dig)?;
            }
        }
    }
    Ok(())
}

fn op_error(e: ops::OpError) -> OptinferError {
    match e {
        ops::OpError::MissingChunk => OptinferError::MissingChunk,
        _ => OptinferError::BadOperands,
    }
}

/// `max_elements` = 0 computes the whole chunk; otherwise at most that many further output
/// elements are computed and kept in the dispute, and the call that completes the chunk resolves.
pub fn one_step(ctx: &mut Context<OneStep>, max_elements: u32) -> Result<()> {
    let now = now_slot()?;
    let a = &mut ctx.accounts;
    {
        let d = &mut a.dispute;
        if d.phase == PHASE_RESOLVED {
            return Err(OptinferError::DisputeResolved.into());
        }
        if d.phase != PHASE_ONE_STEP {
            return Err(OptinferError::WrongPhase.into());
        }
        // Anyone may submit, but only while the side to move still has time.
        let turn = d.turn;
        charge_clock(d, turn, now)?;
    }
    let d = &a.dispute;
    let layer = d.disagree.get();
    let page_index = layer as usize / OPS_PER_PAGE;
    if a.ops_page.page.get() as usize != page_index {
        return Err(OptinferError::WrongOpsPage.into());
    }
    let entry = OpEntry::parse(&a.ops_page.entries[layer as usize % OPS_PER_PAGE]);
    let buf = a.buffer.as_slice();
    let mut r = Reader { b: buf, at: 0 };
    let empty = Operand::full(Header::default(), &[]);
    let mut ins = [empty; MAX_OP_INPUTS];
    open_inputs(&entry, &mut r, d, &a.model, &mut ins)?;
    let ins = &ins[..entry.n_inputs as usize];

    let chunk = d.chunk_index.get();
    let exec_header = d.header[0];
    let executor_correct = if chunk == CHUNK_HEADER {
        let h = ops::infer(&entry, ins).map_err(op_error)?;
        pack_header(&h) == exec_header
    } else {
        let mut out = d.step_out;
        let from = d.step_done.get();
        let to = if max_elements == 0 {
            u32::MAX
        } else {
            from.saturating_add(max_elements)
        };
        let (h, len, n) = ops::compute_range(&entry, ins, chunk as u64, from, to, &mut out).map_err(op_error)?;
        let done = to.min(n);
        if done < n {
            let key = *d.address();
            let d = &mut a.dispute;
            d.step_out = out;
            d.step_done = done.into();
            emit!(OneStepProgress {
                dispute: key,
                done,
                of: n
            });
            return Ok(());
        }
        let expected_leaf = if (chunk as u64) < h.chunk_count().unwrap_or(0) {
            merkle::leaf_hash(&out[..len])
        } else {
            merkle::ZERO
        };
        pack_header(&h) == exec_header && d.node[0] == expected_leaf
    };
    let key = *d.address();
    emit!(OneStepExecuted {
        dispute: key,
        layer,
        chunk_index: chunk,
        executor_correct
    });
    finish(
        &mut a.dispute,
        &a.config,
        &mut a.batch,
        &mut a.executor_operator,
        &mut a.challenger_operator,
        &a.treasury,
        if executor_correct {
            SIDE_EXECUTOR
        } else {
            SIDE_CHALLENGER
        },
    )
}
