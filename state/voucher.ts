// The user's payment voucher: an Ed25519 signature over the cumulative fees of its jobs a sequencer accepted, which draw_deposit redeems.
import { hash as oneShot } from 'node:crypto';
import { PublicKey } from '@solana/web3.js';
import sodium from 'sodium-native';
import { OptinferError } from './errors.ts';
import { u64 } from './le.ts';

/**
 * Domain of the voucher signature: 0xff then ASCII "optinfer voucher", in the style of the result
 * signature (state/job.ts RESULT_DOMAIN): the signed 32-byte digest is never a Solana message and its
 * preimage is no protocol hash input (tags < 0x10). Byte for byte draw_deposit.rs VOUCHER_DOMAIN.
 */
export const VOUCHER_DOMAIN = Buffer.from('\xffoptinfer voucher', 'latin1');
export const VOUCHER_SIGNATURE_BYTES = 64;
/** Largest cumulative amount a voucher can carry (u64). */
export const MAX_VOUCHER = (1n << 64n) - 1n;

/** What a voucher binds: the program that redeems it, the paying user, the sequencer paid, and the running total. */
export interface VoucherTerms {
  programId: PublicKey;
  user: PublicKey;
  sequencer: PublicKey;
  /** Lamports the user owes the sequencer over the deposit's life (never decreases). */
  cumulative: bigint;
}

function checkCumulative(c: bigint): void {
  if (typeof c !== 'bigint' || c < 0n || c > MAX_VOUCHER) {
    throw new OptinferError(
      'INVALID_INPUT',
      `voucher cumulative: expected a u64 in lamports, got ${String(c)}`,
    );
  }
}

/** The message the user signs: H(VOUCHER_DOMAIN || program id || user || sequencer || cumulative u64 LE). */
export function voucherDigest(t: VoucherTerms): Buffer {
  checkCumulative(t.cumulative);
  return oneShot(
    'sha256',
    Buffer.concat([
      VOUCHER_DOMAIN,
      t.programId.toBuffer(),
      t.user.toBuffer(),
      t.sequencer.toBuffer(),
      u64(t.cumulative),
    ]),
    'buffer',
  );
}

/** Signs `t` with the user's 64-byte Solana secret key (seed || public key), which must be t.user's. */
export function signVoucher(t: VoucherTerms, secretKey: Uint8Array): Buffer {
  if (secretKey.length !== sodium.crypto_sign_SECRETKEYBYTES) {
    throw new OptinferError('INVALID_INPUT', `user secret key: expected 64 bytes, got ${secretKey.length}`);
  }
  if (!Buffer.from(secretKey.subarray(32)).equals(t.user.toBuffer())) {
    throw new OptinferError('INVALID_INPUT', `voucher: the secret key is not user ${t.user.toBase58()}'s`);
  }
  const sig = Buffer.alloc(VOUCHER_SIGNATURE_BYTES);
  sodium.crypto_sign_detached(sig, voucherDigest(t), Buffer.from(secretKey.buffer, secretKey.byteOffset, 64));
  return sig;
}

/**
 * Whether `signature` is t.user's signature over voucherDigest(t); anything malformed is simply false.
 * libsodium's check is strict, so a voucher it accepts the Ed25519 program accepts too: the sequencer
 * can redeem every voucher it took.
 */
export function verifyVoucher(t: VoucherTerms, signature: Uint8Array): boolean {
  if (signature.length !== VOUCHER_SIGNATURE_BYTES) return false;
  if (typeof t.cumulative !== 'bigint' || t.cumulative < 0n || t.cumulative > MAX_VOUCHER) return false;
  return sodium.crypto_sign_verify_detached(
    Buffer.from(signature.buffer, signature.byteOffset, signature.length),
    voucherDigest(t),
    t.user.toBuffer(),
  );
}
