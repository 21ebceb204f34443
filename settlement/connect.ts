// Wiring: a SettlementClient over a JSON-RPC cluster (--rpc URL --keypair FILE) or in-process LiteSVM.
import { Connection, type Commitment, type PublicKey } from '@solana/web3.js';
import { SettlementClient, type SettlementClientOptions } from './client.ts';
import { LiteSvmSender, RpcSender, type LiteSvmSenderOptions, type RpcSenderOptions } from './sender.ts';

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
