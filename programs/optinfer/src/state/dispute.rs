//! The state of one dispute game over one job of a batch.
use anchor_lang::prelude::*;

pub const SIDE_EXECUTOR: u8 = 0;
pub const SIDE_CHALLENGER: u8 = 1;

/// Header dispute marker in `chunk_index`: the two sides disagree on dtype or dims.
pub const CHUNK_HEADER: u32 = u32::MAX;

#[account]
pub struct Dispute {
    pub batch: Address,
    pub model: Address,
    pub executor: Address,
    pub challenger: Address,
    pub model_id: [u8; 32],
    pub input_digest: [u8; 32],
    pub output_digest: [u8; 32],
    /// Trace roots, [executor, challenger].
    pub trace_root: [[u8; 32]; 2],
    /// Prefix p_{agreed-1} both sides proved (the trace seed while agreed == 0).
    pub agreed_prefix: [u8; 32],
    /// Each side's prefix at `disagree`.
    pub hi_prefix: [[u8; 32]; 2],
    /// Pending reveal of the side that moved first in the current round.
    pub pending: [[u8; 32]; 2],
    /// Disputed layer: each side's tensor header (dtype, rank, 6 x u32 dims) and chunk root.
    pub header: [[u8; 26]; 2],
    pub chunk_root: [[u8; 32]; 2],
    /// Chunk bisection: each side's node at (level, index); at level 0 the chunk leaf.
    pub node: [[u8; 32]; 2],
    pub executor_stake: PodU64,
    pub challenger_stake: PodU64,
    /// Chess clocks, game slots left, [executor, challenger]; set from the config at open.
    pub clock: [PodU64; 2],
    /// Game slot (game::game_slot) of the last move.
    pub last_move_slot: PodU64,
    /// The config's bounty when the dispute opened; the resolution pays this share.
    pub bounty_bps: PodU16,
    pub job_index: PodU32,
    pub layer_count: PodU32,
    /// Layers 0..agreed are agreed; `disagree` is the lowest index known to differ.
    pub agreed: PodU32,
    pub disagree: PodU32,
    pub chunk_level: PodU32,
    pub chunk_index: PodU32,
    pub moves: PodU32,
    /// Resumable one-step: output elements of the disputed chunk computed so far, and their bytes.
    pub step_done: PodU32,
    /// Resumable one-step outputs; in a tolerant model, from `reveal_leaf` until the one-step, the
    /// executor's opened disputed chunk (its first `leaf_len` bytes).
    pub step_out: [u8; 256],
    pub leaf_len: PodU16,
    /// `game::Phase` as its discriminant.
    pub phase: u8,
    /// Side to move (SIDE_EXECUTOR / SIDE_CHALLENGER).
    pub turn: u8,
    /// Set once resolved: SIDE_EXECUTOR or SIDE_CHALLENGER.
    pub winner: u8,
    /// Set once resolved: 1 when a claimed timeout decided it, 0 when the one-step did.
    pub by_timeout: u8,
    pub bump: u8,
    /// The model's mode at open (state/model.rs MODE_*): tolerant games open the disputed leaf.
    pub tolerant: u8,
}

impl Dispute {
    pub fn side_of(&self, signer: &Address) -> Option<u8> {
        if signer == &self.executor {
            Some(SIDE_EXECUTOR)
        } else if signer == &self.challenger {
            Some(SIDE_CHALLENGER)
        } else {
            None
        }
    }
}
