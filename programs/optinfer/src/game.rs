//! Dispute-game rules shared by the move instructions: chess clocks and resolution payouts.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::{DisputeResolved, JobInvalidated, Slashed};
use crate::state::*;

pub fn now_slot() -> Result<u64> {
    Ok(Clock::get()?.slot)
}

/// Charges the elapsed slots to the side to move and refuses the move once its clock ran out,
/// so a late move can never beat a timeout claim.
pub fn charge_clock(d: &mut Dispute, side: u8, now: u64) -> Result<()> {
    let elapsed = now.saturating_sub(d.last_move_slot.get());
    let left = d.clock[side as usize].get();
    if elapsed > left {
        return Err(OptinferError::ClockExpired.into());
    }
    d.clock[side as usize] = PodU64::from(left - elapsed);
    d.last_move_slot = PodU64::from(now);
    d.moves = PodU32::from(d.moves.get() + 1);
    Ok(())
}

/// Checks a move: dispute open, signer a party, its turn, then charges its clock.
pub fn begin_move(d: &mut Dispute, signer: &Address, phase: u8, now: u64) -> Result<u8> {
    if d.phase == PHASE_RESOLVED {
        return Err(OptinferError::DisputeResolved.into());
    }
    let side = d.side_of(signer).ok_or(OptinferError::NotAParty)?;
    if d.phase != phase {
        return Err(OptinferError::WrongPhase.into());
    }
    if side != d.turn {
        return Err(OptinferError::NotYourTurn.into());
    }
    charge_clock(d, side, now)?;
    Ok(side)
}

/// Bond neither locked in a dispute nor already unbonding. Saturating: an executor whose stake was
/// locked while it was unbonding can have locked + unbonding above bonded.
pub fn free_bond(op: &Operator) -> u64 {
    op.bonded
        .get()
        .saturating_sub(op.locked.get())
        .saturating_sub(op.unbonding.get())
}

/// basis points of `amount` without u128 (which the upstream BPF backend miscompiles).
pub fn bps_of(amount: u64, bps: u16) -> u64 {
    let b = bps as u64;
    (amount / 10_000) * b + (amount % 10_000) * b / 10_000
}

pub struct Parties<'a> {
    pub batch: &'a mut Batch,
    pub executor_op: &'a mut Operator,
    pub executor_view: AccountView,
    pub challenger_op: &'a mut Operator,
    pub challenger_view: AccountView,
    pub treasury_view: AccountView,
}

/// Ends the game: unlocks both stakes, moves the loser's stake to the winner (bounty share)
/// and the treasury (the rest), and invalidates the job when the executor lost.
pub fn resolve(d: &mut Dispute, dispute_key: &Address, winner: u8, bounty_bps: u16, p: Parties) -> Result<()> {
    let (es, cs) = (d.executor_stake.get(), d.challenger_stake.get());
    p.executor_op.locked = PodU64::from(
        p.executor_op
            .locked
            .get()
            .checked_sub(es)
            .ok_or(OptinferError::Overflow)?,
    );
    p.challenger_op.locked = PodU64::from(
        p.challenger_op
            .locked
            .get()
            .checked_sub(cs)
            .ok_or(OptinferError::Overflow)?,
    );
    p.executor_op.open_disputes = PodU32::from(p.executor_op.open_disputes.get().saturating_sub(1));
    p.challenger_op.open_disputes = PodU32::from(p.challenger_op.open_disputes.get().saturating_sub(1));
    p.batch.open_disputes = PodU32::from(p.batch.open_disputes.get().saturating_sub(1));

    let (stake, loser_op, mut loser_view, winner_op, mut winner_view) = if winner == SIDE_EXECUTOR {
        (
            cs,
            &mut *p.challenger_op,
            p.challenger_view,
            &mut *p.executor_op,
            p.executor_view,
        )
    } else {
        (
            es,
            &mut *p.executor_op,
            p.executor_view,
            &mut *p.challenger_op,
            p.challenger_view,
        )
    };
    let bounty = bps_of(stake, bounty_bps);
    let rest = stake - bounty;
    loser_op.bonded = PodU64::from(
        loser_op
            .bonded
            .get()
            .checked_sub(stake)
            .ok_or(OptinferError::Overflow)?,
    );
    winner_op.bonded = PodU64::from(
        winner_op
            .bonded
            .get()
            .checked_add(bounty)
            .ok_or(OptinferError::Overflow)?,
    );
    // A slashed operator that was unbonding cannot withdraw more than it still has.
    let free = loser_op.bonded.get().saturating_sub(loser_op.locked.get());
    if loser_op.unbonding.get() > free {
        loser_op.unbonding = PodU64::from(free);
    }
    let loser_owner = loser_op.owner;
    loser_view.set_lamports(
        loser_view
            .lamports()
            .checked_sub(stake)
            .ok_or(OptinferError::Overflow)?,
    );
    winner_view.set_lamports(
        winner_view
            .lamports()
            .checked_add(bounty)
            .ok_or(OptinferError::Overflow)?,
    );
    let mut t = p.treasury_view;
    t.set_lamports(t.lamports().checked_add(rest).ok_or(OptinferError::Overflow)?);

    d.phase = PHASE_RESOLVED;
    d.winner = winner;
    emit!(Slashed {
        operator: loser_owner,
        amount: stake
    });
    if winner == SIDE_CHALLENGER {
        p.batch.invalidated = PodU32::from(p.batch.invalidated.get() + 1);
        emit!(JobInvalidated {
            batch_index: p.batch.index.get(),
            job_index: d.job_index.get()
        });
    }
    emit!(DisputeResolved {
        dispute: *dispute_key,
        winner,
        bounty,
        to_treasury: rest
    });
    Ok(())
}

/// System-program transfer from a signer into a program account this instruction has loaded.
/// Anchor's loaded `Account<T>` keeps the data borrowed, which the checked CPI refuses; the
/// system program only moves lamports and never touches the account's data, so skipping the
/// borrow check cannot alias anything we hold.
pub fn transfer_in(from: &AccountView, to: &AccountView, lamports: u64) -> Result<()> {
    use anchor_lang::pinocchio::cpi::{invoke_unchecked, CpiAccount};
    use anchor_lang::pinocchio::instruction::{InstructionAccount, InstructionView};
    use core::mem::MaybeUninit;
    if !from.is_signer() || !from.is_writable() || !to.is_writable() {
        return Err(ProgramError::MissingRequiredSignature);
    }
    let metas = [
        InstructionAccount::writable_signer(from.address()),
        InstructionAccount::writable(to.address()),
    ];
    let mut data = [0u8; 12];
    data[..4].copy_from_slice(&2u32.to_le_bytes());
    data[4..].copy_from_slice(&lamports.to_le_bytes());
    let ix = InstructionView {
        program_id: &anchor_lang::system_program::ID,
        accounts: &metas,
        data: &data,
    };
    let mut accounts = [const { MaybeUninit::<CpiAccount>::uninit() }; 2];
    CpiAccount::init_from_account_view(from, &mut accounts[0]);
    CpiAccount::init_from_account_view(to, &mut accounts[1]);
    // SAFETY: both CpiAccounts were initialised above; see the function comment for aliasing.
    unsafe {
        let accounts = core::slice::from_raw_parts(accounts.as_ptr() as *const CpiAccount, 2);
        invoke_unchecked(&ix, accounts);
    }
    Ok(())
}
