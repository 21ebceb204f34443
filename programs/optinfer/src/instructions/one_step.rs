//! Anyone: recomputes the disputed chunk (or header) from opened inputs in a proof buffer and
//! resolves the dispute: the executor loses exactly when its chunk differs from the recomputation,
//! or when its header or an opened operand's header is not the registered one (docs/PROGRAM.md).
//! On a tolerant model's float layer the executor's opened chunk is judged within a bound instead.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::{OneStepExecuted, OneStepProgress};
use crate::game::{charge_clock, finish, require_move, running_slot, Move};
use crate::pure::ops::{self, OpEntry, Operand, MAX_OP_INPUTS};
use crate::pure::reader::Reader;
use crate::pure::tensor::{self, Header};
use crate::pure::tolerant::Arith;
use crate::pure::{merkle, trace};
use crate::state::*;

#[derive(Accounts)]
pub struct OneStep {
    pub submitter: Signer,
    #[account(mut, seeds = [seeds::DISPUTE, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes(), dispute.challenger.as_ref()], bump = dispute.bump)]
    pub dispute: Account<Dispute>,
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, address = dispute.batch @ OptinferError::WrongAccount)]
    pub batch: Account<Batch>,
    #[account(mut, seeds = [seeds::OPERATOR, dispute.executor.as_ref()], bump = executor_operator.bump)]
    pub executor_operator: Account<Operator>,
    #[account(mut, seeds = [seeds::OPERATOR, dispute.challenger.as_ref()], bump = challenger_operator.bump)]
    pub challenger_operator: Account<Operator>,
    #[account(mut, seeds = [seeds::VAULT], bump = vault.bump)]
    pub vault: Account<Vault>,
    #[account(mut, seeds = [seeds::JOB, dispute.batch.as_ref(), &dispute.job_index.get().to_le_bytes()], bump = job.bump)]
    pub job: Account<Job>,
    #[account(address = dispute.model @ OptinferError::WrongAccount)]
    pub model: Account<Model>,
    #[account(constraint = ops_page.model == *model.address() @ OptinferError::WrongOpsPage)]
    pub ops_page: Account<OpsPage>,
    #[account(constraint = buffer.dispute == *dispute.address() @ OptinferError::BufferMismatch)]
    pub buffer: ProofBufferAccount,
    #[account(seeds = [seeds::SHAPES, model.address().as_ref()], bump = shapes.bump)]
    pub shapes: ModelShapesAccount,
}

/// Opens every input of the op from the buffer and checks it against what both sides agreed
/// on (earlier layers), the job record (model inputs) or the model (weights). False when the
/// signed job has no input at a place the op reads (fewer inputs than the model's, the whole set
/// proven against the record): no honest executor signs such a job, so it convicts the executor.
#[inline(never)]
fn open_inputs<'a>(
    e: &OpEntry,
    r: &mut Reader<'a>,
    d: &Dispute,
    m: &Model,
    out: &mut [Operand<'a>; MAX_OP_INPUTS],
) -> Result<bool> {
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
                if count > 16 {
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
                if idx as usize >= count {
                    return Ok(false);
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
    Ok(true)
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
    // Nothing resolves while paused; clocks run in game time, which a pause stops.
    let now = running_slot(&ctx.accounts.config)?;
    let a = &mut ctx.accounts;
    {
        let d = &mut a.dispute;
        require_move(d, Move::OneStep)?;
        // Checked before the recomputation: a game whose job another game invalidated is moot.
        if a.job.invalidated != 0 {
            return Err(OptinferError::GameMoot.into());
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
    let table = shape_table(&a.shapes, a.model.weight_count.get(), a.model.layer_count.get());
    let registered = table.layer(layer).ok_or(OptinferError::BadShapeRecord)?;
    // A correct trace of an input of the registered shapes has the registered shape at every
    // layer (registration checked each op against them), and the executor signs only such inputs:
    // a header off the registered one is the executor's fault, decided without any recomputation.
    if d.header[0] != registered.pack() {
        return resolve(a, layer, false, now);
    }
    let buf = a.buffer.as_slice();
    let mut r = Reader::new(buf);
    let empty = Operand::full(Header::default(), &[]);
    let mut ins = [empty; MAX_OP_INPUTS];
    if !open_inputs(&entry, &mut r, d, &a.model, &mut ins)? {
        return resolve(a, layer, false, now);
    }
    let ins = &ins[..entry.n_inputs as usize];
    // Opened operands are the agreed layers (the executor's own trace), the signed job input or a
    // weight (checked at registration): one off its registered shape convicts the executor.
    for (i, x) in ins.iter().enumerate() {
        if table.operand(&entry, i) != Some(x.header) {
            return resolve(a, layer, false, now);
        }
    }

    let chunk = d.chunk_index.get();
    let exec_header = d.header[0];
    let executor_correct = if ops::is_tolerant(entry.op) && chunk != CHUNK_HEADER {
        if a.model.mode != MODE_TOLERANT {
            return Err(OptinferError::InexactOp.into());
        }
        let j = Judge {
            d,
            arith: arith_of(&a.model),
        };
        judge_chunk(&entry, ins, &j, &mut r)?
    } else if chunk == CHUNK_HEADER {
        let h = ops::infer(&entry, ins).map_err(op_error)?;
        h.pack() == exec_header
    } else {
        let mut out = d.step_out;
        let from = d.step_done.get();
        let to = if max_elements == 0 {
            u32::MAX
        } else {
            from.saturating_add(max_elements)
        };
        // Operand values no honest run agrees on (OpError::Undecidable) are the executor's own (its
        // trace, or the job input it signed): they convict it rather than stall the step.
        let (h, len, n) = match ops::compute_range(&entry, ins, chunk as u64, from, to, &mut out) {
            Err(ops::OpError::Undecidable) => return resolve(a, layer, false, now),
            r => r.map_err(op_error)?,
        };
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
        h.pack() == exec_header && d.node[0] == expected_leaf
    };
    resolve(a, layer, executor_correct, now)
}

/// The arithmetic a tolerant model declared at registration.
fn arith_of(m: &Model) -> Arith {
    match m.arith_bits {
        0 => Arith::Fp32,
        b => Arith::InputPrecision { mantissa_bits: b },
    }
}

/// The dispute and the model's arithmetic, one argument (SBF passes at most five in registers).
struct Judge<'a> {
    d: &'a Dispute,
    arith: Arith,
}

/// Tolerant mode's one-step on a data chunk. The executor opened its disputed chunk on chain
/// (`reveal_leaf`, kept in `step_out`); the buffer continues, after the operands, with the
/// challenger's chunk, hashed against its leaf. The first element where the two differ is judged:
/// the executor's claim against the bound on its own opened operands. The challenger's leaf fixes
/// that element, so whoever submits, the executor cannot pick one it computed well.
/// Whether the executor is correct.
#[inline(never)]
fn judge_chunk(e: &OpEntry, ins: &[Operand], j: &Judge, r: &mut Reader) -> Result<bool> {
    let d = j.d;
    let h = ops::infer(e, ins).map_err(op_error)?;
    let total = h.byte_len().ok_or(OptinferError::BadOperands)?;
    let chunk = d.chunk_index.get() as u64;
    if chunk >= h.chunk_count().unwrap_or(0) {
        // Past the tensor's chunks the honest leaf is the ZERO padding one, as in exact mode.
        return Ok(d.node[0] == merkle::ZERO);
    }
    let start = chunk * tensor::CHUNK_BYTES as u64;
    let len = core::cmp::min(tensor::CHUNK_BYTES as u64, total - start) as usize;
    // A chunk of the registered tensor has exactly `len` bytes: an opening of another length (the
    // ZERO leaf inside the tensor, a short chunk) is no chunk an honest run commits.
    if d.leaf_len.get() as usize != len {
        return Ok(false);
    }
    let ex = &d.step_out[..len];
    let ch = r.take(len)?;
    if merkle::leaf_hash(ch) != d.node[1] {
        return Err(OptinferError::InvalidProof.into());
    }
    let k = (0..len / 4)
        .find(|&k| ex[4 * k..4 * k + 4] != ch[4 * k..4 * k + 4])
        .ok_or(OptinferError::BadStepData)?;
    let claim = ops::TolerantClaim {
        out: h,
        element: start / 4 + k as u64,
        claimed: u32::from_le_bytes([ex[4 * k], ex[4 * k + 1], ex[4 * k + 2], ex[4 * k + 3]]),
        arith: j.arith,
    };
    ops::judge_tolerant(e, ins, &claim).map_err(|x| op_error(x).into())
}

fn resolve(a: &mut OneStep, layer: u32, executor_correct: bool, now: u64) -> Result<()> {
    let key = *a.dispute.address();
    emit!(OneStepExecuted {
        dispute: key,
        layer,
        chunk_index: a.dispute.chunk_index.get(),
        executor_correct
    });
    finish(
        &mut a.dispute,
        &mut a.batch,
        &mut a.executor_operator,
        &mut a.challenger_operator,
        &a.vault,
        &mut a.job,
        if executor_correct {
            SIDE_EXECUTOR
        } else {
            SIDE_CHALLENGER
        },
        now,
    )
}
