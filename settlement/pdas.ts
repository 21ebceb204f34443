// Every PDA of the program, derived from the seeds of programs/optinfer/src/state/seeds.rs (one place).
import { PublicKey } from '@solana/web3.js';
import { OPS_PER_PAGE } from '../state/optable.ts';
import { OptinferError } from '../state/errors.ts';
import { u16, u32, u64 } from '../state/le.ts';
import { PROGRAM_ID } from './idl.ts';

/** Seed prefixes, byte for byte those of seeds.rs (checked by pdas.test.ts). */
export const SEEDS = {
  CONFIG: 'config',
  OPERATOR: 'operator',
  MODEL: 'model',
  OPS: 'ops',
  BATCH: 'batch',
  DISPUTE: 'dispute',
  JOB: 'job',
  PROOF: 'proof',
  VAULT: 'vault',
  SHAPES: 'shapes',
  DEPOSIT: 'deposit',
  DATA: 'data',
} as const;

const bytes32 = (v: Uint8Array, what: string) => {
  if (v.length !== 32)
    throw new OptinferError('INVALID_INPUT', `${what}: expected 32 bytes, got ${v.length}`);
  return Buffer.from(v);
};

/** PDA derivation for one program id; `pdas` below is the one for the declared id. */
export class Pdas {
  private cache = new Map<string, [PublicKey, number]>();
  constructor(readonly programId: PublicKey = PROGRAM_ID) {}

  private find(seeds: Buffer[]): [PublicKey, number] {
    const key = seeds.map((s) => s.toString('hex')).join('/');
    let hit = this.cache.get(key);
    if (!hit) {
      hit = PublicKey.findProgramAddressSync(seeds, this.programId);
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, hit);
    }
    return hit;
  }

  /** ["config"] */
  configWithBump() {
    return this.find([Buffer.from(SEEDS.CONFIG)]);
  }
  config(): PublicKey {
    return this.configWithBump()[0];
  }
  /** ["vault"]: the treasury vault resolutions pay. */
  vaultWithBump() {
    return this.find([Buffer.from(SEEDS.VAULT)]);
  }
  vault(): PublicKey {
    return this.vaultWithBump()[0];
  }
  /** ["operator", owner] */
  operatorWithBump(owner: PublicKey) {
    return this.find([Buffer.from(SEEDS.OPERATOR), owner.toBuffer()]);
  }
  operator(owner: PublicKey): PublicKey {
    return this.operatorWithBump(owner)[0];
  }
  /** ["model", model id (32 bytes)] */
  modelWithBump(modelId: Uint8Array) {
    return this.find([Buffer.from(SEEDS.MODEL), bytes32(modelId, 'model id')]);
  }
  model(modelId: Uint8Array): PublicKey {
    return this.modelWithBump(modelId)[0];
  }
  /** ["ops", model pda, u16 page LE] */
  opsWithBump(model: PublicKey, page: number) {
    return this.find([Buffer.from(SEEDS.OPS), model.toBuffer(), u16(page)]);
  }
  ops(model: PublicKey, page: number): PublicKey {
    return this.opsWithBump(model, page)[0];
  }
  /** ["shapes", model pda]: the model's shape record (state/model_shapes.rs). */
  shapesWithBump(model: PublicKey) {
    return this.find([Buffer.from(SEEDS.SHAPES), model.toBuffer()]);
  }
  shapes(model: PublicKey): PublicKey {
    return this.shapesWithBump(model)[0];
  }
  /** The OpsPage holding layer `layer`'s op entry. */
  opsForLayer(model: PublicKey, layer: number): PublicKey {
    return this.ops(model, Math.floor(layer / OPS_PER_PAGE));
  }
  /** ["batch", u64 index LE] */
  batchWithBump(index: number | bigint) {
    return this.find([Buffer.from(SEEDS.BATCH), u64(index)]);
  }
  batch(index: number | bigint): PublicKey {
    return this.batchWithBump(index)[0];
  }
  /** ["dispute", batch pda, u32 job index LE, challenger]: one game per (job, challenger). */
  disputeWithBump(batch: PublicKey, jobIndex: number, challenger: PublicKey) {
    return this.find([Buffer.from(SEEDS.DISPUTE), batch.toBuffer(), u32(jobIndex), challenger.toBuffer()]);
  }
  dispute(batch: PublicKey, jobIndex: number, challenger: PublicKey): PublicKey {
    return this.disputeWithBump(batch, jobIndex, challenger)[0];
  }
  /** ["job", batch pda, u32 job index LE]: the job's open games, shared executor stake and verdict. */
  jobWithBump(batch: PublicKey, jobIndex: number) {
    return this.find([Buffer.from(SEEDS.JOB), batch.toBuffer(), u32(jobIndex)]);
  }
  job(batch: PublicKey, jobIndex: number): PublicKey {
    return this.jobWithBump(batch, jobIndex)[0];
  }
  /** ["proof", dispute pda, owner] */
  proofWithBump(dispute: PublicKey, owner: PublicKey) {
    return this.find([Buffer.from(SEEDS.PROOF), dispute.toBuffer(), owner.toBuffer()]);
  }
  proof(dispute: PublicKey, owner: PublicKey): PublicKey {
    return this.proofWithBump(dispute, owner)[0];
  }
  /** ["deposit", user]: the user's prepaid balance the sequencer draws with its vouchers. */
  depositWithBump(user: PublicKey) {
    return this.find([Buffer.from(SEEDS.DEPOSIT), user.toBuffer()]);
  }
  deposit(user: PublicKey): PublicKey {
    return this.depositWithBump(user)[0];
  }
  /** ["data", batch pda, u32 job index LE]: a data request on one job (its answer's buffer is proof(request, answerer)). */
  dataRequestWithBump(batch: PublicKey, jobIndex: number) {
    return this.find([Buffer.from(SEEDS.DATA), batch.toBuffer(), u32(jobIndex)]);
  }
  dataRequest(batch: PublicKey, jobIndex: number): PublicKey {
    return this.dataRequestWithBump(batch, jobIndex)[0];
  }
}

export const pdas = new Pdas();
