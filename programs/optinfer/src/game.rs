//! The dispute game: its phase table, chess clocks, move checks and resolution payouts.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::{DisputeMove, DisputeResolved, JobInvalidated, Slashed};
use crate::state::*;

/// Dispute phases; the account stores the discriminant in `Dispute::phase`.
#[repr(u8)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Phase {
    ExecTrace = 0,
    ChalTrace = 1,
    LayerBisect = 2,
    LayerReveal = 3,
    ChunkBisect = 4,
    /// Tolerant models: the executor opens its disputed chunk on chain before the one-step.
    LeafReveal = 5,
    OneStep = 6,
    Resolved = 7,
}

/// The instructions that act on an open dispute (proof-buffer instructions are phase-free).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Move {
    CommitTrace,
    BisectLayer,
    RevealLayer,
    BisectChunk,
    RevealLeaf,
    OneStep,
    ClaimTimeout,
}

/// The side whose clock runs when a phase begins.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mover {
    Executor,
    Challenger,
    None,
}

impl Mover {
    pub const fn side(self) -> Option<u8> {
        match self {
            Mover::Executor => Some(SIDE_EXECUTOR),
            Mover::Challenger => Some(SIDE_CHALLENGER),
            Mover::None => None,
        }
    }
}

/// One row of the phase table.
pub struct PhaseRule {
    pub phase: Phase,
    /// Side to move on entering the phase. In ONE_STEP anyone may submit, on the challenger's clock.
    pub mover: Mover,
    /// Rounds of two half-moves: the mover, then the other side, and again.
    pub alternates: bool,
    /// Instructions accepted in the phase; any other gets WrongPhase (DisputeResolved once resolved).
    pub moves: &'static [Move],
    /// Phases one accepted instruction can leave the dispute in (itself when a round continues).
    pub next: &'static [Phase],
}

/// The transition table, indexed by phase. TypeScript mirrors it in dispute/phases.ts;
/// dispute/phases.test.ts reads this table and fails when the two differ.
pub const PHASES: [PhaseRule; 8] = [
    PhaseRule {
        phase: Phase::ExecTrace,
        mover: Mover::Executor,
        alternates: false,
        moves: &[Move::CommitTrace, Move::ClaimTimeout],
        next: &[Phase::ChalTrace, Phase::Resolved],
    },
    PhaseRule {
        phase: Phase::ChalTrace,
        mover: Mover::Challenger,
        alternates: false,
        moves: &[Move::CommitTrace, Move::ClaimTimeout],
        next: &[Phase::LayerBisect, Phase::LayerReveal, Phase::Resolved],
    },
    PhaseRule {
        phase: Phase::LayerBisect,
        mover: Mover::Executor,
        alternates: true,
        moves: &[Move::BisectLayer, Move::ClaimTimeout],
        next: &[Phase::LayerBisect, Phase::LayerReveal, Phase::Resolved],
    },
    PhaseRule {
        phase: Phase::LayerReveal,
        mover: Mover::Executor,
        alternates: true,
        moves: &[Move::RevealLayer, Move::ClaimTimeout],
        next: &[
            Phase::LayerReveal,
            Phase::ChunkBisect,
            Phase::LeafReveal,
            Phase::OneStep,
            Phase::Resolved,
        ],
    },
    PhaseRule {
        phase: Phase::ChunkBisect,
        mover: Mover::Executor,
        alternates: true,
        moves: &[Move::BisectChunk, Move::ClaimTimeout],
        next: &[Phase::ChunkBisect, Phase::LeafReveal, Phase::OneStep, Phase::Resolved],
    },
    PhaseRule {
        phase: Phase::LeafReveal,
        mover: Mover::Executor,
        alternates: false,
        moves: &[Move::RevealLeaf, Move::ClaimTimeout],
        next: &[Phase::OneStep, Phase::Resolved],
    },
    PhaseRule {
        phase: Phase::OneStep,
        mover: Mover::Challenger,
        alternates: false,
        moves: &[Move::OneStep, Move::ClaimTimeout],
        next: &[Phase::OneStep, Phase::Resolved],
    },
    PhaseRule {
        phase: Phase::Resolved,
        mover: Mover::None,
        alternates: false,
        moves: &[],
        next: &[],
    },
];

impl Phase {
    pub const ALL: [Phase; 8] = [
        Phase::ExecTrace,
        Phase::ChalTrace,
        Phase::LayerBisect,
        Phase::LayerReveal,
        Phase::ChunkBisect,
        Phase::LeafReveal,
        Phase::OneStep,
        Phase::Resolved,
    ];
    pub fn from_u8(v: u8) -> Option<Phase> {
        Phase::ALL.get(v as usize).copied()
    }
    pub fn rule(self) -> &'static PhaseRule {
        &PHASES[self as usize]
    }
    pub fn allows(self, m: Move) -> bool {
        self.rule().moves.contains(&m)
    }
}

/// The dispute's phase; a byte outside the table (never written) counts as a wrong phase.
pub fn phase_of(d: &Dispute) -> Result<Phase> {
    Phase::from_u8(d.phase).ok_or_else(|| OptinferError::WrongPhase.into())
}

/// Checks that `m` may act on the dispute now: DisputeResolved once resolved, else WrongPhase
/// unless the table allows it.
pub fn require_move(d: &Dispute, m: Move) -> Result<Phase> {
    let phase = phase_of(d)?;
    if phase == Phase::Resolved {
        return Err(OptinferError::DisputeResolved.into());
    }
    if !phase.allows(m) {
        return Err(OptinferError::WrongPhase.into());
    }
    Ok(phase)
}

/// Puts a new dispute in the first phase, the executor to move.
pub fn start(d: &mut Dispute) {
    d.phase = Phase::ExecTrace as u8;
    d.turn = SIDE_EXECUTOR;
}

/// Moves the dispute to `next` and gives the turn to the side that opens it (a resolved dispute
/// keeps the turn it had).
pub fn enter(d: &mut Dispute, next: Phase) {
    debug_assert!(Phase::from_u8(d.phase).is_some_and(|p| p.rule().next.contains(&next)));
    d.phase = next as u8;
    if let Some(side) = next.rule().mover.side() {
        d.turn = side;
    }
}

/// Enters the one-step once the descent reached one chunk. In a tolerant model the executor first
/// opens its disputed chunk on chain (`reveal_leaf`, on its clock): the tolerant one-step judges the
/// executor's bytes, and a leaf it cannot open must not stall the challenger. A header dispute needs no chunk.
pub fn enter_step(d: &mut Dispute) {
    if d.tolerant == MODE_TOLERANT && d.chunk_index.get() != CHUNK_HEADER {
        enter(d, Phase::LeafReveal);
    } else {
        enter(d, Phase::OneStep);
    }
}

/// Logs a party's move in the descent (layer reveal, chunk bisection, leaf reveal) with where the game now stands.
pub fn emit_move(dispute: Address, side: u8, d: &Dispute) {
    emit!(DisputeMove {
        dispute,
        side,
        phase: d.phase,
        agreed: d.agreed.get(),
        disagree: d.disagree.get(),
        chunk_level: d.chunk_level.get(),
        chunk_index: d.chunk_index.get()
    });
}

/// Hands the turn to the other side for the second half of a round.
pub fn pass_turn(d: &mut Dispute) {
    d.turn = 1 - d.turn;
}

pub fn now_slot() -> Result<u64> {
    Ok(Clock::get()?.slot)
}

/// Game time at slot `now`: the slot minus every slot spent paused (the current pause included),
/// so it stands still while the program is paused. Challenge windows, chess clocks and unbonding
/// delays are all measured in it, which is why a pause cannot run any of them out.
pub fn game_slot(c: &Config, now: u64) -> u64 {
    let current = if c.paused != 0 {
        now.saturating_sub(c.pause_start.get())
    } else {
        0
    };
    now.saturating_sub(c.paused_slots.get().saturating_add(current))
}

/// Game time now (also while paused).
pub fn game_now(c: &Config) -> Result<u64> {
    Ok(game_slot(c, now_slot()?))
}

/// Game time now for an instruction that advances the game (commit, dispute, move, resolve,
/// finalize): refused with Paused while the program is paused.
pub fn running_slot(c: &Config) -> Result<u64> {
    if c.paused != 0 {
        return Err(OptinferError::Paused.into());
    }
    game_now(c)
}

/// Pauses or unpauses at slot `now`, keeping the count of paused slots that game time leaves out.
pub fn set_paused(c: &mut Config, paused: bool, now: u64) {
    match (c.paused != 0, paused) {
        (false, true) => c.pause_start = now.into(),
        (true, false) => {
            let spent = now.saturating_sub(c.pause_start.get());
            c.paused_slots = c.paused_slots.get().saturating_add(spent).into();
        }
        _ => {}
    }
    c.paused = paused as u8;
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

/// Checks a party's move: dispute open, signer a party, move allowed in the phase, its turn;
/// then charges its clock.
pub fn begin_move(d: &mut Dispute, signer: &Address, m: Move, now: u64) -> Result<u8> {
    let phase = phase_of(d)?;
    if phase == Phase::Resolved {
        return Err(OptinferError::DisputeResolved.into());
    }
    let side = d.side_of(signer).ok_or(OptinferError::NotAParty)?;
    if !phase.allows(m) {
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

/// Part of `locked` staked on the operator's own jobs as executor. Never above `bonded`: open_dispute
/// tops executor stakes up only to `bonded - executor_locked`, and a lost challenger stake is paid
/// only from what lies above it (resolve), so every executor slash is paid in full.
pub fn executor_locked(op: &Operator) -> u64 {
    op.locked.get().saturating_sub(op.challenger_locked.get())
}

/// basis points of `amount` without u128 (which the upstream BPF backend miscompiles).
pub fn bps_of(amount: u64, bps: u16) -> u64 {
    let b = bps as u64;
    (amount / 10_000) * b + (amount % 10_000) * b / 10_000
}

pub struct Parties<'a> {
    pub batch: &'a mut Batch,
    pub job: &'a mut Job,
    pub executor_op: &'a mut Operator,
    pub executor_view: AccountView,
    pub challenger_op: &'a mut Operator,
    pub challenger_view: AccountView,
    /// The vault PDA: program-owned and rent-exempt, so any share it receives lands.
    pub vault_view: AccountView,
    /// The Job account, which holds the refund of its rent for its payer when another challenger's
    /// game invalidates the job (close_job pays it out).
    pub job_view: AccountView,
    /// Game slot of the resolution (Operator.emptied_slot).
    pub now: u64,
}

/// Records that a slash took `op`'s bond to 0 at game slot `now` (prove_record_fault's kind 0 and
/// close_operator read it).
pub fn note_emptied(op: &mut Operator, now: u64) {
    if op.bonded.get() == 0 {
        op.emptied_slot = PodU64::from(now);
    }
}

/// Takes up to `amount` from the bond of a sequencer's Operator `so`, above its own executor stakes
/// (which come first, as in resolve); its challenger stakes and unbonding lamports are takeable.
/// Returns what was taken (the caller moves the lamports).
pub fn take_bond(so: &mut Operator, amount: u64, now: u64) -> u64 {
    let taken = core::cmp::min(amount, so.bonded.get().saturating_sub(executor_locked(so)));
    so.bonded = (so.bonded.get() - taken).into();
    note_emptied(so, now);
    let free = so.bonded.get().saturating_sub(so.locked.get());
    if so.unbonding.get() > free {
        so.unbonding = free.into();
    }
    taken
}

/// The bond part of a sequencer's fault slash (batch_fault_slash): `stake` (what the batch's fault
/// reserve did not cover), from the bond as take_bond does, counted in `slashed`.
pub fn fault_slash(so: &mut Operator, stake: u64, now: u64) -> u64 {
    let slash = take_bond(so, stake, now);
    so.slashed = so.slashed.get().saturating_add(slash).into();
    slash
}

/// A sequencer fault proven on batch `b` (its account at `bv`): one fault slash (`b.executor_stake`, the
/// batch's snapshot of min_executor_bond), first from the batch's fault reserve (lamports held in the
/// batch account since commit_batch), then what the reserve no longer holds from the bond of the
/// sequencer's Operator account at `sv`, when one exists (fault_slash). The Operator's `slashed` counts
/// both parts. Debits both accounts and returns the lamports taken, which the caller pays out.
pub fn batch_fault_slash(b: &mut Batch, bv: &AccountView, sv: &AccountView, now: u64) -> Result<u64> {
    let stake = b.executor_stake.get();
    let from_reserve = core::cmp::min(stake, b.fault_reserve.get());
    b.fault_reserve = (b.fault_reserve.get() - from_reserve).into();
    let mut bv = *bv;
    bv.set_lamports(bv.lamports().checked_sub(from_reserve).ok_or(OptinferError::Overflow)?);
    let mut sv = *sv;
    let from_bond = if sv.owned_by(&crate::ID) && !sv.is_data_empty() {
        // SAFETY: the caller holds no other reference to this Operator account's data.
        let mut so = unsafe { Account::<Operator>::load_mut(sv)? };
        let taken = fault_slash(&mut so, stake - from_reserve, now);
        so.slashed = so.slashed.get().saturating_add(from_reserve).into();
        taken
    } else {
        0
    };
    sv.set_lamports(sv.lamports().checked_sub(from_bond).ok_or(OptinferError::Overflow)?);
    Ok(from_reserve + from_bond)
}

/// Ends the game: unlocks the challenger's stake, and the job's executor stake when the executor
/// lost or this was the job's last open game; moves the loser's stake to the winner (bounty share)
/// and the vault (the rest), and invalidates the job when the executor lost. Refused once another
/// game invalidated the job: this one is moot (end_moot_game).
pub fn resolve(d: &mut Dispute, dispute_key: &Address, winner: u8, p: Parties) -> Result<()> {
    // The bounty share snapshotted when the game opened.
    let bounty_bps = d.bounty_bps.get();
    if p.job.invalidated != 0 {
        return Err(OptinferError::GameMoot.into());
    }
    p.job.open_games = PodU32::from(p.job.open_games.get().saturating_sub(1));
    let cs = d.challenger_stake.get();
    // The job's shared executor stake: taken by the first winning challenger, released to the
    // executor when its last game on the job closes without a verdict against it.
    let es = if winner == SIDE_CHALLENGER || p.job.open_games.get() == 0 {
        let es = p.job.executor_stake.get();
        p.job.executor_stake = PodU64::from(0);
        es
    } else {
        0
    };
    if winner == SIDE_CHALLENGER {
        p.job.invalidated = 1;
        d.executor_stake = PodU64::from(es);
    }
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
    p.challenger_op.challenger_locked = PodU64::from(
        p.challenger_op
            .challenger_locked
            .get()
            .checked_sub(cs)
            .ok_or(OptinferError::Overflow)?,
    );
    // A lost challenger stake is paid from the bond above the operator's executor stakes, which
    // come first: when its own executor slashes already took those lamports, it pays what is left.
    let cs = if winner == SIDE_EXECUTOR {
        let op = &*p.challenger_op;
        let paid = core::cmp::min(cs, op.bonded.get().saturating_sub(executor_locked(op)));
        d.challenger_stake = PodU64::from(paid);
        paid
    } else {
        cs
    };
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
    let mut rest = stake - bounty;
    // When another challenger invalidates the job first (a cheater's sybil can time its game to),
    // the challenger that paid the Job account, kept as the verdict record, is repaid its rent
    // from the vault's share: it sits in the Job account above its rent until close_job.
    if winner == SIDE_CHALLENGER && p.job.payer != d.challenger {
        let refund = core::cmp::min(job_rent()?, rest);
        rest -= refund;
        let mut jv = p.job_view;
        jv.set_lamports(jv.lamports().checked_add(refund).ok_or(OptinferError::Overflow)?);
    }
    // A winning challenger is repaid its costs (the Job rent it paid, kept as the verdict record,
    // and the fee margin) before the vault takes a share, when the stake was too short for the
    // bounty alone (a bond drained before the game opened).
    let mut top_up = 0;
    if winner == SIDE_CHALLENGER {
        let paid_rent = if p.job.payer == d.challenger { job_rent()? } else { 0 };
        let short = paid_rent.saturating_add(FEE_MARGIN_LAMPORTS).saturating_sub(bounty);
        // Never from the vault itself: on chain a sybil winner cannot be told from an honest one,
        // and any draw would hand a cheater's coalition back the half of its losses the vault
        // keeps (the burn that deters laundering and draining).
        top_up = core::cmp::min(short, rest);
        rest -= top_up;
    }
    let won = bounty + top_up;
    loser_op.bonded = PodU64::from(
        loser_op
            .bonded
            .get()
            .checked_sub(stake)
            .ok_or(OptinferError::Overflow)?,
    );
    winner_op.bonded = PodU64::from(winner_op.bonded.get().checked_add(won).ok_or(OptinferError::Overflow)?);
    winner_op.bounties_earned = PodU64::from(winner_op.bounties_earned.get().saturating_add(won));
    loser_op.slashed = PodU64::from(loser_op.slashed.get().saturating_add(stake));
    note_emptied(loser_op, p.now);
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
    winner_view.set_lamports(winner_view.lamports().checked_add(won).ok_or(OptinferError::Overflow)?);
    let mut v = p.vault_view;
    v.set_lamports(v.lamports().checked_add(rest).ok_or(OptinferError::Overflow)?);

    enter(d, Phase::Resolved);
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
        bounty: won,
        to_treasury: rest
    });
    Ok(())
}

/// Settles a dispute from the accounts every resolving instruction carries.
pub fn finish(
    dispute: &mut Account<Dispute>,
    batch: &mut Account<Batch>,
    executor_operator: &mut Account<Operator>,
    challenger_operator: &mut Account<Operator>,
    vault: &Account<Vault>,
    job: &mut Account<Job>,
    winner: u8,
    now: u64,
) -> Result<()> {
    let key = *dispute.address();
    let job_view = *job.account();
    let parties = Parties {
        job: &mut *job,
        executor_view: *executor_operator.account(),
        challenger_view: *challenger_operator.account(),
        vault_view: *vault.account(),
        job_view,
        batch: &mut *batch,
        executor_op: &mut *executor_operator,
        challenger_op: &mut *challenger_operator,
        now,
    };
    resolve(&mut *dispute, &key, winner, parties)
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
