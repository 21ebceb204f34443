//! A model's shape record: packed headers of its inputs, weights (with chunk roots) and layer outputs (pure/shapes.rs).
use anchor_lang::accounts::Slab;
use anchor_lang::prelude::*;

use crate::pure::shapes::ShapeTable;

/// Capacity given at creation: what a CPI can allocate at once; write_model_shapes grows the rest.
pub const SHAPES_INIT_CAPACITY: u32 = 9216;

#[account]
pub struct ModelShapes {
    pub model: Address,
    pub input_count: PodU16,
    pub bump: u8,
    /// Set by add_model_ops page 0 once the weight records hash to the model's weight root; the
    /// record is frozen from then on.
    pub sealed: u8,
}

/// The account type instructions load: `[disc][ModelShapes][len u32][pad][bytes...]`.
pub type ModelShapesAccount = Slab<ModelShapes, u8>;

/// The record as a table, given the model's weight and layer counts.
pub fn shape_table<'a>(s: &'a ModelShapesAccount, weights: u32, layers: u32) -> ShapeTable<'a> {
    ShapeTable {
        bytes: s.as_slice(),
        inputs: s.input_count.get() as u32,
        weights,
        layers,
    }
}
