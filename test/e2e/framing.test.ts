// End to end, attack 2 of issue 13: a framing sequencer commits a record naming the bonded honest executor with a
// result it never signed, and its accomplice disputes it. The framing batch is never announced (review 21 "silent
// batch"): the honest challenger finds it on chain, demands its jobs, and the sequencer, which cannot answer a record
// its executor never signed, is slashed. Separate processes, a real nats-server and the local validator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair, type PublicKey } from '@solana/web3.js';
import { FramingSequencer } from '../../adversary/index.ts';
import { fromHex } from '../../state/hash.ts';
import { decodeJobRecord, verifyResult } from '../../state/job.ts';
import { waitFor } from '../helpers/node-process.ts';
import {
  EXECUTOR_BOND,
  MIN_CHALLENGER_BOND,
  MIN_EXECUTOR_BOND,
  startCluster,
  type JobResult,
} from './cluster.ts';

const WINDOW = 200;
const CLOCK = 150;

test(
  "framing sequencer: the accomplice's dispute on a record the executor never signed is refused; the executor's bond is intact and its results finalize; the unannounced framing batch is demanded by the honest challenger and its jobs invalidated at the sequencer's cost",
  { timeout: 600_000 },
  async (t) => {
    const c = await startCluster({
      evil: [],
      honest: 1,
      challengers: 1,
      windowSlots: WINDOW,
      clockSlots: CLOCK,
    });
    const sequencer = c.roles.get('sequencer')!.keypair;
    const victim = c.executors[0];
    const framer = new FramingSequencer(c.client, sequencer, Keypair.generate());
    try {
      const balance = (k: PublicKey) => c.client.sender.getBalance(k);
      const vault = c.client.pdas.vault();

      // Honest traffic first: every job lands in a batch the sequencer commits on chain.
      const submitted: { jobId: string; expected: string }[] = [];
      for (let i = 0; i < 4; i++) submitted.push(await c.submit(i));
      const committed = await Promise.all(
        submitted.map((s) =>
          waitFor(
            `job ${s.jobId} in a batch committed on chain`,
            async () => {
              const j = await c.job(s.jobId).catch(() => undefined);
              if (!j?.batch) return undefined;
              const b = await c.client.fetchBatch(BigInt(j.batch.index));
              return b && Buffer.from(b.root).toString('hex') === j.batch.root ? j : undefined;
            },
            120_000,
            200,
          ),
        ),
      );
      // The sequencer holds nothing uncommitted now, so the next batch index is free for the framer.
      const honestBatches = new Set(committed.map((j) => j.batch!.index));
      assert.equal(
        (await c.client.config()).nextBatchIndex,
        BigInt(Math.max(...honestBatches) + 1),
        'the sequencer still has a batch to commit',
      );

      await framer.recruit(MIN_CHALLENGER_BOND);
      const victimOp = c.client.pdas.operator(victim.keypair.publicKey);
      const accompliceOp = c.client.pdas.operator(framer.accomplice.publicKey);
      const accounts = [victimOp, accompliceOp, vault];
      const lamportsBefore = await Promise.all(accounts.map(balance));
      const accompliceBefore = await balance(framer.accomplice.publicKey);

      // A real job's input on the registered model: nothing but the signature can make open_dispute refuse.
      const real = decodeJobRecord(fromHex(committed[0].proof!.record));
      const jobs = 3;
      const framed = await framer.commit({
        jobs,
        victim: victim.keypair.publicKey,
        modelId: c.modelId as typeof real.modelId,
        inputDigest: real.inputDigest,
      });
      assert.equal(framed.record.executor, victim.keypair.publicKey.toBase58());
      assert.equal(
        verifyResult(framed.record, framed.record.signature),
        false,
        'the victim signed the framed record',
      );

      // Every way the accomplice has to open the dispute is refused: the Ed25519 program rejects the forged
      // signature under the victim's key; open_dispute rejects a missing check and a check by another key.
      const attempts = await framer.dispute(framed);
      t.diagnostic(`accomplice attempts: ${JSON.stringify(attempts.map(({ message: _m, ...a }) => a))}`);
      const by = (how: string) => attempts.find((a) => a.how === how)!;
      for (const a of attempts) assert.equal(a.ok, false, `the accomplice opened a dispute (${a.how})`);
      assert.equal(by('no-check').code, 'PROGRAM_MISSING_RESULT_SIGNATURE');
      assert.equal(by('framer-key').code, 'PROGRAM_BAD_RESULT_SIGNATURE');
      // The Ed25519 program (its InvalidSignature, custom error 2), not open_dispute, refused the forged signature.
      const forged = by('forged');
      t.diagnostic(`forged: ${forged.message}`);
      assert.equal(forged.code, 'PROGRAM_CUSTOM2', forged.message);

      // Nothing was opened, locked or paid: refused in preflight, the attempts did not even cost a fee.
      assert.equal(await c.client.fetchJob(framed.batchIndex, framed.position), null);
      assert.equal((await c.client.fetchBatch(framed.batchIndex))!.openDisputes, 0);
      assert.equal(await balance(framer.accomplice.publicKey), accompliceBefore);

      // The honest results finalize, each from the victim, in a batch finalized on chain.
      const final: JobResult[] = [];
      for (const s of submitted) {
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
      for (const [i, j] of final.entries()) {
        assert.equal(j.outputDigest, submitted[i].expected, `job ${j.jobId}: wrong final output`);
        assert.equal(j.executor, victim.keypair.publicKey.toBase58());
        assert.ok(await c.batchFinal(j.batch!.index), `batch ${j.batch!.index} is not finalized on chain`);
      }

      // The framing batch was never announced; the honest challenger finds it on chain, is served nothing for it,
      // and demands its sampled jobs (sample rate 1: all of them) on chain. Nobody can answer the framed record (its
      // signature is not the victim's), and the honest sequencer process holds none of the batch: every demand
      // times out, invalidating its job and slashing the sequencer (the batch's fault reserve first).
      const honest = c.roles.get('challenger-0')!.keypair.publicKey;
      const timedOut = await waitFor(
        'every job of the framing batch invalidated by a data timeout',
        async () => {
          const b = await c.client.fetchBatch(framed.batchIndex);
          return b && b.invalidated === jobs && b.openRequests === 0 ? b : undefined;
        },
        300_000,
        1_000,
      );
      assert.equal(timedOut.faultReserve, 0n, "the batch's fault reserve paid the first slash");
      const framingJobs = (await c.client.listJobs()).filter((j) =>
        j.job.batch.equals(c.client.pdas.batch(framed.batchIndex)),
      );
      assert.equal(framingJobs.length, jobs);
      for (const j of framingJobs) {
        assert.equal(j.job.invalidated, 1, `framing job ${j.job.jobIndex} stands`);
        assert.ok(
          j.job.payer.equals(honest),
          `framing job ${j.job.jobIndex} was demanded by ${j.job.payer.toBase58()}`,
        );
        assert.equal(j.job.openGames, 0);
      }

      // Then the batch finalizes (its jobs invalidated, none of them the victim's loss).
      await waitFor(
        'the framing batch finalized',
        async () => {
          if (await c.batchFinal(framed.batchIndex)) return true;
          await c.client.finalizeBatch(framer.accomplice, framed.batchIndex).catch(() => undefined);
          return false;
        },
        120_000,
        1_000,
      );

      // No game anywhere; every bond as it was; lamports of the victim's and the accomplice's bonds unchanged. The
      // vault gained the sequencer's slashes less the honest challenger's bounties: at least half of the reserve's
      // one fault slash (bounty 50%).
      assert.deepEqual(await c.disputes(), [], 'a dispute was opened');
      const v = (await c.client.fetchOperator(victim.keypair.publicKey))!;
      assert.equal(v.bonded, EXECUTOR_BOND, "the victim's bond changed");
      assert.equal(v.locked, 0n);
      assert.equal(v.openDisputes, 0);
      const a = (await c.client.fetchOperator(framer.accomplice.publicKey))!;
      assert.equal(a.bonded, MIN_CHALLENGER_BOND);
      assert.equal(a.locked, 0n);
      const lamportsAfter = await Promise.all(accounts.map(balance));
      assert.deepEqual(
        lamportsAfter.slice(0, 2),
        lamportsBefore.slice(0, 2),
        "lamports moved out of the victim's or the accomplice's bond",
      );
      const vaultGain = lamportsAfter[2] - lamportsBefore[2];
      assert.ok(
        vaultGain >= Number(MIN_EXECUTOR_BOND) / 2,
        `the vault gained ${vaultGain} lamports from the slashes`,
      );
      t.diagnostic(
        `framing batch ${framed.batchIndex} (job ${framed.position} names ${framed.record.executor}): ` +
          `${jobs} jobs demanded by the honest challenger and invalidated by timeouts; victim bond ${v.bonded} ` +
          `unchanged; vault +${vaultGain} lamports`,
      );
    } catch (e) {
      process.stderr.write(`cluster logs (${c.dir}):\n${c.logs()}\n`);
      throw e;
    } finally {
      await c.stop();
    }
  },
);
