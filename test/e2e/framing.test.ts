// End to end, attack 2 of issue 13: a framing sequencer commits a record naming the bonded honest executor with a
// result it never signed, and its accomplice disputes it. Separate processes, a real nats-server and the local validator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair, type PublicKey } from '@solana/web3.js';
import { FramingSequencer } from '../../adversary/index.ts';
import { fromHex } from '../../state/hash.ts';
import { decodeJobRecord, verifyResult } from '../../state/job.ts';
import { waitFor } from '../helpers/node-process.ts';
import { EXECUTOR_BOND, MIN_CHALLENGER_BOND, startCluster, type JobResult } from './cluster.ts';

const WINDOW = 200;
const CLOCK = 150;

test(
  "framing sequencer: the accomplice's dispute on a record the executor never signed is refused; the executor's bond is intact and its results finalize",
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
      const framed = await framer.commit({
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

      // The framing batch outlives its window undisputed and finalizes: the record it holds cost its victim nothing.
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

      // No game anywhere, no account of the framed job; every bond as it was; lamports of the victim's and the
      // accomplice's bonds and of the vault unchanged, one by one and in sum.
      assert.deepEqual(await c.disputes(), [], 'a dispute was opened');
      assert.equal((await c.client.listJobs()).length, 0);
      const v = (await c.client.fetchOperator(victim.keypair.publicKey))!;
      assert.equal(v.bonded, EXECUTOR_BOND, "the victim's bond changed");
      assert.equal(v.locked, 0n);
      assert.equal(v.openDisputes, 0);
      const a = (await c.client.fetchOperator(framer.accomplice.publicKey))!;
      assert.equal(a.bonded, MIN_CHALLENGER_BOND);
      assert.equal(a.locked, 0n);
      const lamportsAfter = await Promise.all(accounts.map(balance));
      assert.deepEqual(lamportsAfter, lamportsBefore, 'lamports moved between the bonds and the vault');
      t.diagnostic(
        `framing batch ${framed.batchIndex} (job ${framed.position} names ${framed.record.executor}); ` +
          `victim bond ${v.bonded}, vault ${lamportsAfter[2]} lamports unchanged`,
      );
    } catch (e) {
      process.stderr.write(`cluster logs (${c.dir}):\n${c.logs()}\n`);
      throw e;
    } finally {
      await c.stop();
    }
  },
);
