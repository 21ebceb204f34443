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
/// ["dispute", batch pda, u32 job index LE, challenger pubkey]: one game per (job, challenger)
pub const DISPUTE: &[u8] = b"dispute";
/// ["vault"]: the treasury vault, which resolutions pay and the authority withdraws from
pub const VAULT: &[u8] = b"vault";
/// ["job", batch pda, u32 job index LE]
pub const JOB: &[u8] = b"job";
/// ["proof", dispute pda, submitter pubkey]
pub const PROOF: &[u8] = b"proof";
/// ["shapes", model pda]
pub const SHAPES: &[u8] = b"shapes";
/// ["deposit", user pubkey]: the user's prepaid balance the sequencer draws with its vouchers
pub const DEPOSIT: &[u8] = b"deposit";
/// ["data", batch pda, u32 job index LE]: a data request on one job
pub const DATA: &[u8] = b"data";
