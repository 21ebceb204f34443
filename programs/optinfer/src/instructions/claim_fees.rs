//! Executor: after its batch is finalized (and before close_batch), claims the fees of its valid jobs,
//! each proven by its record, signature and batch tree siblings; paid from the batch's escrow, which
//! covers every claim because the opening shows the tree's fee sum is at most the escrow.
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::FeesClaimed;
use crate::instructions::open_dispute::{record_fee, signed_leaf, RECORD_BYTES, SIGNATURE_BYTES};
use crate::state::*;

/// One job whose fee is claimed: the record committed at `job_index`, its executor's signature and the
/// batch tree siblings of their leaf (as open_dispute takes them).
#[derive(Clone, AnchorSerialize, AnchorDeserialize, IdlType)]
pub struct FeeClaim {
    pub job_index: u32,
    pub record: [u8; RECORD_BYTES],
    pub signature: [u8; SIGNATURE_BYTES],
    pub siblings: Vec<BatchSibling>,
}

/// When the batch holds invalidated jobs (`Batch.invalidated > 0`), the remaining accounts are each
/// claimed job's Job address ["job", batch, job_index], in claim order: a job whose account says
/// `invalidated` is refused. With none invalidated (final: nothing invalidates a finalized batch's
/// jobs) no Job account is passed.
#[derive(Accounts)]
pub struct ClaimFees {
    /// The records' executor: it signs and is paid.
    #[account(mut)]
    pub executor: Signer,
    #[account(mut, seeds = [seeds::BATCH, &batch.index.get().to_le_bytes()], bump = batch.bump)]
    pub batch: Account<Batch>,
    /// The executor's Operator address: its `fees_earned` counts the claim. It may hold no account
    /// (an executor that withdrew and closed it is still paid).
    #[account(mut, seeds = [seeds::OPERATOR, executor.address().as_ref()], bump)]
    pub executor_operator: UncheckedAccount,
}

/// Whether the program holds an account of its own at `view`.
fn exists(view: &AccountView) -> bool {
    view.owned_by(&crate::ID) && !view.is_data_empty()
}

pub fn claim_fees(ctx: &mut Context<ClaimFees>, claims: Vec<FeeClaim>) -> Result<()> {
    if claims.is_empty() {
        return Err(OptinferError::NoClaims.into());
    }
    let jobs = if ctx.accounts.batch.invalidated.get() > 0 {
        let r = ctx.remaining_accounts()?;
        if r.len() != claims.len() {
            msg!(
                "batch has invalidated jobs: {} Job accounts for {} claims",
                r.len(),
                claims.len()
            );
            return Err(OptinferError::ClaimJobAccounts.into());
        }
        Some(r)
    } else {
        None
    };
    let a = &mut ctx.accounts;
    let executor = *a.executor.address();
    let b = &a.batch;
    if b.finalized == 0 {
        return Err(OptinferError::BatchNotFinalized.into());
    }
    let batch_key = *b.address();
    let (root, count, fee_total) = (b.root, b.job_count.get(), b.fee_total.get());
    let mut bv = *b.account();
    // SAFETY: the bitmap lies past the Batch fields (CLAIM_BITS_OFFSET), which no reference here aliases.
    let data = unsafe { bv.borrow_unchecked_mut() };
    if data.len() < batch_space(count) {
        return Err(OptinferError::WrongAccount.into());
    }
    let bits = &mut data[CLAIM_BITS_OFFSET..];
    let mut amount = 0u64;
    for (k, c) in claims.iter().enumerate() {
        let j = c.job_index;
        if j >= count {
            return Err(OptinferError::JobIndexOutOfRange.into());
        }
        if c.record[128..160] != executor.as_ref()[..] {
            msg!("job {}: the record names another executor", j);
            return Err(OptinferError::NotRecordExecutor.into());
        }
        let leaf = signed_leaf(&c.record, &c.signature);
        let fee = record_fee(&c.record);
        let Some(sum) = open_batch_tree(&root, &leaf, fee, j as u64, count as u64, &c.siblings) else {
            msg!("job {}: record, signature or siblings do not open the batch root", j);
            return Err(OptinferError::InvalidProof.into());
        };
        // The fees of distinct leaves add up to at most the tree's sum: with the sum within the escrow,
        // every executor of the batch is paid in full whatever the order of claims.
        if sum > fee_total {
            msg!("the batch tree's fees sum to {}, the escrow holds {}", sum, fee_total);
            return Err(OptinferError::EscrowShort.into());
        }
        let (byte, bit) = ((j / 8) as usize, 1u8 << (j % 8));
        if bits[byte] & bit != 0 {
            msg!("job {}: fee already claimed", j);
            return Err(OptinferError::FeeAlreadyClaimed.into());
        }
        bits[byte] |= bit;
        if let Some(r) = &jobs {
            let (want, _) = find_program_address(&[seeds::JOB, batch_key.as_ref(), &j.to_le_bytes()], &crate::ID);
            if r[k].address() != &want {
                msg!("claim {}: Job account of job {} expected", k, j);
                return Err(OptinferError::ClaimJobAccounts.into());
            }
            if exists(&r[k]) && Account::<Job>::load(r[k])?.invalidated != 0 {
                msg!("job {}: invalidated, its fee goes back to the sequencer", j);
                return Err(OptinferError::JobInvalidated.into());
            }
        }
        amount = amount.checked_add(fee).ok_or(OptinferError::Overflow)?;
    }

    let b = &mut a.batch;
    let claimed = b
        .fees_claimed
        .get()
        .checked_add(amount)
        .ok_or(OptinferError::Overflow)?;
    if claimed > fee_total {
        // Unreachable while the fee sum bounds the claims; kept so no claim ever reaches the rent.
        return Err(OptinferError::EscrowShort.into());
    }
    b.fees_claimed = claimed.into();
    let batch_index = b.index.get();
    let mut bv = *a.batch.account();
    bv.set_lamports(bv.lamports().checked_sub(amount).ok_or(OptinferError::Overflow)?);
    let mut ev = *a.executor.account();
    ev.set_lamports(ev.lamports().checked_add(amount).ok_or(OptinferError::Overflow)?);
    let eo = *a.executor_operator.account();
    if exists(&eo) {
        // SAFETY: the only Operator account of the instruction, loaded once.
        let mut op = unsafe { Account::<Operator>::load_mut(eo)? };
        op.fees_earned = op.fees_earned.get().saturating_add(amount).into();
    }
    emit!(FeesClaimed {
        batch_index,
        executor,
        jobs: claims.len() as u32,
        amount
    });
    Ok(())
}
