// The committed IDL drives @coral-xyz/anchor's Program: instruction building with PDA resolution
// from seeds, account decoding and events, against the SBF program in LiteSVM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import anchor, { type Idl } from '@coral-xyz/anchor';
import BN from 'bn.js';
import { Connection, Keypair } from '@solana/web3.js';
import { Harness, PDA, checkInstruction, idl } from './lib/svm.ts';
import { u32 as u32le } from '../../state/le.ts';
import { leafHash } from './lib/protocol.ts';

test('Program.methods builds instructions the program accepts, with PDAs resolved from the IDL seeds', async () => {
  const h = new Harness();
  const authority = h.fund();
  const treasury = Keypair.generate().publicKey;
  // The connection is never used: instructions are built offline and sent through LiteSVM.
  const provider = new anchor.AnchorProvider(
    new Connection('http://127.0.0.1:9'),
    new anchor.Wallet(authority),
    {},
  );
  const program = new anchor.Program(idl as Idl, provider);

  const init = await program.methods
    .initialize({
      sequencer: authority.publicKey,
      treasury,
      challengeWindow: new BN(100),
      clockSlots: new BN(20),
      minExecutorBond: new BN(1_000_000_000),
      minChallengerBond: new BN(1_000_000_000),
      unbondingSlots: new BN(100 + 2 * 20 + 150),
      bountyBps: 2500,
    })
    .accounts({ authority: authority.publicKey })
    .instruction();
  assert.ok(init.keys[1].pubkey.equals(PDA.config()), 'config PDA from the IDL seeds');
  const r1 = h.send([init], [authority]);
  assert.ok(r1.ok, r1.raw);

  // commit_batch needs the sequencer's free bond to cover one record-fault slash (min_executor_bond).
  const bond = await program.methods
    .bond(new BN(1_000_000_000))
    .accounts({ owner: authority.publicKey })
    .instruction();
  const rb = h.send([bond], [authority]);
  assert.ok(rb.ok, rb.raw);

  const commit = await program.methods
    .commitBatch(new BN(0), [...Buffer.alloc(32, 7)], 5, new BN(0))
    .accounts({ sequencer: authority.publicKey })
    .instruction();
  assert.ok(commit.keys[2].pubkey.equals(PDA.batch(0)), 'batch PDA from the index argument');
  const r2 = h.send([commit], [authority]);
  assert.ok(r2.ok, r2.raw);
  assert.deepEqual(
    r2.events.map((e) => e.name),
    ['BatchCommitted'],
  );

  const batch = program.coder.accounts.decode('batch', h.data(PDA.batch(0))!);
  assert.equal(batch.jobCount, 5);
  assert.equal(batch.index.toNumber(), 0);
  const config = program.coder.accounts.decode('config', h.data(PDA.config())!);
  assert.equal(config.nextBatchIndex.toNumber(), 1);
  assert.equal(config.bountyBps, 2500);
  assert.ok(config.treasury.equals(treasury));

  // Skipping an index fails with the IDL's error name; a batch account not at the PDA of the index
  // argument is refused by the seeds check.
  const skip = await program.methods
    .commitBatch(new BN(2), [...Buffer.alloc(32)], 1, new BN(0))
    .accounts({ sequencer: authority.publicKey })
    .instruction();
  assert.equal(h.send([skip], [authority]).error, 'BadBatchIndex');
  const wrongPda = await program.methods
    .commitBatch(new BN(1), [...Buffer.alloc(32)], 1, new BN(0))
    .accounts({ sequencer: authority.publicKey, batch: PDA.batch(5) })
    .instruction();
  const r3 = h.send([wrongPda], [authority]);
  assert.equal(r3.ok, false);
  assert.equal(h.data(PDA.batch(5)), null, 'nothing created at the wrong address');
});

test('the deployed build and the committed IDL have no check instruction; the VM test build has it', () => {
  assert.ok(!idl.instructions.some((i) => i.name === 'check'), 'committed IDL');
  const leaf = Buffer.from('x');
  const data = Buffer.concat([u32le(1), u32le(1), leaf]);
  const deployed = new Harness();
  const r = deployed.send([checkInstruction(0, data)], [deployed.fund()]);
  assert.equal(r.ok, false, 'the deployed program refuses discriminator 19');
  const testBuild = new Harness('test');
  const t = testBuild.send([checkInstruction(0, data)], [testBuild.fund()]);
  assert.ok(t.ok, t.raw);
  assert.deepEqual(t.returnData, leafHash(leaf));
});
