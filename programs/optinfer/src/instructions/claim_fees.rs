//! Executor: after its batch is finalized (and before close_batch), claims the fees of its valid jobs,
//! each proven by its record, signature and Merkle siblings; paid from the batch's escrow, and from the
//! sequencer's bond once the escrow is short of what the signed records say.
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::FeesClaimed;
use crate::game::free_bond;
use crate::instructions::open_dispute::{signed_leaf, RECORD_BYTES, SIGNATURE_BYTES};
use crate::pure::merkle;
use crate::state::*;

/// One job whose fee is claimed: the record committed at `job_index`, its executor's signature and the
/// Merkle siblings of their leaf (as open_dispute takes them).
#[derive(Clone, AnchorSerialize, AnchorDeserialize, IdlType)]
pub struct FeeClaim {
    pub job_index: u32,
    pub record: [u8; RECORD_BYTES],
    pub signature: [u8; SIGNATURE_BYTES],
    pub siblings: Vec<[u8; 32]>,
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
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::BATCH, &batch.index.get().to_le_bytes()], bump = batch.bump)]
    pub batch: Account<Batch>,
    /// The executor's Operator address: its `fees_earned` counts the claim. It may hold no account
    /// (an executor that withdrew and closed it is still paid).
    #[account(mut, seeds = [seeds::OPERATOR, executor.address().as_ref()], bump)]
    pub executor_operator: UncheckedAccount,
    /// The Operator address of the sequencer that committed the batch (its payer): pays what the escrow
    /// lacks from its bond. The same address as executor_operator when the sequencer claims its own
    /// records (then nothing is taken from the bond: its shortfall is its own money).
    #[account(mut, unsafe(dup), seeds = [seeds::OPERATOR, batch.payer.as_ref()], bump)]
    pub sequencer_operator: UncheckedAccount,
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
    let (root, count) = (b.root, b.job_count.get());
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
        if !merkle::verify(&root, &leaf, j as u64, count as u64, &c.siblings) {
            msg!("job {}: record, signature or siblings do not open the batch root", j);
            return Err(OptinferError::InvalidProof.into());
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
        let fee = u64::from_le_bytes(c.record[160..168].try_into().unwrap());
        amount = amount.checked_add(fee).ok_or(OptinferError::Overflow)?;
    }

    // The escrow pays first; past it, the sequencer's free bond above one fault slash, since it
    // committed records whose fees it did not escrow.
    let b = &mut a.batch;
    let escrow_left = b.fee_total.get().saturating_sub(b.fees_claimed.get());
    let from_escrow = core::cmp::min(amount, escrow_left);
    let shortfall = amount - from_escrow;
    b.fees_claimed = b
        .fees_claimed
        .get()
        .checked_add(amount)
        .ok_or(OptinferError::Overflow)?
        .into();
    let batch_index = b.index.get();
    let sequencer = b.payer;
    let mut from_bond = 0u64;
    let mut sv = *a.sequencer_operator.account();
    if shortfall > 0 && sequencer != executor && exists(&sv) {
        // SAFETY: the only other Operator of the instruction (executor_operator) is another address
        // (sequencer != executor) and is not loaded yet.
        let mut so = unsafe { Account::<Operator>::load_mut(sv)? };
        // Only the free bond above one fault slash: a claim (perhaps its own sybil's, in the very
        // transaction that commits a faulty batch) must not empty the bond that answers for the
        // records of its open batches, nor its stakes locked in games, nor its unbonding part.
        let reserve = a.config.min_executor_bond.get();
        from_bond = core::cmp::min(shortfall, free_bond(&so).saturating_sub(reserve));
        so.bonded = (so.bonded.get() - from_bond).into();
        so.slashed = so.slashed.get().saturating_add(from_bond).into();
    }
    if from_bond < shortfall {
        msg!(
            "escrow short by {}, the sequencer's bond paid {}: {} unpaid",
            shortfall,
            from_bond,
            shortfall - from_bond
        );
    }
    let paid = from_escrow + from_bond;
    let mut bv = *a.batch.account();
    bv.set_lamports(bv.lamports().checked_sub(from_escrow).ok_or(OptinferError::Overflow)?);
    sv.set_lamports(sv.lamports().checked_sub(from_bond).ok_or(OptinferError::Overflow)?);
    let mut ev = *a.executor.account();
    ev.set_lamports(ev.lamports().checked_add(paid).ok_or(OptinferError::Overflow)?);
    let eo = *a.executor_operator.account();
    if exists(&eo) {
        // SAFETY: the sequencer's Operator load above was dropped.
        let mut op = unsafe { Account::<Operator>::load_mut(eo)? };
        op.fees_earned = op.fees_earned.get().saturating_add(paid).into();
    }
    emit!(FeesClaimed {
        batch_index,
        executor,
        jobs: claims.len() as u32,
        amount: paid,
        from_bond
    });
    Ok(())
}
