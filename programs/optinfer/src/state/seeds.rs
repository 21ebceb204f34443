//! Every PDA seed prefix of the program; clients derive the same addresses from these.
pub const CONFIG: &[u8] = b"config";
/// ["operator", owner pubkey]
pub const OPERATOR: &[u8] = b"operator";
/// ["model", model id]
pub const MODEL: &[u8] = b"model";
/// ["ops", model pda, u16 page LE]
pub const OPS: &[u8] = b"ops";
/// ["batch", u64 batch index LE]
pub const BATCH: &[u8] = b"batch";
/// ["dispute", batch pda, u32 job index LE]
pub const DISPUTE: &[u8] = b"dispute";
/// ["proof", dispute pda, submitter pubkey]
pub const PROOF: &[u8] = b"proof";
/// ["shapes", model pda]
pub const SHAPES: &[u8] = b"shapes";
