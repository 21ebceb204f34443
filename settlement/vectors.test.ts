// Shared vectors with the Rust side: seeds, discriminators, error codes, event and account layouts read
// from the program's sources; every instruction of a whole dispute with the accounts the program harness
// writes out by hand; account sizes equal to what the program creates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import anchor, { type Idl } from '@coral-xyz/anchor';
import BN from 'bn.js';
import { address as kitAddress } from '@solana/kit';
import {
  Connection,
  Keypair,
  PublicKey,
  SystemProgram,
  SYSVAR_INSTRUCTIONS_PUBKEY,
  type AccountMeta,
  type TransactionInstruction,
} from '@solana/web3.js';
import * as P from '../programs/tests/lib/protocol.ts';
import { Harness, PDA as HARNESS_PDA, coder as harnessCoder } from '../programs/tests/lib/svm.ts';
import { attempt, cheatLayers, playToOneStep, startGame } from '../programs/tests/lib/game.ts';
import { signVoucher } from '../state/voucher.ts';
import { run } from '../programs/tests/lib/model.ts';
import { IDL, INSTRUCTION_DISCRIMINATORS, PROGRAM_ID } from './idl.ts';
import { SEEDS, pdas } from './pdas.ts';
import { InstructionBuilder, MAX_BATCH_JOBS } from './instructions.ts';
import { accountKind, PROOF_BUFFER_DATA_OFFSET } from './accounts.ts';
import { LiteSvmSender } from './sender.ts';
import { upperSnake, programErrorCode } from './errors.ts';
import { structFields } from './codec.ts';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../programs/optinfer/src');
const rust = (f: string) => readFileSync(path.join(SRC, f), 'utf8');

test('seed prefixes equal state/seeds.rs and the IDL; PDAs equal the harness and anchor', () => {
  const fromRust = Object.fromEntries(
    [...rust('state/seeds.rs').matchAll(/pub const (\w+): &\[u8\] = b"([^"]*)";/g)].map((m) => [m[1], m[2]]),
  );
  assert.deepEqual(fromRust, { ...SEEDS });
  // Every const seed in the IDL is one of them.
  const consts = new Set<string>();
  for (const ix of IDL.instructions) {
    for (const a of ix.accounts as { pda?: { seeds: { kind: string; value?: number[] }[] } }[]) {
      for (const s of a.pda?.seeds ?? [])
        if (s.kind === 'const') consts.add(Buffer.from(s.value!).toString());
    }
  }
  for (const c of consts) assert.ok(Object.values(SEEDS).includes(c as never), `IDL seed ${c}`);

  const owner = Keypair.generate().publicKey;
  const modelId = Buffer.alloc(32, 5);
  const model = pdas.model(modelId);
  const batch = pdas.batch(258);
  const dispute = pdas.dispute(batch, 70000, owner);
  assert.ok(pdas.config().equals(HARNESS_PDA.config()));
  assert.ok(pdas.vault().equals(HARNESS_PDA.vault()));
  assert.ok(pdas.operator(owner).equals(HARNESS_PDA.operator(owner)));
  assert.ok(model.equals(HARNESS_PDA.model(modelId)));
  assert.ok(pdas.ops(model, 3).equals(HARNESS_PDA.ops(model, 3)));
  assert.ok(pdas.opsForLayer(model, 100).equals(HARNESS_PDA.ops(model, 3)));
  assert.ok(batch.equals(HARNESS_PDA.batch(258)));
  assert.ok(dispute.equals(HARNESS_PDA.dispute(batch, 70000, owner)));
  assert.ok(pdas.job(batch, 70000).equals(HARNESS_PDA.job(batch, 70000)));
  assert.ok(pdas.proof(dispute, owner).equals(HARNESS_PDA.proof(dispute, owner)));
  assert.ok(pdas.deposit(owner).equals(HARNESS_PDA.deposit(owner)));
});

test('instruction discriminators equal #[discrim = N] in lib.rs; test-only ones are not in the IDL', () => {
  const lib = rust('lib.rs');
  const all = [...lib.matchAll(/(#\[cfg\(feature = "(\w+)"\)\]\s*)?#\[discrim = (\d+)\]\s*pub fn (\w+)/g)];
  const deployed = Object.fromEntries(all.filter((m) => !m[2]).map((m) => [m[4], Number(m[3])]));
  assert.deepEqual(INSTRUCTION_DISCRIMINATORS, deployed);
  assert.equal(Object.keys(deployed).length, 43);
  assert.deepEqual(
    all.filter((m) => m[2]).map((m) => [m[4], m[2], Number(m[3])]),
    [['check', 'check', 19]],
  );
});

test('error codes: errors.rs order from 6000 equals the IDL the client maps through', () => {
  const src = rust('errors.rs');
  const body = src.slice(src.indexOf('pub enum OptinferError'));
  const names = [...body.matchAll(/^\s*(\w+),\s*$/gm)].map((m) => m[1]);
  assert.deepEqual(
    IDL.errors.map((e) => [e.code, e.name]),
    names.map((n, i) => [6000 + i, n]),
  );
  assert.equal(programErrorCode('BadBatchIndex'), 'PROGRAM_BAD_BATCH_INDEX');
  assert.equal(upperSnake('ConstraintDuplicateMutableAccount'), 'CONSTRAINT_DUPLICATE_MUTABLE_ACCOUNT');
});

function rustStructFields(file: string, name: string): string[] {
  const src = rust(file);
  const at = src.indexOf(`pub struct ${name} {`);
  assert.ok(at >= 0, `${name} in ${file}`);
  const body = src.slice(at, src.indexOf('\n}', at));
  return [...body.matchAll(/^\s*pub (\w+):/gm)].map((m) => m[1]);
}

test('account and event field order equal the Rust structs', () => {
  const files = readdirSync(path.join(SRC, 'state')).map((f) => `state/${f}`);
  for (const a of IDL.accounts ?? []) {
    const file = files.find((f) => rust(f).includes(`pub struct ${a.name} {`))!;
    assert.deepEqual(
      structFields(a.name).map((f) => f.name),
      rustStructFields(file, a.name),
      a.name,
    );
  }
  for (const e of IDL.events ?? []) {
    assert.deepEqual(
      structFields(e.name).map((f) => f.name),
      rustStructFields('events.rs', e.name),
      e.name,
    );
  }
});

test('hand-encoded bytes: commit_batch and open_dispute', () => {
  const b = new InstructionBuilder();
  const seq = Keypair.generate().publicKey;
  const root = Buffer.alloc(32, 0x11);
  const ix = b.commitBatch({
    sequencer: seq,
    index: 0x0102030405n,
    root,
    jobCount: 0x0a0b,
    feeTotal: 0x0c0dn,
  });
  assert.equal(
    ix.data.toString('hex'),
    '07' + '0504030201000000' + root.toString('hex') + '0b0a0000' + '0d0c000000000000',
  );
  assert.deepEqual(
    ix.keys.map((k) => [k.pubkey.toBase58(), k.isSigner, k.isWritable]),
    [
      [seq.toBase58(), true, true],
      [pdas.config().toBase58(), false, true],
      [pdas.batch(0x0102030405n).toBase58(), false, true],
      [pdas.operator(seq).toBase58(), false, false],
      ['11111111111111111111111111111111', false, false],
    ],
  );
  const record = Buffer.alloc(168, 3);
  const signature = Buffer.alloc(64, 4);
  const sib = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
  const od = b.openDispute({
    challenger: seq,
    batchIndex: 4,
    jobIndex: 9,
    record,
    signature,
    siblings: sib,
    siblingFees: [7n, 0x0102n],
  });
  // Each batch tree sibling is its hash, then the fee sum under it (u64 LE).
  assert.equal(
    od.data.toString('hex'),
    '09' +
      '09000000' +
      record.toString('hex') +
      signature.toString('hex') +
      '02000000' +
      sib[0].toString('hex') +
      '0700000000000000' +
      sib[1].toString('hex') +
      '0201000000000000',
  );
  assert.throws(
    () =>
      b.openDispute({
        challenger: seq,
        batchIndex: 4,
        jobIndex: 9,
        record,
        signature,
        siblings: sib,
        siblingFees: [],
      }),
    /expected one fee sum per sibling \(2\), got 0/,
  );
  // The Ed25519 check reads key and signature from open_dispute's data (at instruction 1), the digest from its own.
  const ed = b.resultSignatureCheck({ record, openDisputeIndex: 1 });
  assert.equal(
    ed.data.subarray(0, 16).toString('hex'),
    '0100' + 'ad00' + '0100' + '8500' + '0100' + '1000' + '2000' + 'ffff',
  );
  assert.equal(ed.data.length, 48);
  assert.equal(od.data.subarray(0xad, 0xad + 64).toString('hex'), signature.toString('hex'));
  assert.equal(od.data.subarray(0x85, 0x85 + 32).toString('hex'), record.subarray(128, 160).toString('hex'));
  assert.ok(od.keys[3].pubkey.equals(pdas.model(record.subarray(32, 64))));
  assert.ok(od.keys[4].pubkey.equals(pdas.operator(new PublicKey(record.subarray(128, 160)))));
});

test('hand-encoded bytes: draw_deposit and the Ed25519 voucher check before it', () => {
  const b = new InstructionBuilder();
  const seq = Keypair.generate().publicKey;
  const user = Keypair.generate().publicKey;
  const signature = Buffer.alloc(64, 9);
  const ix = b.drawDeposit({ sequencer: seq, user, cumulative: 0x0102030405n, signature });
  assert.equal(ix.data.toString('hex'), '23' + '0504030201000000' + signature.toString('hex'));
  assert.deepEqual(
    ix.keys.map((k) => [k.pubkey.toBase58(), k.isSigner, k.isWritable]),
    [
      [seq.toBase58(), true, true],
      [HARNESS_PDA.config().toBase58(), false, false],
      [HARNESS_PDA.deposit(user).toBase58(), false, true],
      [SYSVAR_INSTRUCTIONS_PUBKEY.toBase58(), false, false],
    ],
  );
  // The signature is read from draw_deposit's data (at instruction 1, byte 9), key and digest from its own.
  const ed = b.voucherSignatureCheck({ user, sequencer: seq, cumulative: 0x0102030405n, drawIndex: 1 });
  assert.equal(
    ed.data.subarray(0, 16).toString('hex'),
    '0100' + '0900' + '0100' + '1000' + 'ffff' + '3000' + '2000' + 'ffff',
  );
  assert.equal(ed.data.length, 80);
  assert.equal(ed.data.subarray(16, 48).toString('hex'), user.toBuffer().toString('hex'));
  const le = Buffer.alloc(8);
  le.writeBigUInt64LE(0x0102030405n);
  const digest = P.sha(
    Buffer.from('\xffoptinfer voucher', 'latin1'),
    PROGRAM_ID.toBuffer(),
    user.toBuffer(),
    seq.toBuffer(),
    le,
  );
  assert.equal(ed.data.subarray(48, 80).toString('hex'), digest.toString('hex'));
  assert.equal(
    b.drawDepositIxs({ sequencer: seq, user, cumulative: 1n, signature }, 2)[0].data.readUInt16LE(4),
    3,
  );
});

test('hand-encoded bytes: claim_fees, its claims and the Job addresses that follow them', () => {
  const b = new InstructionBuilder();
  const exec = Keypair.generate().publicKey;
  const record = Buffer.alloc(168, 3);
  const signature = Buffer.alloc(64, 4);
  const sib = [Buffer.alloc(32, 1)];
  const claims = [
    { jobIndex: 5, record, signature, siblings: sib, siblingFees: [1000n] },
    { jobIndex: 6, record, signature, siblings: [], siblingFees: [] },
  ];
  const ix = b.claimFees({ executor: exec, batchIndex: 2, claims, withJobs: true });
  assert.equal(
    ix.data.toString('hex'),
    '20' +
      '02000000' +
      '05000000' +
      record.toString('hex') +
      signature.toString('hex') +
      '01000000' +
      sib[0].toString('hex') +
      'e803000000000000' +
      '06000000' +
      record.toString('hex') +
      signature.toString('hex') +
      '00000000',
  );
  const batch = HARNESS_PDA.batch(2);
  assert.deepEqual(
    ix.keys.map((k) => [k.pubkey.toBase58(), k.isSigner, k.isWritable]),
    [
      [exec.toBase58(), true, true],
      [batch.toBase58(), false, true],
      [pdas.operator(exec).toBase58(), false, true],
      [HARNESS_PDA.job(batch, 5).toBase58(), false, false],
      [HARNESS_PDA.job(batch, 6).toBase58(), false, false],
    ],
  );
  assert.equal(b.claimFees({ executor: exec, batchIndex: 2, claims, withJobs: false }).keys.length, 3);
});

test('hand-encoded bytes: prove_short_escrow, its opening and its accounts', () => {
  const b = new InstructionBuilder();
  const prover = Keypair.generate().publicKey;
  const seq = Keypair.generate().publicKey;
  const record = Buffer.alloc(168, 3);
  const signature = Buffer.alloc(64, 4);
  const ix = b.proveShortEscrow({
    prover,
    sequencer: seq,
    batchIndex: 2,
    jobIndex: 1,
    record,
    signature,
    siblings: [Buffer.alloc(32, 1)],
    siblingFees: [2n],
  });
  assert.equal(
    ix.data.toString('hex'),
    '21' +
      '01000000' +
      record.toString('hex') +
      signature.toString('hex') +
      '01000000' +
      Buffer.alloc(32, 1).toString('hex') +
      '0200000000000000',
  );
  assert.deepEqual(
    ix.keys.map((k) => [k.pubkey.toBase58(), k.isSigner, k.isWritable]),
    [
      [prover.toBase58(), true, true],
      [pdas.config().toBase58(), false, false],
      [HARNESS_PDA.batch(2).toBase58(), false, true],
      [pdas.operator(seq).toBase58(), false, true],
      [pdas.vault().toBase58(), false, true],
    ],
  );
});

test("anchor's Program.methods (camelCase IDL, PDAs resolved from seeds) builds the same instructions", async () => {
  const k = Keypair.generate();
  const program = new anchor.Program(
    IDL as Idl,
    new anchor.AnchorProvider(new Connection('http://127.0.0.1:9'), new anchor.Wallet(k), {}),
  );
  const b = new InstructionBuilder();
  const same = (x: TransactionInstruction, y: TransactionInstruction) => {
    assert.equal(x.data.toString('hex'), y.data.toString('hex'));
    assert.deepEqual(
      x.keys.map((m) => [m.pubkey.toBase58(), m.isSigner, m.isWritable]),
      y.keys.map((m) => [m.pubkey.toBase58(), m.isSigner, m.isWritable]),
    );
  };
  same(
    b.bond({ owner: k.publicKey, amount: 123n }),
    await program.methods.bond(new BN(123)).accounts({ owner: k.publicKey }).instruction(),
  );
  same(
    b.commitBatch({ sequencer: k.publicKey, index: 3, root: Buffer.alloc(32, 9), jobCount: 2 }),
    await program.methods
      .commitBatch(new BN(3), [...Buffer.alloc(32, 9)], 2, new BN(0))
      .accounts({ sequencer: k.publicKey })
      .instruction(),
  );
  same(
    b.requestUnbond({ owner: k.publicKey, amount: 5n }),
    await program.methods.requestUnbond(new BN(5)).accounts({ owner: k.publicKey }).instruction(),
  );
  same(
    b.withdraw({ owner: k.publicKey }),
    await program.methods.withdraw().accounts({ owner: k.publicKey }).instruction(),
  );
});

/**
 * The account list of a program instruction written out by hand (order, signer and writable flags,
 * PDAs derived by the program harness's svm.ts from the seeds), independent of the client's IDL-driven
 * builder; `keys` are the instruction's own accounts, read only to find the accounts it acts on.
 */
function handAccounts(
  sender: LiteSvmSender,
  name: string,
  a: Record<string, any>,
  keys: PublicKey[],
): AccountMeta[] {
  const w = (pubkey: PublicKey, isSigner = false) => ({ pubkey, isSigner, isWritable: true });
  const r = (pubkey: PublicKey, isSigner = false) => ({ pubkey, isSigner, isWritable: false });
  const sys = r(SystemProgram.programId);
  const fetch = (kind: string, at: PublicKey) => harnessCoder.accounts.decode(kind, sender.accountData(at)!);
  const signer = keys[0];
  const config = HARNESS_PDA.config();
  const resolve = (dispute: PublicKey) => {
    const d = fetch('Dispute', dispute);
    return [
      w(dispute),
      r(config),
      w(d.batch),
      w(HARNESS_PDA.operator(d.executor)),
      w(HARNESS_PDA.operator(d.challenger)),
      w(HARNESS_PDA.vault()),
      w(HARNESS_PDA.job(d.batch, d.job_index)),
    ];
  };
  switch (name) {
    case 'initialize':
      return [w(signer, true), w(config), w(HARNESS_PDA.vault()), sys];
    case 'register_model':
      return [w(signer, true), r(config), w(HARNESS_PDA.model(Buffer.from(a.model_id))), sys];
    case 'add_model_ops': {
      const model = HARNESS_PDA.model(Buffer.from(fetch('Model', keys[2]).model_id));
      return [
        w(signer, true),
        // Writable: each accepted layer may raise Config.clock_floor.
        w(config),
        w(model),
        w(HARNESS_PDA.ops(model, a.page)),
        w(HARNESS_PDA.shapes(model)),
        sys,
      ];
    }
    case 'init_model_shapes':
    case 'write_model_shapes': {
      const model = HARNESS_PDA.model(Buffer.from(fetch('Model', keys[2]).model_id));
      return [w(signer, true), r(config), r(model), w(HARNESS_PDA.shapes(model)), sys];
    }
    case 'bond':
      return [w(signer, true), r(config), w(HARNESS_PDA.operator(signer)), sys];
    case 'deposit':
      return [w(signer, true), r(config), w(HARNESS_PDA.deposit(signer)), sys];
    case 'draw_deposit': {
      // The deposit of the user it names, read back from the account the instruction passes.
      const user = new PublicKey(fetch('Deposit', keys[2]).user);
      return [w(signer, true), r(config), w(HARNESS_PDA.deposit(user)), r(SYSVAR_INSTRUCTIONS_PUBKEY)];
    }
    case 'request_withdraw_deposit':
      return [r(signer, true), r(config), w(HARNESS_PDA.deposit(signer))];
    case 'withdraw_deposit':
      return [w(signer, true), r(config), w(HARNESS_PDA.deposit(signer))];
    case 'commit_batch':
      return [
        w(signer, true),
        w(config),
        w(HARNESS_PDA.batch(BigInt(a.index.toString()))),
        r(HARNESS_PDA.operator(signer)),
        sys,
      ];
    case 'finalize_batch':
      return [r(config), w(HARNESS_PDA.batch(BigInt(fetch('Batch', keys[1]).index.toString())))];
    case 'claim_fees': {
      const b = fetch('Batch', keys[2]);
      const batch = HARNESS_PDA.batch(BigInt(b.index.toString()));
      // With invalidated jobs in the batch, each claimed job's Job address follows, in claim order.
      const jobs =
        b.invalidated > 0
          ? (a.claims as { job_index: number }[]).map((c) => r(HARNESS_PDA.job(batch, c.job_index)))
          : [];
      return [
        w(signer, true),
        r(config),
        w(batch),
        w(HARNESS_PDA.operator(signer)),
        w(HARNESS_PDA.operator(b.payer)),
        ...jobs,
      ];
    }
    case 'open_dispute': {
      const record = Buffer.from(a.record);
      const batch = HARNESS_PDA.batch(BigInt(fetch('Batch', keys[2]).index.toString()));
      return [
        w(signer, true),
        r(config),
        w(batch),
        r(HARNESS_PDA.model(record.subarray(32, 64))),
        w(HARNESS_PDA.operator(new PublicKey(record.subarray(128, 160)))),
        w(HARNESS_PDA.operator(signer)),
        w(HARNESS_PDA.job(batch, a.job_index)),
        w(HARNESS_PDA.dispute(batch, a.job_index, signer)),
        sys,
        r(SYSVAR_INSTRUCTIONS_PUBKEY),
      ];
    }
    case 'commit_trace':
      return [r(signer, true), w(keys[1]), r(config), r(fetch('Dispute', keys[1]).model)];
    case 'bisect_layer':
    case 'reveal_layer':
    case 'bisect_chunk':
    case 'reveal_leaf':
      return [r(signer, true), w(keys[1]), r(config)];
    case 'init_proof_buffer':
      return [w(signer, true), r(keys[1]), w(HARNESS_PDA.proof(keys[1], signer)), sys];
    case 'write_proof_buffer':
    case 'close_proof_buffer': {
      const dispute = fetch('ProofBuffer', keys[1]).dispute as PublicKey;
      const buf = w(HARNESS_PDA.proof(dispute, signer));
      return name === 'write_proof_buffer' ? [w(signer, true), buf, sys] : [w(signer, true), buf];
    }
    case 'one_step': {
      const d = fetch('Dispute', keys[1]);
      return [
        r(signer, true),
        ...resolve(keys[1]),
        r(d.model),
        r(HARNESS_PDA.ops(d.model, Math.floor(d.disagree / 32))),
        r(HARNESS_PDA.proof(keys[1], signer)),
        r(HARNESS_PDA.shapes(d.model)),
      ];
    }
    case 'claim_timeout':
      return resolve(keys[0]);
    case 'end_moot_game': {
      const d = fetch('Dispute', keys[0]);
      return [
        w(keys[0]),
        w(d.challenger),
        w(d.batch),
        w(HARNESS_PDA.job(d.batch, d.job_index)),
        w(HARNESS_PDA.operator(d.executor)),
        w(HARNESS_PDA.operator(d.challenger)),
      ];
    }
    default:
      throw new Error(`no hand-written accounts for ${name}`);
  }
}

test('every instruction SettlementClient sends in a whole dispute has the hand-written accounts of the program harness', async () => {
  const seen = new Map<string, number>();
  const orig = LiteSvmSender.prototype.sendSync;
  // Checks each instruction just before it is sent (the accounts it reads are as then).
  LiteSvmSender.prototype.sendSync = function (this: LiteSvmSender, ixs, signers, opts) {
    for (const ix of ixs) {
      if (!ix.programId.equals(PROGRAM_ID)) continue;
      const dec = harnessCoder.instruction.decode(ix.data);
      assert.ok(dec, 'decodable by the IDL');
      const args = dec.data as Record<string, any>;
      assert.equal(
        harnessCoder.instruction.encode(dec.name, args).toString('hex'),
        ix.data.toString('hex'),
        `${dec.name} data is the canonical encoding of its arguments`,
      );
      const keys = ix.keys.map((m) => m.pubkey);
      assert.deepEqual(
        ix.keys.map((m) => [m.pubkey.toBase58(), m.isSigner, m.isWritable]),
        handAccounts(this, dec.name, args, keys).map((m) => [m.pubkey.toBase58(), m.isSigner, m.isWritable]),
        `${dec.name} accounts`,
      );
      seen.set(dec.name, (seen.get(dec.name) ?? 0) + 1);
    }
    return orig.call(this, ixs, signers, opts);
  };
  try {
    const g = await startGame((m) => cheatLayers(m, 2, 1), run);
    // A second challenger's game on the same job, moot once the first game invalidates the job.
    const other = await g.world.operator(5_000_000_000n);
    const moot = await g.world.openDispute(other, g.batch, 1);
    g.world.must(moot.res, 'second open_dispute');
    await playToOneStep(g);
    await g.chal.submitOneStep(g.dispute);
    g.world.must(await g.chal.closeBuffer(g.dispute), 'close');
    g.world.must(await g.world.endMootGame(g.world.authority, moot.dispute), 'end_moot_game');
    // A second game ends by timeout and its batch finalizes.
    const t = await startGame(run, run);
    t.world.warp(1000);
    t.world.must(await t.world.claimTimeout(t.world.authority, t.dispute), 'claim_timeout');
    t.world.must(await t.world.finalize(t.world.authority, t.batch.index), 'finalize');
    // A user's deposit: the sequencer draws a voucher, the user withdraws the rest.
    const user = t.world.fund();
    t.world.must(await attempt(t.world.client.deposit(user, 1_000_000n)), 'deposit');
    const v = {
      programId: PROGRAM_ID,
      user: user.publicKey,
      sequencer: t.world.sequencer.publicKey,
      cumulative: 7n,
    };
    const signature = signVoucher(v, user.secretKey);
    t.world.must(
      await attempt(t.world.client.drawDeposit(t.world.sequencer, { ...v, signature })),
      'draw_deposit',
    );
    t.world.must(await attempt(t.world.client.requestWithdrawDeposit(user)), 'request_withdraw_deposit');
    t.world.warp(1000);
    t.world.must(await attempt(t.world.client.withdrawDeposit(user)), 'withdraw_deposit');

    // Account sizes: what the program created equals the IDL layout the client decodes.
    const sizes = new Map<string, number>();
    for (const w of [g.world, t.world]) {
      for (const acc of w.sender.svm.getProgramAccounts(kitAddress(PROGRAM_ID.toBase58()))) {
        const kind = accountKind(Buffer.from(acc.data));
        assert.ok(kind, `program account ${acc.address} has a known discriminator`);
        sizes.set(kind, acc.data.length);
      }
    }
    const width = (t: unknown): number => {
      if (typeof t === 'string') return { u8: 1, bool: 1, u16: 2, u32: 4, u64: 8, pubkey: 32 }[t] ?? NaN;
      const o = t as { array?: [unknown, number]; defined?: { name: string } };
      if (o.array) return width(o.array[0]) * o.array[1];
      if (o.defined) {
        const ty = IDL.types!.find((x) => x.name === o.defined!.name)!;
        return ty.type.kind === 'type' ? width(ty.type.alias) : NaN;
      }
      return NaN;
    };
    for (const [kind, size] of sizes) {
      // A batch: its fields, then a claim bitmap of one bit per job (state/batch.rs batch_space).
      if (kind === 'Batch') {
        const extra = size - 8 - structFields(kind).reduce((s, f) => s + width(f.type), 0);
        assert.ok(extra >= 1 && extra <= MAX_BATCH_JOBS / 8, `Batch size: ${extra} bitmap bytes`);
        continue;
      }
      // Slabs: a fixed header, a u32 length, then bytes the account grows to hold.
      if (kind === 'ProofBuffer' || kind === 'ModelShapes') {
        assert.ok(size >= 8 + structFields(kind).reduce((s, f) => s + width(f.type), 0) + 4, `${kind} size`);
        continue;
      }
      const expected = 8 + structFields(kind).reduce((s, f) => s + width(f.type), 0);
      assert.equal(size, expected, `${kind} size`);
    }
    assert.equal(PROOF_BUFFER_DATA_OFFSET, 8 + 32 + 32 + 1 + 4);
  } finally {
    LiteSvmSender.prototype.sendSync = orig;
  }
  for (const n of [
    'initialize',
    'register_model',
    'init_model_shapes',
    'write_model_shapes',
    'add_model_ops',
    'bond',
    'commit_batch',
    'open_dispute',
    'commit_trace',
    'bisect_layer',
    'reveal_layer',
    'bisect_chunk',
    'init_proof_buffer',
    'write_proof_buffer',
    'one_step',
    'close_proof_buffer',
    'claim_timeout',
    'end_moot_game',
    'finalize_batch',
    'deposit',
    'draw_deposit',
    'request_withdraw_deposit',
    'withdraw_deposit',
  ]) {
    assert.ok(seen.get(n), `${n} compared`);
  }
});

test("the VM agrees with state/: Merkle root over job records, trace root and last prefix (test build's check); the batch tree matches the independent one", async () => {
  const { Batch, encodeJobRecord, jobId, signResult } = await import('../state/job.ts');
  const { traceCommitment } = await import('../state/trace.ts');
  const { u32 } = await import('../state/le.ts');
  const vm = new Harness('test');
  const payer = vm.fund();
  const check = (kind: number, data: Buffer) => {
    const r = vm.send([vm.ix('check', { kind, data }, [])], [payer]);
    assert.ok(r.ok, `check ${kind}: ${r.error ?? r.raw}`);
    return r.returnData;
  };
  const execKey = Keypair.generate();
  const exec = execKey.publicKey.toBase58();
  const h = (i: number) => Buffer.alloc(32, i).toString('hex') as never;
  const records = [0, 1, 2].map((i) =>
    signResult(
      {
        jobId: jobId(i, h(1), h(2)),
        modelId: h(1),
        inputDigest: h(2),
        outputDigest: h(10 + i),
        executor: exec as never,
        fee: BigInt(1000 + i),
      },
      execKey.secretKey,
    ),
  );
  const batch = new Batch(0 as never, records);
  // Leaves are record || signature (the program's open_dispute hashes the same).
  const leaves = records.map((r) => Buffer.concat([encodeJobRecord(r), Buffer.from(r.signature, 'hex')]));
  const data = Buffer.concat([u32(leaves.length), ...leaves.flatMap((l) => [u32(l.length), l])]);
  const root = check(0, data);
  const { merkleRoot, leafHash } = await import('../state/merkle.ts');
  assert.equal(root.toString('hex'), Buffer.from(merkleRoot(leaves.map(leafHash))).toString('hex'));
  // The batch tree (a sum tree the program opens in open_dispute and claim_fees, exercised by the
  // LiteSVM suites) agrees with the test side's independent implementation.
  const levels = P.recordTree(
    records.map((r) => Buffer.from(encodeJobRecord(r))),
    records.map((r) => Buffer.from(r.signature, 'hex')),
  );
  assert.equal(P.batchRoot(levels).toString('hex'), batch.root);
  assert.equal(P.batchFees(levels), 3003n);
  assert.equal(batch.feeSum, 3003n);

  const digests = [3, 4, 5].map((i) => Buffer.alloc(32, i));
  const t = traceCommitment({
    modelId: h(1),
    inputDigest: h(2),
    profileHash: h(7),
    layerDigests: digests.map((d) => d.toString('hex') as never),
  });
  const out = check(
    2,
    Buffer.concat([Buffer.alloc(32, 1), Buffer.alloc(32, 2), Buffer.alloc(32, 7), u32(3), ...digests]),
  );
  assert.equal(out.subarray(0, 32).toString('hex'), t.root);
  assert.equal(out.subarray(32, 64).toString('hex'), t.prefixes[2]);
});
