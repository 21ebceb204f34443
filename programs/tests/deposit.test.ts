// User deposits (issue 14): the sequencer draws with the user's signed vouchers, and the attacks on draws and withdrawals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ComputeBudgetProgram, Keypair, PublicKey, TransactionInstruction } from '@solana/web3.js';
import sodium from 'sodium-native';
import { ED25519_PROGRAM_ID } from '../../settlement/instructions.ts';
import { signVoucher, voucherDigest } from '../../state/voucher.ts';
import { PARAMS, World, attempt, type TxResult } from './lib/game.ts';

/** The Ed25519 program's InvalidSignature: the runtime refuses the transaction before draw_deposit runs. */
const PRECOMPILE_REFUSED = 'Custom2';
const FEE = 5000n;
/** A draw's fee: its transaction signature and the one signature the Ed25519 program verifies. */
const DRAW_FEE = 2n * FEE;
const DEPOSIT = 1_000_000n;

interface Scene {
  world: World;
  user: Keypair;
  seq: Keypair;
  deposit: PublicKey;
  /** The deposit account's rent: its lamports are always rent + balance. */
  rent: bigint;
}

async function scene(amount = DEPOSIT): Promise<Scene> {
  const world = new World();
  await world.init();
  const user = world.fund();
  world.must(await attempt(world.client.deposit(user, amount)), 'deposit');
  const deposit = world.client.pdas.deposit(user.publicKey);
  const rent = world.balance(deposit) - amount;
  assert.ok(rent > 0n);
  return { world, user, seq: world.sequencer, deposit, rent };
}

/** The user's voucher for `cumulative`, for `sequencer` (the program's by default) and `programId`. */
function voucher(s: Scene, cumulative: bigint, over: { sequencer?: PublicKey; programId?: PublicKey } = {}) {
  return signVoucher(
    {
      programId: over.programId ?? s.world.sender.programId,
      user: s.user.publicKey,
      sequencer: over.sequencer ?? s.seq.publicKey,
      cumulative,
    },
    s.user.secretKey,
  );
}

const draw = (s: Scene, cumulative: bigint, signature: Uint8Array, by = s.seq) =>
  attempt(s.world.client.drawDeposit(by, { user: s.user.publicKey, cumulative, signature }));
const drawIx = (s: Scene, cumulative: bigint, signature: Uint8Array) =>
  s.world.client.ix.drawDeposit({
    sequencer: s.seq.publicKey,
    user: s.user.publicKey,
    cumulative,
    signature,
  });

/** An Ed25519 instruction with key, signature and message in its own data, or all in instruction `dataIx`. */
function selfContained(pubkey: Uint8Array, signature: Uint8Array, message: Uint8Array, dataIx = 0xffff) {
  const data = Buffer.alloc(16 + 32 + 64 + message.length);
  data[0] = 1;
  [48, dataIx, 16, dataIx, 112, message.length, dataIx].forEach((v, k) => data.writeUInt16LE(v, 2 + 2 * k));
  data.set(pubkey, 16);
  data.set(signature, 48);
  data.set(message, 112);
  return new TransactionInstruction({ programId: ED25519_PROGRAM_ID, keys: [], data });
}

/** The deposit's state, checking that its lamports are its rent plus its balance. */
async function state(s: Scene) {
  const d = await s.world.client.fetchDeposit(s.user.publicKey);
  assert.ok(d, 'the deposit account exists');
  assert.equal(s.world.balance(s.deposit), s.rent + d.balance, 'deposit lamports = rent + balance');
  return d;
}

/** Refused with `error`, the deposit untouched at `balance` / `drawn`, lamports conserved. */
async function refused(s: Scene, res: TxResult, error: string, balance: bigint, drawn: bigint) {
  assert.equal(res.ok, false, `refused with ${error}`);
  assert.equal(res.error, error);
  const d = await state(s);
  assert.equal(d.balance, balance, 'the balance is intact');
  assert.equal(d.drawn, drawn);
  assert.equal(s.world.unaccountedLamports(), 0n, 'lamports conserved');
}

/** Draws `cumulative` and checks that the sequencer gained exactly `paid` (less its fee). */
async function drawPays(s: Scene, cumulative: bigint, paid: bigint) {
  const before = s.world.balance(s.seq.publicKey);
  const res = s.world.must(await draw(s, cumulative, voucher(s, cumulative)), 'draw_deposit');
  assert.equal(s.world.balance(s.seq.publicKey) - before, paid - DRAW_FEE, 'the sequencer is paid exactly');
  const ev = res.events.find((e) => e.name === 'DepositDrawn');
  assert.ok(ev, 'DepositDrawn emitted');
  assert.equal(ev.data.amount, paid);
  await state(s);
  assert.equal(s.world.unaccountedLamports(), 0n, 'lamports conserved');
}

test('deposit: the user deposits and tops up; the balance is held above rent; zero is refused', async () => {
  const s = await scene();
  s.world.must(await attempt(s.world.client.deposit(s.user, 500n)), 'top-up');
  const d = await state(s);
  assert.equal(d.balance, DEPOSIT + 500n);
  assert.equal(d.drawn, 0n);
  assert.ok(d.user.equals(s.user.publicKey));
  assert.equal((await attempt(s.world.client.deposit(s.user, 0n))).error, 'ZeroAmount');
  assert.equal(s.world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('overdraw: the sequencer draws more than the voucher says; refused, then the voucher pays exactly its amount', async () => {
  const s = await scene();
  const sig = voucher(s, 300_000n);
  // The client form: the Ed25519 check names 500,000, which the user never signed.
  await refused(s, await draw(s, 500_000n, sig), PRECOMPILE_REFUSED, DEPOSIT, 0n);
  // The real voucher checked by Ed25519, draw_deposit claiming more: the digest is not this draw's.
  const ed = s.world.client.ix.voucherSignatureCheck({
    user: s.user.publicKey,
    sequencer: s.seq.publicKey,
    cumulative: 300_000n,
    drawIndex: 1,
  });
  const res = await s.world.sendRaw([ed, drawIx(s, 500_000n, sig)], [s.seq]);
  await refused(s, res, 'BadVoucherSignature', DEPOSIT, 0n);
  await drawPays(s, 300_000n, 300_000n);
  const d = await state(s);
  assert.equal(d.balance, DEPOSIT - 300_000n);
  assert.equal(d.drawn, 300_000n);
});

test('replay: the sequencer redraws the same or an older voucher; it pays nothing, a newer one pays only its increase', async () => {
  const s = await scene();
  const older = voucher(s, 200_000n);
  await drawPays(s, 300_000n, 300_000n);
  await refused(s, await draw(s, 300_000n, voucher(s, 300_000n)), 'VoucherAlreadyDrawn', 700_000n, 300_000n);
  await refused(s, await draw(s, 200_000n, older), 'VoucherAlreadyDrawn', 700_000n, 300_000n);
  await drawPays(s, 450_000n, 150_000n);
  const d = await state(s);
  assert.equal(d.balance, DEPOSIT - 450_000n);
  assert.equal(d.drawn, 450_000n);
});

test('forgery: a missing Ed25519 check, a voucher the sequencer signed itself, offsets elsewhere, a gap: all refused', async () => {
  const s = await scene();
  const c = 400_000n;
  const digest = voucherDigest({
    programId: s.world.sender.programId,
    user: s.user.publicKey,
    sequencer: s.seq.publicKey,
    cumulative: c,
  });
  // No Ed25519 instruction at all.
  await refused(
    s,
    await s.world.sendRaw([drawIx(s, c, Buffer.alloc(64, 7))], [s.seq]),
    'MissingVoucherSignature',
    DEPOSIT,
    0n,
  );
  // The sequencer signs the voucher digest with its own key: checked in the pinned form, the
  // Ed25519 program refuses (the key there is the user's); self-contained, draw_deposit refuses.
  const own = signVoucher(
    { programId: s.world.sender.programId, user: s.seq.publicKey, sequencer: s.seq.publicKey, cumulative: c },
    s.seq.secretKey,
  );
  await refused(s, await draw(s, c, own), PRECOMPILE_REFUSED, DEPOSIT, 0n);
  const ownSig = Buffer.alloc(64);
  // A signature by the sequencer over the user's digest (what it would need to forge).
  sodium.crypto_sign_detached(ownSig, digest, Buffer.from(s.seq.secretKey));
  await refused(
    s,
    await s.world.sendRaw(
      [selfContained(s.seq.publicKey.toBytes(), ownSig, digest), drawIx(s, c, ownSig)],
      [s.seq],
    ),
    'BadVoucherSignature',
    DEPOSIT,
    0n,
  );
  // Every offset into a third instruction holding the sequencer's key, signature and the digest:
  // the Ed25519 program accepts, draw_deposit must not.
  const third = selfContained(s.seq.publicKey.toBytes(), ownSig, digest);
  const first = selfContained(s.seq.publicKey.toBytes(), ownSig, digest, 2);
  await refused(
    s,
    await s.world.sendRaw([first, drawIx(s, c, ownSig), third], [s.seq]),
    'BadVoucherSignature',
    DEPOSIT,
    0n,
  );
  // A genuine voucher counts only right before the draw.
  const real = voucher(s, c);
  const ed = s.world.client.ix.voucherSignatureCheck({
    user: s.user.publicKey,
    sequencer: s.seq.publicKey,
    cumulative: c,
    drawIndex: 2,
  });
  const gap = ComputeBudgetProgram.setComputeUnitLimit({ units: 400_000 });
  await refused(
    s,
    await s.world.sendRaw([ed, gap, drawIx(s, c, real)], [s.seq]),
    'MissingVoucherSignature',
    DEPOSIT,
    0n,
  );
  // The user's real signature, but the Ed25519 check reads a signature other than draw_deposit's own bytes.
  const selfReal = selfContained(s.user.publicKey.toBytes(), real, digest);
  await refused(
    s,
    await s.world.sendRaw([selfReal, drawIx(s, c, real)], [s.seq]),
    'BadVoucherSignature',
    DEPOSIT,
    0n,
  );
  await drawPays(s, c, c);
});

test('cross-use: a voucher for another sequencer, another program id or another user does not draw; only Config.sequencer draws', async () => {
  const s = await scene();
  const other = s.world.fund();
  const c = 250_000n;
  await refused(
    s,
    await draw(s, c, voucher(s, c, { sequencer: other.publicKey })),
    PRECOMPILE_REFUSED,
    DEPOSIT,
    0n,
  );
  await refused(
    s,
    await draw(s, c, voucher(s, c, { programId: Keypair.generate().publicKey })),
    PRECOMPILE_REFUSED,
    DEPOSIT,
    0n,
  );
  // Another sequencer holding a voucher made out to it is not the program's sequencer.
  await refused(
    s,
    await draw(s, c, voucher(s, c, { sequencer: other.publicKey }), other),
    'NotSequencer',
    DEPOSIT,
    0n,
  );
  // A second user's voucher against the first user's deposit.
  const u2 = s.world.fund();
  const sig2 = signVoucher(
    { programId: s.world.sender.programId, user: u2.publicKey, sequencer: s.seq.publicKey, cumulative: c },
    u2.secretKey,
  );
  await refused(s, await draw(s, c, sig2), PRECOMPILE_REFUSED, DEPOSIT, 0n);
  await drawPays(s, c, c);
});

test('early withdrawal: the user withdraws before the sequencer can redeem; the delay (one clock) holds', async () => {
  const s = await scene();
  assert.equal((await attempt(s.world.client.withdrawDeposit(s.user))).error, 'DepositWithdrawNotRequested');
  s.world.must(await attempt(s.world.client.requestWithdrawDeposit(s.user)), 'request_withdraw_deposit');
  const ready = (await state(s)).withdrawReadySlot;
  assert.ok(ready > 0n);
  await refused(
    s,
    await attempt(s.world.client.withdrawDeposit(s.user)),
    'DepositWithdrawNotReady',
    DEPOSIT,
    0n,
  );
  s.world.warp(PARAMS.clockSlots - 1n);
  await refused(
    s,
    await attempt(s.world.client.withdrawDeposit(s.user)),
    'DepositWithdrawNotReady',
    DEPOSIT,
    0n,
  );
  s.world.warp(1);
  const before = s.world.balance(s.user.publicKey);
  s.world.must(await attempt(s.world.client.withdrawDeposit(s.user)), 'withdraw_deposit');
  assert.equal(
    s.world.balance(s.user.publicKey) - before,
    DEPOSIT - FEE,
    'the user gets its whole undrawn balance',
  );
  const d = await state(s);
  assert.equal(d.balance, 0n);
  assert.equal(d.withdrawReadySlot, 0n);
  assert.equal(s.world.balance(s.deposit), s.rent, 'the account stays with its rent');
  assert.equal(s.world.unaccountedLamports(), 0n, 'lamports conserved');
});

test('front-run: the user requests a withdrawal before the sequencer draws; the draw lands within the delay and the user gets only the rest', async () => {
  const s = await scene();
  const sig = voucher(s, 300_000n);
  s.world.must(await attempt(s.world.client.requestWithdrawDeposit(s.user)), 'request_withdraw_deposit');
  // The sequencer sees the request and redeems on the last slot of the delay.
  s.world.warp(PARAMS.clockSlots - 1n);
  const seqBefore = s.world.balance(s.seq.publicKey);
  s.world.must(await draw(s, 300_000n, sig), 'draw_deposit');
  assert.equal(s.world.balance(s.seq.publicKey) - seqBefore, 300_000n - DRAW_FEE);
  s.world.warp(1);
  const before = s.world.balance(s.user.publicKey);
  s.world.must(await attempt(s.world.client.withdrawDeposit(s.user)), 'withdraw_deposit');
  assert.equal(s.world.balance(s.user.publicKey) - before, DEPOSIT - 300_000n - FEE);
  const d = await state(s);
  assert.equal(d.balance, 0n);
  assert.equal(d.drawn, 300_000n);
  // Nothing is left to draw.
  await refused(s, await draw(s, 400_000n, voucher(s, 400_000n)), 'DepositEmpty', 0n, 300_000n);
});

test('overdraft: a voucher above the deposit pays only the deposit; the rest is drawable after a top-up', async () => {
  const s = await scene();
  const c = DEPOSIT + 500_000n;
  await drawPays(s, c, DEPOSIT);
  await refused(s, await draw(s, c, voucher(s, c)), 'DepositEmpty', 0n, DEPOSIT);
  s.world.must(await attempt(s.world.client.deposit(s.user, DEPOSIT)), 'top-up');
  await drawPays(s, c, 500_000n);
  const d = await state(s);
  assert.equal(d.balance, DEPOSIT - 500_000n);
  assert.equal(d.drawn, c);
});

test('resurrection: after a full withdrawal the account stays, so a new deposit does not revive redeemed vouchers', async () => {
  const s = await scene();
  await drawPays(s, 300_000n, 300_000n);
  s.world.must(await attempt(s.world.client.requestWithdrawDeposit(s.user)), 'request_withdraw_deposit');
  s.world.warp(PARAMS.clockSlots);
  s.world.must(await attempt(s.world.client.withdrawDeposit(s.user)), 'withdraw_deposit');
  s.world.must(await attempt(s.world.client.deposit(s.user, DEPOSIT)), 'deposit again');
  await refused(s, await draw(s, 300_000n, voucher(s, 300_000n)), 'VoucherAlreadyDrawn', DEPOSIT, 300_000n);
  // A top-up during a pending withdrawal cancels it.
  s.world.must(await attempt(s.world.client.requestWithdrawDeposit(s.user)), 'request_withdraw_deposit');
  s.world.must(await attempt(s.world.client.deposit(s.user, 1n)), 'top-up');
  assert.equal((await state(s)).withdrawReadySlot, 0n);
  s.world.warp(PARAMS.clockSlots);
  await refused(
    s,
    await attempt(s.world.client.withdrawDeposit(s.user)),
    'DepositWithdrawNotRequested',
    DEPOSIT + 1n,
    300_000n,
  );
});
