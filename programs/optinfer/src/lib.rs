//! optinfer on-chain referee: batches, bonds and the bisection dispute game. This file only dispatches.
#![cfg_attr(not(test), no_std)]
#![allow(clippy::too_many_arguments)]

extern crate alloc;

use alloc::vec::Vec;
use anchor_lang::prelude::*;

pub mod errors;
pub mod events;
pub mod game;
pub mod instructions;
pub mod pure;
pub mod state;

use instructions::*;
use state::{BatchSibling, ConfigParams};

declare_id!("GjvfTiKdZ3ok4BNNrBKst25dVdfmXaEarnwtbpMqsEEk");

#[program]
pub mod optinfer {
    use super::*;

    #[discrim = 0]
    pub fn initialize(ctx: &mut Context<Initialize>, params: ConfigParams) -> Result<()> {
        instructions::initialize::initialize(ctx, params)
    }

    #[discrim = 1]
    pub fn update_config(ctx: &mut Context<UpdateConfig>, params: ConfigParams, paused: u8) -> Result<()> {
        instructions::update_config::update_config(ctx, params, paused)
    }

    #[discrim = 2]
    pub fn register_model(
        ctx: &mut Context<RegisterModel>,
        model_id: [u8; 32],
        profile_hash: [u8; 32],
        weight_root: [u8; 32],
        weight_count: u32,
        layer_count: u32,
        output_name: Vec<u8>,
        mode: u8,
        arith_bits: u8,
    ) -> Result<()> {
        instructions::register_model::register_model(
            ctx,
            model_id,
            profile_hash,
            weight_root,
            weight_count,
            layer_count,
            output_name,
            mode,
            arith_bits,
        )
    }

    #[discrim = 3]
    pub fn add_model_ops(ctx: &mut Context<AddModelOps>, page: u16, entries: Vec<u8>) -> Result<()> {
        instructions::add_model_ops::add_model_ops(ctx, page, entries)
    }

    #[discrim = 4]
    pub fn bond(ctx: &mut Context<Bond>, amount: u64) -> Result<()> {
        instructions::bond::bond(ctx, amount)
    }

    #[discrim = 5]
    pub fn request_unbond(ctx: &mut Context<RequestUnbond>, amount: u64) -> Result<()> {
        instructions::request_unbond::request_unbond(ctx, amount)
    }

    #[discrim = 6]
    pub fn withdraw(ctx: &mut Context<Withdraw>) -> Result<()> {
        instructions::withdraw::withdraw(ctx)
    }

    #[discrim = 7]
    pub fn commit_batch(
        ctx: &mut Context<CommitBatch>,
        index: u64,
        root: [u8; 32],
        job_count: u32,
        fee_total: u64,
    ) -> Result<()> {
        instructions::commit_batch::commit_batch(ctx, index, root, job_count, fee_total)
    }

    #[discrim = 8]
    pub fn finalize_batch(ctx: &mut Context<FinalizeBatch>) -> Result<()> {
        instructions::finalize_batch::finalize_batch(ctx)
    }

    #[discrim = 9]
    pub fn open_dispute(
        ctx: &mut Context<OpenDispute>,
        job_index: u32,
        record: [u8; 168],
        signature: [u8; 64],
        siblings: Vec<BatchSibling>,
    ) -> Result<()> {
        instructions::open_dispute::open_dispute(ctx, job_index, record, signature, siblings)
    }

    #[discrim = 10]
    pub fn commit_trace(
        ctx: &mut Context<CommitTrace>,
        root: [u8; 32],
        layer_count: u32,
        prev_prefix: [u8; 32],
        last_digest: [u8; 32],
        siblings: Vec<[u8; 32]>,
    ) -> Result<()> {
        instructions::commit_trace::commit_trace(ctx, root, layer_count, prev_prefix, last_digest, siblings)
    }

    #[discrim = 11]
    pub fn bisect_layer(ctx: &mut Context<BisectLayer>, prefix: [u8; 32], siblings: Vec<[u8; 32]>) -> Result<()> {
        instructions::bisect_layer::bisect_layer(ctx, prefix, siblings)
    }

    #[discrim = 12]
    pub fn reveal_layer(ctx: &mut Context<RevealLayer>, header: Vec<u8>, chunk_root: [u8; 32]) -> Result<()> {
        instructions::reveal_layer::reveal_layer(ctx, header, chunk_root)
    }

    #[discrim = 13]
    pub fn bisect_chunk(ctx: &mut Context<BisectChunk>, left: [u8; 32], right: [u8; 32]) -> Result<()> {
        instructions::bisect_chunk::bisect_chunk(ctx, left, right)
    }

    #[discrim = 14]
    pub fn init_proof_buffer(ctx: &mut Context<InitProofBuffer>) -> Result<()> {
        instructions::init_proof_buffer::init_proof_buffer(ctx)
    }

    #[discrim = 15]
    pub fn write_proof_buffer(
        ctx: &mut Context<WriteProofBuffer>,
        offset: u32,
        grow: u32,
        data: Vec<u8>,
    ) -> Result<()> {
        instructions::write_proof_buffer::write_proof_buffer(ctx, offset, grow, data)
    }

    #[discrim = 16]
    pub fn one_step(ctx: &mut Context<OneStep>, max_elements: u32) -> Result<()> {
        instructions::one_step::one_step(ctx, max_elements)
    }

    #[discrim = 17]
    pub fn claim_timeout(ctx: &mut Context<ClaimTimeout>) -> Result<()> {
        instructions::claim_timeout::claim_timeout(ctx)
    }

    #[discrim = 18]
    pub fn close_proof_buffer(ctx: &mut Context<CloseProofBuffer>) -> Result<()> {
        instructions::close_proof_buffer::close_proof_buffer(ctx)
    }

    /// Test builds only: the pure functions in the VM (instructions/check.rs).
    #[cfg(feature = "check")]
    #[discrim = 19]
    pub fn check(ctx: &mut Context<Check>, kind: u8, data: Vec<u8>) -> Result<()> {
        instructions::check::check(ctx, kind, data)
    }

    #[discrim = 20]
    pub fn propose_authority(ctx: &mut Context<ProposeAuthority>, new_authority: Address) -> Result<()> {
        instructions::propose_authority::propose_authority(ctx, new_authority)
    }

    #[discrim = 21]
    pub fn accept_authority(ctx: &mut Context<AcceptAuthority>) -> Result<()> {
        instructions::accept_authority::accept_authority(ctx)
    }

    #[discrim = 22]
    pub fn withdraw_treasury(ctx: &mut Context<WithdrawTreasury>, amount: u64) -> Result<()> {
        instructions::withdraw_treasury::withdraw_treasury(ctx, amount)
    }

    #[discrim = 23]
    pub fn end_moot_game(ctx: &mut Context<EndMootGame>) -> Result<()> {
        instructions::end_moot_game::end_moot_game(ctx)
    }

    #[discrim = 24]
    pub fn init_model_shapes(ctx: &mut Context<InitModelShapes>, input_count: u16) -> Result<()> {
        instructions::write_model_shapes::init_model_shapes(ctx, input_count)
    }

    #[discrim = 25]
    pub fn write_model_shapes(ctx: &mut Context<WriteModelShapes>, offset: u32, data: Vec<u8>) -> Result<()> {
        instructions::write_model_shapes::write_model_shapes(ctx, offset, data)
    }

    #[discrim = 26]
    pub fn close_batch(ctx: &mut Context<CloseBatch>) -> Result<()> {
        instructions::close_batch::close_batch(ctx)
    }

    #[discrim = 27]
    pub fn close_dispute(ctx: &mut Context<CloseDispute>) -> Result<()> {
        instructions::close_dispute::close_dispute(ctx)
    }

    #[discrim = 28]
    pub fn close_job(ctx: &mut Context<CloseJob>) -> Result<()> {
        instructions::close_job::close_job(ctx)
    }

    #[discrim = 29]
    pub fn close_operator(ctx: &mut Context<CloseOperator>) -> Result<()> {
        instructions::close_operator::close_operator(ctx)
    }

    #[discrim = 30]
    pub fn refund_job_rent(ctx: &mut Context<RefundJobRent>) -> Result<()> {
        instructions::refund_job_rent::refund_job_rent(ctx)
    }

    #[discrim = 31]
    pub fn prove_record_fault(
        ctx: &mut Context<ProveRecordFault>,
        job_index: u32,
        kind: u8,
        record: [u8; 168],
        signature: [u8; 64],
        siblings: Vec<BatchSibling>,
    ) -> Result<()> {
        instructions::prove_record_fault::prove_record_fault(ctx, job_index, kind, record, signature, siblings)
    }

    #[discrim = 32]
    pub fn claim_fees(ctx: &mut Context<ClaimFees>, claims: Vec<FeeClaim>) -> Result<()> {
        instructions::claim_fees::claim_fees(ctx, claims)
    }

    #[discrim = 33]
    pub fn prove_short_escrow(
        ctx: &mut Context<ProveShortEscrow>,
        job_index: u32,
        record: [u8; 168],
        signature: [u8; 64],
        siblings: Vec<BatchSibling>,
    ) -> Result<()> {
        instructions::prove_short_escrow::prove_short_escrow(ctx, job_index, record, signature, siblings)
    }

    #[discrim = 34]
    pub fn deposit(ctx: &mut Context<MakeDeposit>, amount: u64) -> Result<()> {
        instructions::deposit::deposit(ctx, amount)
    }

    #[discrim = 35]
    pub fn draw_deposit(ctx: &mut Context<DrawDeposit>, cumulative: u64, signature: [u8; 64]) -> Result<()> {
        instructions::draw_deposit::draw_deposit(ctx, cumulative, signature)
    }

    #[discrim = 36]
    pub fn request_withdraw_deposit(ctx: &mut Context<RequestWithdrawDeposit>) -> Result<()> {
        instructions::request_withdraw_deposit::request_withdraw_deposit(ctx)
    }

    #[discrim = 37]
    pub fn withdraw_deposit(ctx: &mut Context<WithdrawDeposit>) -> Result<()> {
        instructions::withdraw_deposit::withdraw_deposit(ctx)
    }

    #[discrim = 38]
    pub fn request_data(ctx: &mut Context<RequestData>, job_index: u32) -> Result<()> {
        instructions::request_data::request_data(ctx, job_index)
    }

    #[discrim = 39]
    pub fn init_data_buffer(ctx: &mut Context<InitDataBuffer>) -> Result<()> {
        instructions::init_data_buffer::init_data_buffer(ctx)
    }

    #[discrim = 40]
    pub fn answer_data(
        ctx: &mut Context<AnswerData>,
        record: [u8; 168],
        signature: [u8; 64],
        siblings: Vec<BatchSibling>,
    ) -> Result<()> {
        instructions::answer_data::answer_data(ctx, record, signature, siblings)
    }

    #[discrim = 41]
    pub fn claim_data_timeout(ctx: &mut Context<ClaimDataTimeout>) -> Result<()> {
        instructions::claim_data_timeout::claim_data_timeout(ctx)
    }

    #[discrim = 42]
    pub fn close_data_request(ctx: &mut Context<CloseDataRequest>) -> Result<()> {
        instructions::close_data_request::close_data_request(ctx)
    }

    #[discrim = 43]
    pub fn reveal_leaf(ctx: &mut Context<RevealLeaf>, bytes: Vec<u8>) -> Result<()> {
        instructions::reveal_leaf::reveal_leaf(ctx, bytes)
    }
}

/// Aborts after Anchor's panic hook logged the location; the upstream BPF target has no unwinding.
#[cfg(all(target_os = "solana", not(feature = "no-entrypoint")))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    custom_panic(info);
    // SAFETY: abort is a syscall that never returns.
    unsafe { anchor_lang::pinocchio::syscalls::abort() }
}
