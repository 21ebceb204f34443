// Wiring: a SettlementClient over a JSON-RPC cluster (--rpc URL --keypair FILE) or in-process LiteSVM,
// and Solana CLI keypair files (a JSON array of the 64 secret-key bytes).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Connection, Keypair, type Commitment, type PublicKey } from '@solana/web3.js';
import { OptinferError } from '../state/errors.ts';
import { SettlementClient, type SettlementClientOptions } from './client.ts';
import { LiteSvmSender, RpcSender, type LiteSvmSenderOptions, type RpcSenderOptions } from './sender.ts';

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

export interface RpcConnectOptions extends RpcSenderOptions, SettlementClientOptions {
  /** JSON-RPC URL (http[s]://...). */
  rpc: string;
  /** Websocket URL for subscriptions; derived from `rpc` by web3.js when not given. */
  ws?: string;
  commitment?: Commitment;
}

/** A client over a real cluster (devnet, a local validator, surfpool). */
export function connectRpc(o: RpcConnectOptions): {
  client: SettlementClient;
  sender: RpcSender;
  connection: Connection;
} {
  const connection = new Connection(o.rpc, {
    commitment: o.commitment ?? 'confirmed',
    wsEndpoint: o.ws,
  });
  const sender = new RpcSender(connection, o);
  return { client: new SettlementClient(sender, o), sender, connection };
}

/** A client over the program running in-process in LiteSVM. */
export function connectLocal(
  o: LiteSvmSenderOptions & SettlementClientOptions & { programId?: PublicKey } = {},
): {
  client: SettlementClient;
  sender: LiteSvmSender;
} {
  const sender = new LiteSvmSender(o);
  return { client: new SettlementClient(sender, o), sender };
}
