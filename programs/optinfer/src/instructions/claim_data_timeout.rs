//! Anyone (no account of the signer is needed), once a data request's deadline passed unanswered: the job is invalidated and the sequencer that
//! committed the batch slashed one fault slash (as prove_record_fault), the bounty and the deposit to the
//! requester, the rest to the vault; the request account closes to the requester.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::{DataTimedOut, JobInvalidated, Slashed};
use crate::game::{batch_fault_slash, bps_of, running_slot};
use crate::state::*;

#[derive(Accounts)]
pub struct ClaimDataTimeout {
    #[account(seeds = [seeds::CONFIG], bump = config.bump)]
    pub config: Account<Config>,
    #[account(mut, address = request.batch @ OptinferError::WrongAccount)]
    pub batch: Account<Batch>,
    #[account(mut, close = requester, seeds = [seeds::DATA, request.batch.as_ref(), &request.job_index.get().to_le_bytes()], bump = request.bump)]
    pub request: Account<DataRequest>,
    /// Paid the request: gets its rent, the deposit and the bounty.
    #[account(mut, address = request.requester @ OptinferError::WrongAccount)]
    pub requester: UncheckedAccount,
    /// The Operator address of the sequencer that committed the batch (its rent payer), which may hold
    /// no account (a sequencer slashed to zero may have closed it; the job is still invalidated).
    #[account(mut, seeds = [seeds::OPERATOR, batch.payer.as_ref()], bump)]
    pub sequencer_operator: UncheckedAccount,
    /// Created by request_data (or by a game before it).
    #[account(mut, seeds = [seeds::JOB, request.batch.as_ref(), &request.job_index.get().to_le_bytes()], bump = job.bump)]
    pub job: Account<Job>,
    #[account(mut, seeds = [seeds::VAULT], bump = vault.bump)]
    pub vault: Account<Vault>,
}

fn add_lamports(v: &AccountView, amount: u64) -> Result<()> {
    let mut v = *v;
    v.set_lamports(v.lamports().checked_add(amount).ok_or(OptinferError::Overflow)?);
    Ok(())
}

pub fn claim_data_timeout(ctx: &mut Context<ClaimDataTimeout>) -> Result<()> {
    let a = &mut ctx.accounts;
    // Game time, which a pause stops: no timeout runs out while paused.
    let now = running_slot(&a.config)?;
    let r = &a.request;
    if r.answered != 0 {
        return Err(OptinferError::DataRequestAnswered.into());
    }
    if now < r.deadline.get() {
        msg!("the answer is due before game slot {}, now {}", r.deadline.get(), now);
        return Err(OptinferError::DataRequestNotExpired.into());
    }
    let job_index = r.job_index.get();
    let requester = r.requester;
    let sequencer = a.batch.payer;
    let batch_index = a.batch.index.get();
    {
        let b = &mut a.batch;
        b.open_requests = (b.open_requests.get() - 1).into();
    }

    let j = &mut a.job;
    if j.invalidated != 0 {
        // Another game or fault invalidated the job meanwhile: nothing is left to prove; the request
        // closes, its rent and deposit back to the requester.
        emit!(DataTimedOut {
            batch_index,
            job_index,
            requester,
            sequencer,
            bounty: 0,
            to_treasury: 0
        });
        return Ok(());
    }
    // Games still open on the job are moot from here (end_moot_game).
    j.invalidated = 1;
    let payer = j.payer;

    let (bv, sv) = (*a.batch.account(), *a.sequencer_operator.account());
    let slash = batch_fault_slash(&mut a.batch, &bv, &sv, now)?;
    let bounty = bps_of(slash, a.batch.bounty_bps.get());
    let mut rest = slash - bounty;
    add_lamports(a.requester.account(), bounty)?;
    // A Job account a challenger's game created before the request holds its rent refund for
    // refund_job_rent, from the vault's share, as prove_record_fault does (the requester paid its own).
    if payer != requester {
        let refund = core::cmp::min(job_rent()?, rest);
        rest -= refund;
        add_lamports(a.job.account(), refund)?;
    }
    add_lamports(a.vault.account(), rest)?;

    let b = &mut a.batch;
    b.invalidated = (b.invalidated.get() + 1).into();
    emit!(Slashed {
        operator: sequencer,
        amount: slash
    });
    emit!(JobInvalidated { batch_index, job_index });
    emit!(DataTimedOut {
        batch_index,
        job_index,
        requester,
        sequencer,
        bounty,
        to_treasury: rest
    });
    Ok(())
}
