//! Authority-only: creates a model's shape record (init_model_shapes) and writes it in pieces
//! (write_model_shapes), before any op page is added; add_model_ops then checks every layer against it.
// Anchor's derive binds #[instruction] arguments in generated code paths that do not all use them.
#![allow(unused_variables)]
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::state::*;

/// Initial capacity: the whole record when it fits one CPI allocation, else SHAPES_INIT_CAPACITY.
pub fn init_capacity(input_count: u16, m: &Model) -> u32 {
    let want = crate::pure::shapes::ShapeTable::len_for(input_count as u32, m.weight_count.get(), m.layer_count.get());
    core::cmp::min(want, SHAPES_INIT_CAPACITY as u64) as u32
}

#[derive(Accounts)]
#[instruction(input_count: u16)]
pub struct InitModelShapes {
    #[account(mut)]
    pub authority: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump,
        constraint = config.authority == *authority.address() @ OptinferError::NotAuthority)]
    pub config: Account<Config>,
    #[account(seeds = [seeds::MODEL, model.model_id.as_ref()], bump = model.bump)]
    pub model: Account<Model>,
    #[account(
        init,
        payer = authority,
        space = ModelShapesAccount::space_for(init_capacity(input_count, &model)),
        seeds = [seeds::SHAPES, model.address().as_ref()],
        bump
    )]
    pub shapes: ModelShapesAccount,
    pub system_program: Program<System>,
}

/// `input_count`: the model's graph inputs (refs of kind input index them in name order).
pub fn init_model_shapes(ctx: &mut Context<InitModelShapes>, input_count: u16) -> Result<()> {
    if input_count == 0 || input_count > 16 {
        msg!("input count {} outside 1..=16", input_count);
        return Err(OptinferError::BadShapeRecord.into());
    }
    let model = *ctx.accounts.model.address();
    let s = &mut ctx.accounts.shapes;
    s.model = model;
    s.input_count = input_count.into();
    s.bump = ctx.bumps.shapes;
    s.sealed = 0;
    Ok(())
}

#[derive(Accounts)]
pub struct WriteModelShapes {
    #[account(mut)]
    pub authority: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump,
        constraint = config.authority == *authority.address() @ OptinferError::NotAuthority)]
    pub config: Account<Config>,
    #[account(seeds = [seeds::MODEL, model.model_id.as_ref()], bump = model.bump)]
    pub model: Account<Model>,
    #[account(mut, seeds = [seeds::SHAPES, model.address().as_ref()], bump = shapes.bump)]
    pub shapes: ModelShapesAccount,
    pub system_program: Program<System>,
}

/// Appends `data` at `offset` (the current length), growing the account as needed (the authority
/// pays the rent); refused once the record is sealed or would pass the model's record length.
pub fn write_model_shapes(ctx: &mut Context<WriteModelShapes>, offset: u32, data: Vec<u8>) -> Result<()> {
    let m = &ctx.accounts.model;
    let s = &mut ctx.accounts.shapes;
    if s.sealed != 0 || m.ops_loaded.get() != 0 {
        return Err(OptinferError::ShapesSealed.into());
    }
    let want =
        crate::pure::shapes::ShapeTable::len_for(s.input_count.get() as u32, m.weight_count.get(), m.layer_count.get());
    let end = offset as u64 + data.len() as u64;
    if offset as usize != s.len() || end > want {
        msg!(
            "shape record: write at {} of {} bytes, record is {} of {}",
            offset,
            data.len(),
            s.len(),
            want
        );
        return Err(OptinferError::BadShapeRecord.into());
    }
    if end as usize > s.capacity() {
        let cap = core::cmp::min(want, s.capacity() as u64 + PROOF_MAX_GROWTH as u64) as u32;
        if (cap as u64) < end {
            return Err(OptinferError::BadShapeRecord.into());
        }
        s.resize_to_capacity(cap)?;
        s.top_up(ctx.accounts.authority.account())?;
    }
    for &x in &data {
        s.try_push(x)?;
    }
    Ok(())
}
