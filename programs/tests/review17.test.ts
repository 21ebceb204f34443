// Review 17's attacks on the money flows, fixed: a user withdrawing before its served jobs are final, a job naming fee 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair } from '@solana/web3.js';
import { World, attempt } from './lib/game.ts';
import { buildHttp } from '../../sequencer/http.ts';
import { PaymentGate, drawVouchers, type Payment } from '../../sequencer/payments.ts';
import type { Sequencer } from '../../sequencer/sequencer.ts';
import { MODEL_ID } from '../../sequencer/testing.ts';
import { minUnbondingSlots } from '../../settlement/instructions.ts';
import { signVoucher } from '../../state/voucher.ts';

test("withdraw before finality: a user asks for its deposit back right after three jobs are served; the node draws their fees before the delay ends, though their batch is not final (chain init's 150/150)", async () => {
  const chain = new World();
  // `optinfer chain init`'s defaults: challenge window 150 slots, clocks 150 slots.
  const window = 150n;
  const clock = 150n;
  await chain.init({
    challengeWindow: window,
    clockSlots: clock,
    unbondingSlots: minUnbondingSlots(window, clock),
  });
  const user = chain.fund();
  chain.must(await attempt(chain.client.deposit(user, 10_000n)), 'deposit');
  const gate = new PaymentGate(chain.sender.programId, chain.sequencer.publicKey, (u) =>
    chain.client.fetchDeposit(u),
  );
  const pay = (cumulative: bigint): Payment => ({
    user: user.publicKey,
    cumulative,
    signature: signVoucher(
      {
        programId: chain.sender.programId,
        user: user.publicKey,
        sequencer: chain.sequencer.publicKey,
        cumulative,
      },
      user.secretKey,
    ),
  });
  // Slot t: the gate takes three jobs (1000 lamports each); they are run and answered at once.
  for (const c of [1000n, 2000n, 3000n]) await gate.reserve(pay(c), 1000n);
  // Still slot t: the user asks for its deposit back; the gate takes no more jobs.
  chain.must(await attempt(chain.client.requestWithdrawDeposit(user)), 'request_withdraw_deposit');
  // The batch commits one slot later at the earliest and finalizes `window` slots after that. Until then the
  // node's settlement loop draws with cap = the user's finalized fees (settlement-loop.ts draw): 0; but with a
  // withdrawal pending the cap adds the user's committed (served) jobs, 3000, so its first pass draws them.
  let early = 0n;
  for (let s = 0n; s < clock; s += 10n) {
    for (const d of await drawVouchers(gate, chain.client, chain.sequencer, (_, w) => (w ? 3000n : 0n)))
      early += d.amount;
    chain.warp(10);
  }
  assert.equal(early, 3000n, 'drawn while the withdrawal was pending');
  // Slot t + clock: the delay is over, the batch is still inside its window (it ends at t + 1 + window at best).
  chain.must(await attempt(chain.client.withdrawDeposit(user)), 'withdraw_deposit');
  assert.equal(
    (await chain.client.fetchDeposit(user.publicKey))!.balance,
    0n,
    'the user got the unspent 7000 back',
  );
  chain.warp(window + 1n - clock);
  // The batch finalizes: the node may now charge all three jobs, and finds nothing to draw.
  await drawVouchers(gate, chain.client, chain.sequencer, () => 3000n);
  const drawn = (await chain.client.fetchDeposit(user.publicKey))!.drawn;
  assert.equal(chain.unaccountedLamports(), 0n, 'lamports conserved');
  assert.equal(
    drawn,
    3000n,
    `the sequencer drew ${drawn} of the 3000 lamports of fees of the jobs it served`,
  );
});

test('free ride: a job naming "fee": 0 to a node that takes payments, with no voucher and no deposit, is refused with 402', async () => {
  const programId = Keypair.generate().publicKey;
  const seqKey = Keypair.generate().publicKey;
  // The user has no deposit at all.
  const gate = new PaymentGate(programId, seqKey, async () => null);
  const submitted: bigint[] = [];
  const seq = {
    config: { maxModelBytes: 1 << 20, defaultFeeLamports: 10_000n },
    submit: async (r: { fee?: bigint }) => {
      submitted.push(r.fee ?? 10_000n);
      return { jobId: 'cd'.repeat(32) };
    },
  } as unknown as Sequencer;
  const app = buildHttp({ sequencer: seq, payments: gate });
  try {
    const r = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: { modelId: MODEL_ID, inputs: { x: { dtype: 'int8', dims: [1, 2], data: [1, 2] } }, fee: 0 },
    });
    assert.equal(submitted.length, 0, `a job with fee 0 and no deposit was taken (HTTP ${r.statusCode})`);
    assert.equal(r.statusCode, 402);
  } finally {
    await app.close();
  }
});
