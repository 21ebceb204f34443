// Converts Borsh-decoded IDL values into plain TypeScript values: u64 -> bigint, byte arrays -> Buffer,
// snake_case field names -> camelCase (used by account and event decoding).
import BN from 'bn.js';
import { PublicKey } from '@solana/web3.js';
import { OptinferError } from '../state/errors.ts';
import { IDL } from './idl.ts';

export const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The IDL type grammar this program's IDL uses (a subset of anchor's own IdlType). */
export type IdlType =
  | string
  | { array: [IdlType, number] }
  | { vec: IdlType }
  | { option: IdlType }
  | { defined: { name: string } };

const BIG = new Set(['u64', 'i64', 'u128', 'i128']);

interface IdlField {
  name: string;
  type: IdlType;
}

/** The struct fields of an IDL type (accounts and events share their name with their type). */
export function structFields(typeName: string): IdlField[] {
  const t = IDL.types?.find((x) => x.name === typeName);
  if (!t || t.type.kind !== 'struct' || !Array.isArray(t.type.fields)) {
    throw new OptinferError('INTERNAL', `IDL type ${typeName} is not a struct with named fields`);
  }
  return t.type.fields as unknown as IdlField[];
}

export function convert(value: unknown, type: IdlType): unknown {
  if (typeof type === 'string') {
    if (BIG.has(type)) return BigInt((value as BN).toString());
    if (type === 'pubkey') return value as PublicKey;
    if (type === 'bytes') return Buffer.from(value as Uint8Array);
    return value;
  }
  if ('array' in type) {
    const [inner] = type.array;
    if (inner === 'u8') return Buffer.from(value as number[]);
    return (value as unknown[]).map((v) => convert(v, inner));
  }
  if ('vec' in type) {
    if (type.vec === 'u8') return Buffer.from(value as number[]);
    return (value as unknown[]).map((v) => convert(v, type.vec));
  }
  if ('option' in type) return value === null ? null : convert(value, type.option);
  if ('defined' in type) {
    const name = type.defined.name;
    const alias = IDL.types?.find((x) => x.name === name);
    if (alias && alias.type.kind === 'type') return convert(value, alias.type.alias as IdlType);
    return convertStruct(value as Record<string, unknown>, name);
  }
  return value;
}

export function convertStruct(raw: Record<string, unknown>, typeName: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of structFields(typeName)) out[camel(f.name)] = convert(raw[f.name], f.type);
  return out;
}
