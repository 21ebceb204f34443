// `optinfer chain propose-authority / accept-authority / withdraw-treasury / pause / unpause` as separate processes against the local validator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keypair, LAMPORTS_PER_SOL, PublicKey, SystemProgram } from '@solana/web3.js';
import { startLocalChain } from '../../chain/local-chain.ts';
import { minUnbondingSlots, connectRpc, PROGRAM_ID, DEFAULT_SO_PATH } from '../../settlement/index.ts';
import { saveKeypair } from '../../common/keys.ts';
import { runCli } from '../helpers/node-process.ts';

test(
  'the authority hands over in two steps, pauses and unpauses, and withdraws from the treasury vault, from the CLI',
  { timeout: 180_000 },
  async () => {
    const first = Keypair.generate();
    const second = Keypair.generate();
    const stranger = Keypair.generate();
    const treasury = Keypair.generate().publicKey;
    const chain = await startLocalChain({
      programs: [{ programId: PROGRAM_ID, soPath: DEFAULT_SO_PATH }],
      airdrops: [first, second, stranger].map((k) => ({
        pubkey: k.publicKey,
        lamports: 10n * BigInt(LAMPORTS_PER_SOL),
      })),
      slotTimeMs: 100,
    });
    try {
      const { client } = connectRpc({ rpc: chain.rpcUrl, ws: chain.wsUrl });
      await client.initialize(first, {
        sequencer: first.publicKey,
        treasury,
        challengeWindow: 1000n,
        clockSlots: 100n,
        minExecutorBond: 1_000_000_000n,
        minChallengerBond: 1_000_000_000n,
        unbondingSlots: minUnbondingSlots(1000n, 100n),
        bountyBps: 5000,
      });
      const dir = mkdtempSync(join(tmpdir(), 'optinfer-authority-'));
      const file = (name: string, k: Keypair) => {
        const f = join(dir, `${name}.json`);
        saveKeypair(f, k);
        return f;
      };
      const [firstFile, secondFile, strangerFile] = [
        file('first', first),
        file('second', second),
        file('stranger', stranger),
      ];
      const cli = (args: string[], key: string) =>
        runCli(['chain', ...args, '--rpc', chain.rpcUrl, '--authority-keypair', key]);
      const json = (r: { stdout: string }) => JSON.parse(r.stdout);

      // Propose: only the authority may; a malformed key is refused before anything is sent.
      let r = await cli(['propose-authority', second.publicKey.toBase58()], strangerFile);
      assert.equal(r.code, 2, r.out);
      assert.match(r.stderr, new RegExp(`${stranger.publicKey.toBase58()} is not the program's authority`));
      r = await cli(['propose-authority', 'not-a-key'], firstFile);
      assert.equal(r.code, 2, r.out);
      assert.match(r.stderr, /new authority: expected a base58 public key, got "not-a-key"/);
      r = await cli(['propose-authority', second.publicKey.toBase58(), '--json'], firstFile);
      assert.equal(r.code, 0, r.out);
      assert.equal(json(r).pendingAuthority, second.publicKey.toBase58());
      let cfg = await client.config();
      assert.ok(cfg.pendingAuthority.equals(second.publicKey));
      assert.ok(cfg.authority.equals(first.publicKey), 'the authority moved on a proposal alone');

      // Accept: only the proposed key may; then it is the authority and the old one is not.
      r = await cli(['accept-authority'], strangerFile);
      assert.equal(r.code, 2, r.out);
      assert.match(
        r.stderr,
        new RegExp(`is not the proposed authority \\(proposed: ${second.publicKey.toBase58()}\\)`),
      );
      r = await cli(['accept-authority'], secondFile);
      assert.equal(r.code, 0, r.out);
      assert.match(r.stdout, new RegExp(`${second.publicKey.toBase58()} is now the program's authority`));
      cfg = await client.config();
      assert.ok(cfg.authority.equals(second.publicKey));
      assert.ok(cfg.pendingAuthority.equals(PublicKey.default));
      r = await cli(['accept-authority'], secondFile);
      assert.equal(r.code, 2, r.out);
      assert.match(r.stderr, /none is proposed/);

      // Pause and unpause, by the new authority only; asking for the state it is in sends nothing.
      r = await cli(['pause'], firstFile);
      assert.equal(r.code, 2, r.out);
      assert.match(r.stderr, /is not the program's authority/);
      r = await cli(['pause', '--json'], secondFile);
      assert.equal(r.code, 0, r.out);
      assert.equal(json(r).paused, true);
      assert.equal(json(r).changed, true);
      assert.equal((await client.config()).paused, 1);
      r = await cli(['pause'], secondFile);
      assert.equal(r.code, 0, r.out);
      assert.match(r.stdout, /already paused; nothing sent/);
      r = await cli(['unpause', '--json'], secondFile);
      assert.equal(r.code, 0, r.out);
      assert.equal(json(r).paused, false);
      cfg = await client.config();
      assert.equal(cfg.paused, 0);
      assert.ok(cfg.pausedSlots > 0n, 'the pause was not counted');
      assert.equal(BigInt(json(r).gameSlot), BigInt(json(r).slot) - cfg.pausedSlots);

      // Withdraw from the vault (funded here by a plain transfer) to the configured treasury.
      const vault = client.pdas.vault();
      await client.sender.send(
        [SystemProgram.transfer({ fromPubkey: stranger.publicKey, toPubkey: vault, lamports: 5_000_000 })],
        [stranger],
      );
      const [vaultBefore, treasuryBefore] = await Promise.all([
        client.sender.getBalance(vault),
        client.sender.getBalance(treasury),
      ]);
      r = await cli(['withdraw-treasury', '3000000'], firstFile);
      assert.equal(r.code, 2, r.out);
      r = await cli(['withdraw-treasury', '3000000', '--json'], secondFile);
      assert.equal(r.code, 0, r.out);
      assert.equal(json(r).amount, '3000000');
      const [vaultAfter, treasuryAfter] = await Promise.all([
        client.sender.getBalance(vault),
        client.sender.getBalance(treasury),
      ]);
      assert.equal(vaultBefore - vaultAfter, 3_000_000n);
      assert.equal(treasuryAfter - treasuryBefore, 3_000_000n);
      // More than the vault holds above its rent: the program refuses, and the CLI says what the vault holds.
      r = await cli(['withdraw-treasury', '2500000'], secondFile);
      assert.equal(r.code, 2, r.out);
      assert.match(r.stderr, /optinfer: withdraw-treasury: the vault/);
      assert.match(r.stderr, new RegExp(`holds ${vaultAfter} lamports and keeps its rent-exempt minimum`));
      assert.equal(await client.sender.getBalance(vault), vaultAfter);
      for (const bad of ['0', 'lots']) {
        r = await cli(['withdraw-treasury', bad], secondFile);
        assert.equal(r.code, 2, `${bad}: ${r.out}`);
        assert.match(r.stderr, /lamports/);
      }
      r = await runCli(['chain', 'pause', '--rpc', chain.rpcUrl]);
      assert.equal(r.code, 2, r.out);
      assert.match(r.stderr, /--authority-keypair/);
    } finally {
      await chain.stop();
    }
  },
);
