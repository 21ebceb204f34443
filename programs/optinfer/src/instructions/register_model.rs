//! Authority-only: registers a model's ids, weight root and layer count; ops follow in add_model_ops.
// Anchor's derive binds #[instruction] arguments in generated code paths that do not all use them.
#![allow(unused_variables)]
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::ModelRegistered;
use crate::state::{seeds, Config, Model, MAX_OUTPUT_NAME, MODE_EXACT, MODE_TOLERANT};

#[derive(Accounts)]
#[instruction(model_id: [u8; 32])]
pub struct RegisterModel {
    #[account(mut)]
    pub authority: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump,
        constraint = config.authority == *authority.address() @ OptinferError::NotAuthority)]
    pub config: Account<Config>,
    #[account(init, payer = authority, seeds = [seeds::MODEL, model_id.as_ref()], bump)]
    pub model: Account<Model>,
    pub system_program: Program<System>,
}

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
    if layer_count == 0 || output_name.is_empty() || output_name.len() > MAX_OUTPUT_NAME {
        return Err(OptinferError::InvalidConfig.into());
    }
    // Exact mode declares no arithmetic; tolerant mode fp32 (0) or an input precision of 1..=16 bits.
    let arith_ok = match mode {
        MODE_EXACT => arith_bits == 0,
        MODE_TOLERANT => arith_bits <= 16,
        _ => false,
    };
    if !arith_ok {
        msg!(
            "mode {} with arithmetic {}: expected exact (0, 0) or tolerant (1, 0..=16)",
            mode,
            arith_bits
        );
        return Err(OptinferError::InvalidConfig.into());
    }
    let m = &mut ctx.accounts.model;
    m.model_id = model_id;
    m.profile_hash = profile_hash;
    m.weight_root = weight_root;
    m.weight_count = weight_count.into();
    m.layer_count = layer_count.into();
    m.ops_loaded = 0u32.into();
    m.output_name[..output_name.len()].copy_from_slice(&output_name);
    m.output_name_len = output_name.len() as u8;
    m.bump = ctx.bumps.model;
    m.mode = mode;
    m.arith_bits = arith_bits;
    emit!(ModelRegistered {
        model_id,
        layer_count,
        mode,
        arith_bits
    });
    Ok(())
}
