// Little-endian unsigned integers, the byte order of every protocol field the program reads (docs/PROTOCOL.md).

import { OptinferError } from './errors.ts';

// A value that does not fit would be silently wrapped by a DataView, giving bytes the program reads
// as another number; the checks make that an INVALID_INPUT error instead.
function checkUint(v: number, bits: 16 | 32): void {
  if (!Number.isInteger(v) || v < 0 || v > 2 ** bits - 1) {
    throw new OptinferError(
      'INVALID_INPUT',
      `u${bits}: expected an integer in [0, ${2 ** bits - 1}], got ${v}`,
    );
  }
}

export function u16(v: number): Buffer {
  checkUint(v, 16);
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}

export function u32(v: number): Buffer {
  checkUint(v, 32);
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

export function u64(v: number | bigint): Buffer {
  if (typeof v === 'number' && !Number.isInteger(v)) {
    throw new OptinferError('INVALID_INPUT', `u64: expected an integer, got ${v}`);
  }
  const n = BigInt(v);
  if (n < 0n || n > 0xffff_ffff_ffff_ffffn) {
    throw new OptinferError('INVALID_INPUT', `u64: expected an integer in [0, 2^64 - 1], got ${n}`);
  }
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
}
