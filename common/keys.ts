// Key files: Solana CLI keypairs (a JSON array of the 64 secret-key bytes) and the challenger's sampling secret.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Keypair } from '@solana/web3.js';
import { OptinferError } from '../state/errors.ts';
import { fromHex, toHex } from '../state/hash.ts';

/** Reads a Solana CLI keypair file (`solana-keygen new -o FILE`). */
export function loadKeypair(file: string): Keypair {
  if (!existsSync(file)) {
    throw new OptinferError(
      'INVALID_CONFIG',
      `keypair ${file}: no such file; expected a Solana CLI keypair file (optinfer keygen -o FILE)`,
    );
  }
  let bytes: unknown;
  try {
    bytes = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new OptinferError('INVALID_CONFIG', `keypair ${file}: not readable as JSON`, undefined, { cause });
  }
  if (
    !Array.isArray(bytes) ||
    bytes.length !== 64 ||
    !bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)
  ) {
    throw new OptinferError('INVALID_CONFIG', `keypair ${file}: expected a JSON array of 64 bytes`);
  }
  try {
    return Keypair.fromSecretKey(Uint8Array.from(bytes as number[]));
  } catch (cause) {
    throw new OptinferError('INVALID_CONFIG', `keypair ${file}: not a valid ed25519 secret key`, undefined, {
      cause,
    });
  }
}

/** Writes a keypair in the Solana CLI format, readable by its owner only. */
export function saveKeypair(file: string, k: Keypair): void {
  writeFileSync(file, JSON.stringify([...k.secretKey]), { mode: 0o600 });
}

/** Loads a Solana CLI keypair file, creating it (mode 0600) when missing. */
export function loadOrCreateKeypair(path: string): Keypair {
  if (existsSync(path)) return loadKeypair(path);
  const kp = Keypair.generate();
  saveKeypair(path, kp);
  return kp;
}

/** A 32-byte secret kept as hex in a file (the challenger's sampling secret), created (mode 0600) when missing. */
export function loadOrCreateSecret(path: string): Uint8Array {
  if (existsSync(path)) {
    const hex = readFileSync(path, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) {
      throw new OptinferError('INVALID_CONFIG', `challenger secret ${path}: expected 64 hex characters`);
    }
    return fromHex(hex, 32);
  }
  const s = new Uint8Array(randomBytes(32));
  writeFileSync(path, toHex(s) + '\n', { mode: 0o600 });
  return s;
}
