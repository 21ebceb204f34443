//! The sequencer: redeems a user's voucher (Ed25519 over the cumulative fees of the jobs it accepted,
//! checked by the Ed25519 program, found by introspection), drawing what the voucher adds to `drawn`.
use anchor_lang::prelude::*;

use crate::errors::OptinferError;
use crate::events::DepositDrawn;
use crate::instructions::open_dispute::ED25519_PROGRAM_ID;
use crate::pure::hash::{hashv, Hash32};
use crate::state::{seeds, Config, Deposit};

pub const VOUCHER_SIGNATURE_BYTES: usize = 64;
/// Domain of the user's voucher signature (docs/PROTOCOL.md "Result signature" style): 0xff then
/// ASCII, so the signed digest's preimage is neither a protocol hash input nor a Solana message.
pub const VOUCHER_DOMAIN: &[u8; 17] = b"\xffoptinfer voucher";
/// Where this instruction's data holds the signature: after the one-byte discriminator and
/// `cumulative: u64`.
pub const DRAW_SIGNATURE_OFFSET: usize = 1 + 8;
/// The one Ed25519 instruction draw_deposit accepts: one signature, offsets, then the user's key
/// and the 32-byte voucher digest in its own data.
pub const VOUCHER_ED25519_DATA_BYTES: usize = 2 + 14 + 32 + 32;
const ED25519_PUBKEY_OFFSET: usize = 16;
const ED25519_DIGEST_OFFSET: usize = 48;

/// What the user signs: H(VOUCHER_DOMAIN || program id || user || sequencer || cumulative u64 LE).
pub fn voucher_digest(program: &Address, user: &Address, sequencer: &Address, cumulative: u64) -> Hash32 {
    hashv(&[
        VOUCHER_DOMAIN,
        program.as_ref(),
        user.as_ref(),
        sequencer.as_ref(),
        &cumulative.to_le_bytes(),
    ])
}

/// Checks that the instruction right before this one is the Ed25519 program verifying exactly one
/// signature, by `user`, over the voucher digest for (`sequencer`, `cumulative`). Every offset is
/// pinned: the signature is read from this instruction's data (compared byte for byte with
/// `signature`), the key and digest from the Ed25519 instruction's own data.
fn check_voucher(
    ixs: &SysvarInstructions,
    user: &Address,
    sequencer: &Address,
    cumulative: u64,
    signature: &[u8; VOUCHER_SIGNATURE_BYTES],
) -> Result<()> {
    let current = ixs.load_current_index();
    if current == 0 {
        return Err(OptinferError::MissingVoucherSignature.into());
    }
    let ed = ixs
        .load_instruction_at(current as usize - 1)
        .map_err(|_| OptinferError::MissingVoucherSignature)?;
    if ed.get_program_id() != &ED25519_PROGRAM_ID {
        return Err(OptinferError::MissingVoucherSignature.into());
    }
    let d = ed.get_instruction_data();
    if d.len() != VOUCHER_ED25519_DATA_BYTES || d[0] != 1 {
        return Err(OptinferError::BadVoucherSignature.into());
    }
    // signature (offset, ix), public key (offset, ix), message (offset, size, ix): u16::MAX is
    // the Ed25519 instruction itself.
    let want: [u16; 7] = [
        DRAW_SIGNATURE_OFFSET as u16,
        current,
        ED25519_PUBKEY_OFFSET as u16,
        u16::MAX,
        ED25519_DIGEST_OFFSET as u16,
        32,
        u16::MAX,
    ];
    for (k, w) in want.iter().enumerate() {
        if u16::from_le_bytes([d[2 + 2 * k], d[3 + 2 * k]]) != *w {
            return Err(OptinferError::BadVoucherSignature.into());
        }
    }
    if d[ED25519_PUBKEY_OFFSET..ED25519_DIGEST_OFFSET] != user.as_ref()[..]
        || d[ED25519_DIGEST_OFFSET..] != voucher_digest(&crate::ID, user, sequencer, cumulative)
    {
        return Err(OptinferError::BadVoucherSignature.into());
    }
    // The bytes the Ed25519 program read as the signature are this one's (also when draw_deposit
    // runs by CPI and the current top-level instruction is another program's).
    let me = ixs
        .load_instruction_at(current as usize)
        .map_err(|_| OptinferError::BadVoucherSignature)?;
    let md = me.get_instruction_data();
    if md.len() < DRAW_SIGNATURE_OFFSET + VOUCHER_SIGNATURE_BYTES
        || md[DRAW_SIGNATURE_OFFSET..DRAW_SIGNATURE_OFFSET + VOUCHER_SIGNATURE_BYTES] != signature[..]
    {
        return Err(OptinferError::BadVoucherSignature.into());
    }
    Ok(())
}

#[derive(Accounts)]
pub struct DrawDeposit {
    #[account(mut)]
    pub sequencer: Signer,
    #[account(seeds = [seeds::CONFIG], bump = config.bump,
        constraint = config.sequencer == *sequencer.address() @ OptinferError::NotSequencer)]
    pub config: Account<Config>,
    #[account(mut, seeds = [seeds::DEPOSIT, deposit.user.as_ref()], bump = deposit.bump)]
    pub deposit: Account<Deposit>,
    pub instructions_sysvar: Sysvar<SysvarInstructions>,
}

/// Pays the sequencer `min(cumulative - drawn, balance)`. Allowed while paused and during a
/// pending withdrawal: the withdrawal delay exists so that this draw lands first.
pub fn draw_deposit(
    ctx: &mut Context<DrawDeposit>,
    cumulative: u64,
    signature: [u8; VOUCHER_SIGNATURE_BYTES],
) -> Result<()> {
    let sequencer = *ctx.accounts.sequencer.address();
    let user = ctx.accounts.deposit.user;
    check_voucher(
        &ctx.accounts.instructions_sysvar,
        &user,
        &sequencer,
        cumulative,
        &signature,
    )?;
    let d = &mut ctx.accounts.deposit;
    let drawn = d.drawn.get();
    if cumulative <= drawn {
        msg!("voucher for {} lamports, {} already drawn", cumulative, drawn);
        return Err(OptinferError::VoucherAlreadyDrawn.into());
    }
    let balance = d.balance.get();
    if balance == 0 {
        return Err(OptinferError::DepositEmpty.into());
    }
    // A voucher above the balance pays the balance; the rest stays owed, drawable after a top-up.
    let amount = core::cmp::min(cumulative - drawn, balance);
    d.balance = (balance - amount).into();
    d.drawn = (drawn + amount).into();
    let drawn = d.drawn.get();
    let mut from = *ctx.accounts.deposit.account();
    let mut to = *ctx.accounts.sequencer.account();
    from.set_lamports(from.lamports().checked_sub(amount).ok_or(OptinferError::Overflow)?);
    to.set_lamports(to.lamports().checked_add(amount).ok_or(OptinferError::Overflow)?);
    emit!(DepositDrawn {
        user,
        sequencer,
        amount,
        drawn,
        balance: balance - amount
    });
    Ok(())
}
