// `optinfer disputes`, `batch show N` and `bond status` as separate processes against the local validator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair, LAMPORTS_PER_SOL } from '@solana/web3.js';
import { startLocalChain } from '../../chain/local-chain.ts';
import { minUnbondingSlots, connectRpc, PROGRAM_ID, DEFAULT_SO_PATH } from '../../settlement/index.ts';
import { saveKeypair } from '../../common/keys.ts';
import { runCli } from '../helpers/node-process.ts';

test(
  'operator commands read batches, bonds and disputes from the program over JSON-RPC',
  { timeout: 120_000 },
  async () => {
    const operator = Keypair.generate();
    const chain = await startLocalChain({
      programs: [{ programId: PROGRAM_ID, soPath: DEFAULT_SO_PATH }],
      airdrops: [{ pubkey: operator.publicKey, lamports: 20n * BigInt(LAMPORTS_PER_SOL) }],
      slotTimeMs: 100,
    });
    try {
      const { client } = connectRpc({ rpc: chain.rpcUrl, ws: chain.wsUrl });
      await client.initialize(operator, {
        sequencer: operator.publicKey,
        treasury: Keypair.generate().publicKey,
        challengeWindow: 1000n,
        clockSlots: 100n,
        minExecutorBond: 1_000_000_000n,
        minChallengerBond: 1_000_000_000n,
        unbondingSlots: minUnbondingSlots(1000n, 100n),
        bountyBps: 5000,
      });
      await client.bond(operator, 3_000_000_000n);
      const root = new Uint8Array(32).fill(7);
      await client.commitBatch(operator, { index: 0n, root, jobCount: 5 });
      const file = join(mkdtempSync(join(tmpdir(), 'optinfer-ops-')), 'operator.json');
      saveKeypair(file, operator);

      const batch = await runCli(['batch', 'show', '0', '--rpc', chain.rpcUrl, '--json']);
      assert.equal(batch.code, 0, batch.stderr);
      const b = JSON.parse(batch.stdout);
      assert.equal(b.root, Buffer.from(root).toString('hex'));
      assert.equal(b.jobCount, 5);
      assert.equal(b.finalized, false);
      const human = await runCli(['batch', 'show', '0', '--rpc', chain.rpcUrl]);
      assert.match(human.stdout, /batch 0: inside its challenge window/);

      const bond = await runCli(['bond', 'status', '--keypair', file, '--rpc', chain.rpcUrl, '--json']);
      assert.equal(bond.code, 0, bond.stderr);
      assert.equal(JSON.parse(bond.stdout).bonded, '3000000000');
      assert.equal(JSON.parse(bond.stdout).free, '3000000000');

      const disputes = await runCli(['disputes', '--rpc', chain.rpcUrl, '--json']);
      assert.equal(disputes.code, 0, disputes.stderr);
      assert.deepEqual(JSON.parse(disputes.stdout).disputes, []);

      const missing = await runCli(['batch', 'show', '9', '--rpc', chain.rpcUrl]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /batch 9 is not committed on this cluster \(next index 1\)/);
    } finally {
      await chain.stop();
    }
  },
);
