//! Authority-only: appends one page of op-table entries, refusing any op the one-step cannot recompute.
// Anchor's derive binds #[instruction] arguments in generated code paths that do not all use them.
#![allow(unused_variables)]
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::ModelOpsAdded;
use crate::pure::ops::{OpEntry, OpError};
use crate::state::{seeds, Config, Model, OpsPage, OPS_PER_PAGE, OP_ENTRY_BYTES};

#[derive(Accounts)]
#[instruction(page: u16)]
pub struct AddModelOps {
    #[account(mut)]
    pub authority: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump,
        constraint = config.authority == *authority.address() @ OptinferError::NotAuthority)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::MODEL, model.model_id.as_ref()], bump = model.bump)]
    pub model: Account<Model>,
    #[account(init, payer = authority, seeds = [seeds::OPS, model.address().as_ref(), &page.to_le_bytes()], bump)]
    pub ops_page: Account<OpsPage>,
    pub system_program: Program<System>,
}

pub fn add_model_ops(ctx: &mut Context<AddModelOps>, page: u16, entries: Vec<u8>) -> Result<()> {
    let loaded = ctx.accounts.model.ops_loaded.get();
    let layers = ctx.accounts.model.layer_count.get();
    let n = entries.len() / OP_ENTRY_BYTES;
    // Pages fill strictly in order so layer i always lives in page i / OPS_PER_PAGE.
    if !entries.len().is_multiple_of(OP_ENTRY_BYTES)
        || n == 0
        || n > OPS_PER_PAGE
        || loaded != page as u32 * OPS_PER_PAGE as u32
        || (n < OPS_PER_PAGE && loaded + n as u32 != layers)
        || loaded + n as u32 > layers
    {
        return Err(OptinferError::BadOpPage.into());
    }
    let model_key = *ctx.accounts.model.address();
    let p = &mut ctx.accounts.ops_page;
    for i in 0..n {
        let raw = &entries[i * OP_ENTRY_BYTES..(i + 1) * OP_ENTRY_BYTES];
        let layer = loaded + i as u32;
        if let Err(e) = OpEntry::parse(raw).validate(layer) {
            msg!("layer {} op code {} refused", layer, raw[0]);
            return Err(match e {
                OpError::Unsupported => OptinferError::UnsupportedOp,
                OpError::Inexact => OptinferError::InexactOp,
                _ => OptinferError::BadOpEntry,
            }
            .into());
        }
        p.entries[i].copy_from_slice(raw);
    }
    p.model = model_key;
    p.page = page.into();
    p.count = n as u8;
    p.bump = ctx.bumps.ops_page;
    let m = &mut ctx.accounts.model;
    m.ops_loaded = (loaded + n as u32).into();
    emit!(ModelOpsAdded {
        model_id: m.model_id,
        page,
        ops_loaded: m.ops_loaded.get()
    });
    Ok(())
}
