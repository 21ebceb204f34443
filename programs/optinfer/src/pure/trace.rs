//! The layer prefix chain of PROTOCOL.md: p_seed, p_i = H(0x04 || p_{i-1} || u32 i || layerDigest_i).
use super::hash::{hashv, Hash32, TAG_TRACE_SEED, TAG_TRACE_STEP};

pub fn seed(model_id: &Hash32, input_digest: &Hash32, profile_hash: &Hash32) -> Hash32 {
    hashv(&[&[TAG_TRACE_SEED], model_id, input_digest, profile_hash])
}

pub fn step(prev: &Hash32, index: u32, layer_digest: &Hash32) -> Hash32 {
    hashv(&[&[TAG_TRACE_STEP], prev, &index.to_le_bytes(), layer_digest])
}
