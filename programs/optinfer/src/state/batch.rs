//! A committed batch: the root of its batch tree (a Merkle sum tree over its signed 168-byte job records).
use anchor_lang::prelude::*;

/// One sibling of a batch tree opening (docs/PROTOCOL.md "Batch tree"): the sibling node's hash and the
/// sum of the record fees under it.
#[derive(Clone, Copy, AnchorSerialize, AnchorDeserialize, IdlType)]
pub struct BatchSibling {
    pub hash: [u8; 32],
    pub fees: u64,
}

/// Opens the batch tree rooted at `root` over `count` leaves at `index` with `leaf` and its record's
/// `fee`: the tree's fee sum, or None when the opening fails.
pub fn open_batch_tree(
    root: &[u8; 32],
    leaf: &[u8; 32],
    fee: u64,
    index: u64,
    count: u64,
    siblings: &[BatchSibling],
) -> Option<u64> {
    let (r, sum) =
        crate::pure::merkle::fee_root_from_proof(leaf, fee, index, count, siblings.iter().map(|s| (&s.hash, s.fees)))?;
    if &r == root {
        Some(sum)
    } else {
        None
    }
}

/// Grace before a finalized batch's account may close, in challenge windows of the batch: close_batch
/// is refused until `CLOSE_GRACE_WINDOWS x challenge_window` game slots after finalization (and never
/// before `commit_slot + (1 + CLOSE_GRACE_WINDOWS) x challenge_window`), so every executor and reader
/// has a whole window from finalization to claim and to see the finalized batch before its account goes.
pub const CLOSE_GRACE_WINDOWS: u64 = 1;

#[account]
pub struct Batch {
    pub root: [u8; 32],
    /// Who paid the account's rent at commit (the sequencer then); close_batch returns it there.
    pub payer: Address,
    pub index: PodU64,
    /// Game slot (game::game_slot: paused slots excluded) of the commit.
    pub commit_slot: PodU64,
    /// The config's challenge window when the batch was committed; later updates do not change it.
    pub challenge_window: PodU64,
    /// The config's min_executor_bond when the batch was committed: what each disputed job's shared
    /// executor stake is topped up to (the stake the sequencer sized the executor's exposure with),
    /// so raising the minimum mid-window cannot let one job's stake eat the bond backing another's.
    pub executor_stake: PodU64,
    /// The config's bounty_bps when the batch was committed, which its games pay: config validation
    /// checked it against executor_stake, so lowering the bounty later cannot underpay this batch's
    /// winners (bounty_bps of executor_stake repays a winning challenger's costs).
    pub bounty_bps: PodU16,
    /// Lamports the sequencer escrowed at commit for its records' fees, held in this account on top of
    /// its rent; claim_fees pays executors from it, close_batch returns what is left to `payer`.
    pub fee_total: PodU64,
    /// Record fees claimed so far: the escrow still holds `fee_total - fees_claimed`. claim_fees pays only
    /// while the batch tree's fee sum is at most `fee_total`, so this never passes it.
    pub fees_claimed: PodU64,
    /// Game slot at which finalize_batch ran (0 before): close_batch's grace counts from it.
    pub finalized_slot: PodU64,
    pub job_count: PodU32,
    /// Open games on this batch's jobs (several games may be open on one job).
    pub open_disputes: PodU32,
    /// Jobs proven wrong, each counted once: its Job account has `invalidated` = 1.
    pub invalidated: PodU32,
    pub finalized: u8,
    pub bump: u8,
    /// Set by prove_short_escrow: the batch tree's fee sum is more than `fee_total`; the sequencer was
    /// slashed for it once. Claims on the batch are refused (EscrowShort) either way.
    pub escrow_short: u8,
    /// Open data requests on this batch's jobs (request_data); finalize_batch waits for them as for games.
    pub open_requests: PodU32,
    /// Lamports of the batch's fault reserve still held in this account: one fault slash
    /// (`executor_stake`) the sequencer moved in from its wallet at commit. A fault proven on this batch
    /// (record fault, short escrow, data timeout) takes its slash from here first and then from the
    /// sequencer's bond (game::batch_fault_slash); a short escrow it covers is topped up from here
    /// (prove_short_escrow). What is left goes back to `payer` at close_batch, with the rent.
    pub fault_reserve: PodU64,
    /// Game slot before which open_dispute stays open past the window: answer_data sets it to the
    /// answer's slot plus one clock, so a data request answered at its deadline, after the window,
    /// still leaves the challenger a clock to dispute what the answer showed (0: no answer yet).
    /// finalize_batch waits for it as for the window.
    pub disputable_until: PodU64,
    /// Config.clock_slots when the batch committed: a data request on the batch is due within
    /// max(dispute_clock, DATA_ANSWER_SLOTS) and its answer leaves one dispute_clock to dispute, so a
    /// later change of the clock neither lengthens nor shortens what the batch's executors and
    /// sequencer were bonded for (Config.latest_dispute_end).
    pub dispute_clock: PodU64,
}

impl Batch {
    /// Game slot the batch's window closes at: no data request from then on.
    pub fn window_end(&self) -> u64 {
        self.commit_slot.get().saturating_add(self.challenge_window.get())
    }

    /// Game slot open_dispute and prove_record_fault close at: the window's end, or one clock after a
    /// late answer.
    pub fn dispute_end(&self) -> u64 {
        core::cmp::max(self.window_end(), self.disputable_until.get())
    }
}

/// Bytes of a Batch account for `job_count` jobs: the discriminator, the fields, then the claim bitmap
/// (bit `j % 8` of byte `j / 8` set once job `j`'s fee is claimed; claim_fees).
pub fn batch_space(job_count: u32) -> usize {
    CLAIM_BITS_OFFSET + (job_count as usize).div_ceil(8)
}

/// Where the claim bitmap starts in a Batch account's data.
pub const CLAIM_BITS_OFFSET: usize = 8 + core::mem::size_of::<Batch>();

/// Refuses unless the batch at `view` is final: a loaded Batch with `finalized` set, or a batch account
/// already closed. Callers pass the address a Job or Dispute account names, which only open_dispute
/// writes, from a loaded Batch: that batch was committed, and a committed batch's address holds no
/// program data again only once close_batch closed it, which only a finalized batch passes (and
/// commit_batch's strictly increasing index never creates it again).
pub fn require_final(view: &AccountView) -> Result<()> {
    if !view.owned_by(&crate::ID) || view.is_data_empty() {
        return Ok(());
    }
    let b = Account::<Batch>::load(*view)?;
    if b.finalized == 0 {
        return Err(crate::errors::OptinferError::BatchNotFinalized.into());
    }
    Ok(())
}
