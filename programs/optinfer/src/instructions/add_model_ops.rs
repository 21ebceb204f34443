//! Authority-only: appends one page of op-table entries, refusing any layer whose one-step cannot be decided
//! (an op it cannot recompute, operands off the registered shapes, or a worst-case chunk over the limits
//! or over the dispute clock), and raising Config.clock_floor to what the accepted layers' games need.
// Anchor's derive binds #[instruction] arguments in generated code paths that do not all use them.
#![allow(unused_variables)]
use alloc::vec::Vec;
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::ModelOpsAdded;
use crate::pure::ops::{self, OpEntry, OpError};
use crate::pure::shapes;
use crate::state::{
    seeds, shape_table, Config, Model, ModelShapesAccount, OpsPage, MODE_TOLERANT, OPS_PER_PAGE, OP_ENTRY_BYTES,
};

#[derive(Accounts)]
#[instruction(page: u16)]
pub struct AddModelOps {
    #[account(mut)]
    pub authority: Signer,
    #[account(mut, seeds = [seeds::CONFIG], bump = config.bump,
        constraint = config.authority == *authority.address() @ OptinferError::NotAuthority)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::MODEL, model.model_id.as_ref()], bump = model.bump)]
    pub model: Account<Model>,
    #[account(init, payer = authority, seeds = [seeds::OPS, model.address().as_ref(), &page.to_le_bytes()], bump)]
    pub ops_page: Account<OpsPage>,
    /// The model's complete shape record; page 0 seals it after checking it against the weight root.
    #[account(mut, seeds = [seeds::SHAPES, model.address().as_ref()], bump = shapes.bump)]
    pub shapes: ModelShapesAccount,
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
    let weights = ctx.accounts.model.weight_count.get();
    {
        let t = shape_table(&ctx.accounts.shapes, weights, layers);
        if !t.complete() {
            msg!(
                "shape record holds {} bytes, the model needs {}",
                t.bytes.len(),
                shapes::ShapeTable::len_for(t.inputs, weights, layers)
            );
            return Err(OptinferError::BadShapeRecord.into());
        }
        if page == 0 {
            if t.weight_root() != Some(ctx.accounts.model.weight_root) {
                msg!("shape record: weight headers and chunk roots do not hash to the weight root");
                return Err(OptinferError::BadShapeRecord.into());
            }
        } else if ctx.accounts.shapes.sealed == 0 {
            return Err(OptinferError::BadShapeRecord.into());
        }
    }
    ctx.accounts.shapes.sealed = 1;
    let p = &mut ctx.accounts.ops_page;
    for i in 0..n {
        let raw = &entries[i * OP_ENTRY_BYTES..(i + 1) * OP_ENTRY_BYTES];
        let layer = loaded + i as u32;
        let entry = OpEntry::parse(raw);
        if let Err(e) = entry.validate(layer) {
            msg!("layer {} op code {} refused", layer, raw[0]);
            return Err(match e {
                OpError::Unsupported => OptinferError::UnsupportedOp,
                OpError::Inexact => OptinferError::InexactOp,
                _ => OptinferError::BadOpEntry,
            }
            .into());
        }
        // Ops judged within a bound are not exact under any one profile: tolerant models only.
        if ops::is_tolerant(entry.op) && ctx.accounts.model.mode != MODE_TOLERANT {
            msg!(
                "layer {} op code {} is judged within a bound: register the model in tolerant mode",
                layer,
                raw[0]
            );
            return Err(OptinferError::InexactOp.into());
        }
        let t = shape_table(&ctx.accounts.shapes, weights, layers);
        let clock = ctx.accounts.config.clock_slots.get();
        let need = shapes::check_layer(&entry, &t, layer).and_then(|p| {
            shapes::check_clock(&p, clock).inspect_err(|_| {
                msg!(
                    "layer {} needs {} challenger transactions, {} slots at {} each; the clock is {}",
                    layer,
                    p.txs,
                    p.txs.saturating_mul(shapes::SLOTS_PER_TX),
                    shapes::SLOTS_PER_TX,
                    clock
                )
            })
        });
        match need {
            Ok(slots) => {
                if slots > ctx.accounts.config.clock_floor.get() {
                    ctx.accounts.config.clock_floor = slots.into();
                }
            }
            Err(r) => {
                msg!("layer {} op code {} unprovable: {}", layer, raw[0], r.reason());
                return Err(OptinferError::UnprovableLayer.into());
            }
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
