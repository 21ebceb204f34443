// End to end, attack 3 of issue 13: an unbonding cheater lies, asks for its bond back right after its batch commits,
// and tries to withdraw before it can be slashed. Separate processes, a real nats-server and the local validator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnbondingCheater } from '../../adversary/index.ts';
import { PHASE, SIDE, type OperatorAccount } from '../../settlement/index.ts';
import { waitFor } from '../helpers/node-process.ts';
import { BOUNTY_BPS, EXECUTOR_BOND, MIN_EXECUTOR_BOND, startCluster, type JobResult } from './cluster.ts';

const bpsOf = (amount: bigint, bps: number) =>
  (amount / 10_000n) * BigInt(bps) + ((amount % 10_000n) * BigInt(bps)) / 10_000n;
const bonded = (op: OperatorAccount | null) => (op ? op.bonded : 0n);

// unbonding_slots >= challenge_window + 2 x clock_slots + margin, margin = clock_slots for now.
const WINDOW = 300;
const CLOCK = 150;
const UNBONDING = WINDOW + 2 * CLOCK + CLOCK;
/** The cheater bonds four stakes and unbonds one: its free bond alone would still cover more jobs. */
const CHEATER_BOND = 4n * MIN_EXECUTOR_BOND;

interface ExecutorView {
  executor: string;
  eligible: boolean;
  why?: string;
  unbonding?: string;
  exposureJobs: number;
}

test(
  'unbonding cheater: unbonds right after its lie commits, cannot withdraw, ends slashed; no new jobs meanwhile',
  { timeout: 600_000 },
  async (t) => {
    const c = await startCluster({
      evil: [{ mode: 'wrong-output', bond: CHEATER_BOND }],
      honest: 1,
      challengers: 1,
      windowSlots: WINDOW,
      clockSlots: CLOCK,
      unbondingSlots: UNBONDING,
      batchMaxJobs: 2,
    });
    const cheaterRole = c.executors.find((e) => e.cheat)!;
    const cheaterId = cheaterRole.keypair.publicKey.toBase58();
    const cheater = new UnbondingCheater(c.client, cheaterRole.keypair);
    try {
      const ops = async () =>
        new Map(
          await Promise.all(
            [...c.roles.values()].map(
              async (r) => [r.name, await c.client.fetchOperator(r.keypair.publicKey)] as const,
            ),
          ),
        );
      const before = await ops();
      const treasuryBefore = BigInt(await c.client.sender.getBalance(c.client.pdas.vault()));
      assert.equal(bonded(before.get(cheaterRole.name)!), CHEATER_BOND);
      const config = await c.client.config();
      assert.ok(
        config.unbondingSlots >= config.challengeWindow + 3n * config.clockSlots,
        'the e2e config breaks the unbonding rule',
      );

      // Wave 1: the cheater gets some of these (round robin) and lies about each.
      const first: { jobId: string; expected: string }[] = [];
      for (let i = 0; i < 4; i++) first.push(await c.submit(i));
      const lied = await waitFor(
        "a cheater's job in a committed batch",
        async () => {
          for (const s of first) {
            const j = await c.job(s.jobId);
            if (j.executor === cheaterId && j.batch) return j;
          }
          return undefined;
        },
        120_000,
        100,
      );

      // Right after its batch commits, the cheater asks for a stake back and tries to withdraw every second.
      await cheater.unbond(MIN_EXECUTOR_BOND);
      const unbondAt = Date.now();
      cheater.startWithdrawing(1_000);
      const seen = await waitFor(
        'the sequencer seeing the unbond',
        async () => {
          const views = (await (await fetch(`${c.seqUrl}/v1/executors`)).json()) as ExecutorView[];
          const v = views.find((x) => x.executor === cheaterId);
          return v && v.unbonding !== undefined && v.unbonding !== '0' && v;
        },
        30_000,
        100,
      );
      const seenMs = Date.now() - unbondAt;
      assert.equal(seen.eligible, false);
      assert.match(seen.why!, /requested an unbond/);

      // Wave 2, after the unbond: none of it may go to the cheater.
      const second: { jobId: string; expected: string }[] = [];
      for (let i = 4; i < 8; i++) second.push(await c.submit(i));

      const final: JobResult[] = [];
      for (const s of [...first, ...second]) {
        final.push(
          await waitFor(
            `job ${s.jobId} finalized`,
            async () => {
              const j = await c.job(s.jobId).catch(() => undefined);
              return j?.status === 'finalized' && j;
            },
            300_000,
            250,
          ),
        );
      }
      await waitFor(
        'every dispute resolved',
        async () => (await c.client.listDisputes({ open: true })).length === 0,
        120_000,
        250,
      );
      await cheater.stop();

      // The honest result finalized for every job, the cheater's lied one re-run.
      const honestId = c.executors.find((e) => !e.cheat)!.keypair.publicKey.toBase58();
      for (const [i, j] of final.entries()) {
        assert.equal(j.outputDigest, [...first, ...second][i].expected, `job ${j.jobId}: wrong final output`);
        assert.equal(j.executor, honestId, `job ${j.jobId} finalized from the cheater`);
        assert.ok(await c.batchFinal(j.batch!.index), `batch ${j.batch!.index} is not finalized on chain`);
      }

      // Every dispute names the cheater, was won by the challenger, and took a full stake: unbonding let nothing escape.
      const disputes = await c.disputes();
      const against = disputes.filter(({ dispute: d }) => d.executor.equals(cheaterRole.keypair.publicKey));
      assert.ok(against.length > 0, 'the lie was never disputed');
      assert.equal(against.length, disputes.length, 'a dispute names the honest executor');
      const wave2 = new Set(second.map((s) => s.jobId));
      const batchCount = (await c.client.config()).nextBatchIndex;
      const indexOf = (address: (typeof against)[number]['dispute']['batch']) => {
        for (let i = 0n; i < batchCount; i++) if (c.client.pdas.batch(i).equals(address)) return i;
        assert.fail(`dispute on an unknown batch ${address.toBase58()}`);
      };
      for (const { dispute: d } of against) {
        assert.equal(d.phase, PHASE.RESOLVED);
        assert.equal(d.winner, SIDE.CHALLENGER);
        assert.equal(d.executorStake, MIN_EXECUTOR_BOND, 'the cheater staked less than a full stake');
        const seqBatch = (await (await fetch(`${c.seqUrl}/v1/batches/${indexOf(d.batch)}`)).json()) as {
          jobIds: string[];
        };
        assert.ok(
          !wave2.has(seqBatch.jobIds[d.jobIndex]),
          `job ${seqBatch.jobIds[d.jobIndex]} went to the cheater after its unbond request`,
        );
      }
      assert.ok(
        against.some(({ dispute: d }) => d.batch.equals(c.client.pdas.batch(BigInt(lied.batch!.index)))),
        'the lie committed before the unbond was not disputed',
      );

      // It could not get the bond out while the dispute was open: every attempt then was refused.
      const refused = cheater.attempts.filter((a) => !a.ok);
      assert.ok(
        refused.some((a) => a.code === 'PROGRAM_WITHDRAW_DURING_DISPUTE'),
        `no withdraw refused for the open dispute: ${JSON.stringify(cheater.attempts.map((a) => a.code))}`,
      );
      for (const a of refused)
        assert.ok(
          a.code === 'PROGRAM_WITHDRAW_DURING_DISPUTE' ||
            a.code === 'PROGRAM_UNBONDING_NOT_READY' ||
            a.code === 'PROGRAM_NOTHING_UNBONDING',
          `withdraw refused for another reason: ${a.code}`,
        );
      for (const a of cheater.attempts.filter((x) => x.ok))
        assert.ok(BigInt(a.at) >= cheater.readySlot!, 'withdrawn before the unbonding delay');

      // The books: the cheater lost a stake per lost game (plus whatever it withdrew of the rest), the challenger
      // got the bounties, the treasury vault the remainder, and the honest executor's bond is intact.
      const after = await ops();
      const slashed = against.reduce((s, { dispute: d }) => s + d.executorStake, 0n);
      const bounties = against.reduce((s, { dispute: d }) => s + bpsOf(d.executorStake, BOUNTY_BPS), 0n);
      assert.equal(
        bonded(before.get(cheaterRole.name)!) - bonded(after.get(cheaterRole.name)!),
        slashed + cheater.withdrawn,
      );
      assert.ok(cheater.withdrawn <= MIN_EXECUTOR_BOND, 'withdrew more than it asked to unbond');
      const honestOp = after.get(c.executors.find((e) => !e.cheat)!.name)!;
      assert.equal(honestOp.bonded, EXECUTOR_BOND, 'honest bond changed');
      assert.equal(honestOp.locked, 0n);
      const challenger = c.challengers[0];
      assert.equal(bonded(after.get(challenger.name)!) - bonded(before.get(challenger.name)!), bounties);
      assert.equal(after.get(challenger.name)!.locked, 0n);
      const treasuryAfter = BigInt(await c.client.sender.getBalance(c.client.pdas.vault()));
      assert.equal(
        treasuryAfter - treasuryBefore,
        slashed - bounties,
        'the treasury vault did not get the remainder',
      );
      const codes = new Map<string, number>();
      for (const a of cheater.attempts) codes.set(a.code ?? 'ok', (codes.get(a.code ?? 'ok') ?? 0) + 1);
      t.diagnostic(
        `sequencer saw the unbond after ${seenMs} ms; ${against.length} dispute(s), ${slashed} lamports slashed; ` +
          `withdraw attempts ${JSON.stringify(Object.fromEntries(codes))}, withdrawn ${cheater.withdrawn}`,
      );
    } catch (e) {
      process.stderr.write(`cluster logs (${c.dir}):\n${c.logs()}\n`);
      throw e;
    } finally {
      await cheater.stop();
      await c.stop();
    }
  },
);
