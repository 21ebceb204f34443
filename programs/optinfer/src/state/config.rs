//! Global parameters of the rollup, set by the authority, and the bounds they must keep.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::game::{bps_of, game_now};
use crate::state::{Dispute, Job, DATA_ANSWER_SLOTS};

/// Highest bounty: the winner gets at most half the loser's stake, so a cheater that disputes its
/// own bad job from a second key still loses at least half its stake to the vault.
pub const MAX_BOUNTY_BPS: u16 = 5_000;

/// Slots `unbonding_slots` must exceed `challenge_window + 2 x clock_slots` by: the time a job
/// assigned just before an unbond request takes to land in a committed batch (the sequencer's
/// batch interval and commit latency, about a minute at 400 ms per slot).
pub const UNBONDING_MARGIN_SLOTS: u64 = 150;

/// How long past a batch's window a dispute on it may still open, under dispute clock `clock`: a data
/// request made at the window's last slot is answered within max(clock, DATA_ANSWER_SLOTS), and
/// that answer leaves one clock to dispute (Batch::disputable_until). Unbonds and operator closes
/// wait for it, as for the window.
pub fn late_dispute_slots(clock: u64) -> u64 {
    core::cmp::max(clock, DATA_ANSWER_SLOTS).saturating_add(clock)
}

/// Longest challenge window or dispute clock: 30 days at 400 ms per slot.
pub const MAX_DURATION_SLOTS: u64 = 6_480_000;
/// Longest unbonding delay: the longest window plus 2 of the longest clocks, plus the margin.
pub const MAX_UNBONDING_SLOTS: u64 = 3 * MAX_DURATION_SLOTS + UNBONDING_MARGIN_SLOTS;

/// Transaction fees a challenger pays over one game, which the bounty must also repay: 1000
/// signatures at the 5000-lamport base fee (open_dispute's two, the trace and bisection moves, and
/// the ~580 proof-buffer writes of the largest one-step, MAX_STEP_BYTES, with room to spare).
pub const FEE_MARGIN_LAMPORTS: u64 = 5_000_000;

#[account]
pub struct Config {
    pub authority: Address,
    /// Key `propose_authority` named; it becomes the authority when it signs `accept_authority`.
    /// All zeros (the system program, which cannot sign) when no handover is pending.
    pub pending_authority: Address,
    pub sequencer: Address,
    /// Where `withdraw_treasury` pays the vault's lamports.
    pub treasury: Address,
    /// Game slots after commit during which a batch can be disputed (snapshotted into each batch).
    pub challenge_window: PodU64,
    /// Chess-clock budget of each side of a dispute, in game slots (snapshotted into each dispute).
    pub clock_slots: PodU64,
    pub min_executor_bond: PodU64,
    pub min_challenger_bond: PodU64,
    /// Game slots between an unbond request and the withdrawal.
    pub unbonding_slots: PodU64,
    /// Index the next committed batch must carry.
    pub next_batch_index: PodU64,
    /// Slots spent paused in earlier pauses; game time is the slot minus every paused slot.
    pub paused_slots: PodU64,
    /// Slot the current pause began (meaningful while `paused`).
    pub pause_start: PodU64,
    /// Latest game slot a dispute on a committed batch can open before (Batch::last_dispute_end: its
    /// window, then a late answer's deadline and clock under the batch's own clock): commit_batch raises
    /// it, and request_unbond and close_operator keep every withdrawal and close after it (so changing
    /// the window, the clock or the unbonding delay cannot free a bond before the batches committed
    /// under the old ones stop being disputable).
    pub latest_dispute_end: PodU64,
    /// Least `clock_slots` the games on every registered layer need (add_model_ops raises it to
    /// each layer's shapes::check_clock); update_config refuses a clock below it.
    pub clock_floor: PodU64,
    /// Game slot before which no withdrawal pays out. A batch committed soon after a raise of the
    /// window or the clock (within the longer span of the raise) raises it to the batch's window end
    /// plus the margin: an unbond requested before the raise had its ready slot fixed under the
    /// shorter span, while records its executor had before the request may land in that batch.
    pub withdraw_floor: PodU64,
    /// Game slot of the last update_config that lengthened the dispute span (dispute_span).
    pub span_raised_at: PodU64,
    /// The shortest dispute span (dispute_span) in force in the run of raises ending at
    /// `span_raised_at`: what an unbond requested just before them may have been given.
    pub span_before_raise: PodU64,
    /// Share of the loser's stake paid to the winner, in basis points; the rest goes to the vault.
    pub bounty_bps: PodU16,
    pub paused: u8,
    pub bump: u8,
}

/// Parameters of initialize and update_config.
#[derive(Clone, Copy, AnchorSerialize, AnchorDeserialize, IdlType)]
pub struct ConfigParams {
    pub sequencer: Address,
    pub treasury: Address,
    pub challenge_window: u64,
    pub clock_slots: u64,
    pub min_executor_bond: u64,
    pub min_challenger_bond: u64,
    pub unbonding_slots: u64,
    pub bounty_bps: u16,
}

/// Rent-exempt minimum of a Dispute account, which the challenger pays at open.
pub fn dispute_rent() -> Result<u64> {
    anchor_lang::cpi::rent_exempt_lamports(<Account<Dispute> as anchor_lang::Space>::INIT_SPACE)
}

/// Rent-exempt minimum of a Job account, which the job's first challenger pays at open.
pub fn job_rent() -> Result<u64> {
    anchor_lang::cpi::rent_exempt_lamports(<Account<Job> as anchor_lang::Space>::INIT_SPACE)
}

/// What a challenger that wins a full executor stake must get back as its bounty: the Dispute and
/// Job accounts it paid for (kept as the verdict record, never closed) and its transaction fees.
pub fn challenger_costs(dispute_rent: u64, job_rent: u64) -> u64 {
    dispute_rent
        .saturating_add(job_rent)
        .saturating_add(FEE_MARGIN_LAMPORTS)
}

impl ConfigParams {
    /// Refuses values the game cannot hold with, naming the bound broken. `costs` is
    /// challenger_costs: what an honest winner's bounty must repay.
    pub fn check(&self, dispute_rent: u64, costs: u64) -> Result<()> {
        if self.min_executor_bond == 0 || self.min_challenger_bond == 0 {
            return Err(OptinferError::ZeroBond.into());
        }
        if self.min_challenger_bond < dispute_rent {
            msg!(
                "min_challenger_bond must be at least the dispute rent, {}",
                dispute_rent
            );
            return Err(OptinferError::ChallengerBondBelowRent.into());
        }
        if self.bounty_bps > MAX_BOUNTY_BPS {
            return Err(OptinferError::BountyTooHigh.into());
        }
        // Honesty must pay: a won dispute repays the challenger what it spent on it.
        if bps_of(self.min_executor_bond, self.bounty_bps) < costs {
            msg!(
                "bounty_bps of min_executor_bond must be at least the Dispute and Job rent plus the fee margin, {}",
                costs
            );
            return Err(OptinferError::BountyBelowCosts.into());
        }
        if self.challenge_window == 0 || self.clock_slots == 0 {
            return Err(OptinferError::ZeroDuration.into());
        }
        // A mistyped window or clock (extra zeros) would hold every batch and bond for years.
        if self.challenge_window > MAX_DURATION_SLOTS
            || self.clock_slots > MAX_DURATION_SLOTS
            || self.unbonding_slots > MAX_UNBONDING_SLOTS
        {
            msg!(
                "challenge_window and clock_slots must be at most {} slots (30 days), unbonding_slots at most {}",
                MAX_DURATION_SLOTS,
                MAX_UNBONDING_SLOTS
            );
            return Err(OptinferError::DurationTooLong.into());
        }
        let min = unbond_span(self.challenge_window, self.clock_slots)?;
        if self.unbonding_slots < min {
            msg!(
                "unbonding_slots must be at least challenge_window + 2 x clock_slots + margin, {}",
                min
            );
            return Err(OptinferError::UnbondingTooShort.into());
        }
        Ok(())
    }
}

/// Window, late disputes and the margin: how long after an unbond request a batch committed at once
/// under `window` and `clock` (with the executor's last records) stays disputable. request_unbond
/// waits at least this long; a raise of it holds withdrawals (note_span_raise, hold_withdrawals).
pub fn dispute_span(window: u64, clock: u64) -> Result<u64> {
    window
        .checked_add(late_dispute_slots(clock))
        .and_then(|c| c.checked_add(UNBONDING_MARGIN_SLOTS))
        .ok_or_else(|| OptinferError::Overflow.into())
}

/// Window plus 2 clocks plus the margin: the least `unbonding_slots`.
pub fn unbond_span(window: u64, clock: u64) -> Result<u64> {
    clock
        .checked_mul(2)
        .and_then(|c| c.checked_add(window))
        .and_then(|c| c.checked_add(UNBONDING_MARGIN_SLOTS))
        .ok_or_else(|| OptinferError::Overflow.into())
}

impl Config {
    /// When `p` lengthens the unbond span, notes when and from what, for commit_batch's hold
    /// (hold_withdrawals). A change that is reverted before any batch commits holds nothing.
    fn note_span_raise(&mut self, p: &ConfigParams) -> Result<()> {
        if self.challenge_window.get() == 0 {
            return Ok(()); // initialize: no unbond can be pending yet
        }
        let old = dispute_span(self.challenge_window.get(), self.clock_slots.get())?;
        let new = dispute_span(p.challenge_window, p.clock_slots)?;
        if new > old {
            let now = game_now(self)?;
            // Raises close together form one run: the shortest span before any of them counts.
            let run = self.span_raised_at.get() != 0
                && now
                    <= self
                        .span_raised_at
                        .get()
                        .saturating_add(self.span_before_raise.get().max(new));
            let before = if run {
                old.min(self.span_before_raise.get())
            } else {
                old
            };
            self.span_before_raise = before.into();
            self.span_raised_at = now.into();
        }
        Ok(())
    }

    /// commit_batch at game slot `now`: when the span in force is longer than the one before a
    /// recent raise, an unbond requested before the raise may hold records in this batch, so no
    /// withdrawal pays out before the batch's window closes (plus the margin).
    pub fn hold_withdrawals(&mut self, now: u64) -> Result<()> {
        let span = dispute_span(self.challenge_window.get(), self.clock_slots.get())?;
        let raised = self.span_raised_at.get();
        let recent = raised != 0 && now <= raised.saturating_add(span.max(self.span_before_raise.get()));
        if recent && span > self.span_before_raise.get() {
            let until = now.checked_add(span).ok_or(OptinferError::Overflow)?;
            if until > self.withdraw_floor.get() {
                self.withdraw_floor = until.into();
            }
        }
        Ok(())
    }

    /// Sets the parameters initialize and update_config take, refusing values out of bounds.
    pub fn apply(&mut self, p: &ConfigParams) -> Result<()> {
        let rent = dispute_rent()?;
        p.check(rent, challenger_costs(rent, job_rent()?))?;
        // A clock shorter than a registered layer's game would make that layer's one-step one the
        // honest challenger cannot finish in time.
        if p.clock_slots < self.clock_floor.get() {
            msg!(
                "clock_slots must be at least {}, what the games on registered models need",
                self.clock_floor.get()
            );
            return Err(OptinferError::ClockBelowRegisteredModels.into());
        }
        self.sequencer = p.sequencer;
        self.note_span_raise(p)?;
        self.treasury = p.treasury;
        self.challenge_window = p.challenge_window.into();
        self.clock_slots = p.clock_slots.into();
        self.min_executor_bond = p.min_executor_bond.into();
        self.min_challenger_bond = p.min_challenger_bond.into();
        self.unbonding_slots = p.unbonding_slots.into();
        self.bounty_bps = p.bounty_bps.into();
        Ok(())
    }
}
