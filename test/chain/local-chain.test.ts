// The local chain (chain/local-validator, surfpool-core) driven over JSON-RPC and websockets by web3.js and
// Anchor with the real optinfer program: launch, airdrop, initialize, confirm, decode, events, figures.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import anchor, { type Idl } from '@coral-xyz/anchor';
import BN from 'bn.js';
import {
  Connection,
  Keypair,
  LAMPORTS_PER_SOL,
  PublicKey,
  SystemProgram,
  Transaction,
  type Commitment,
  type Logs,
} from '@solana/web3.js';
import {
  DEFAULT_VALIDATOR_BINARY,
  LocalChainError,
  freePort,
  startLocalChain,
  type LocalChain,
} from '../../chain/local-chain.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SO_PATH = path.join(ROOT, 'programs/target/deploy/optinfer.so');
const IDL_PATH = path.join(ROOT, 'programs/idl/optinfer.json');
const BINARY = process.env.OPTINFER_LOCAL_VALIDATOR ?? DEFAULT_VALIDATOR_BINARY;
const UPGRADEABLE_LOADER = new PublicKey('BPFLoaderUpgradeab1e11111111111111111111111');
const CONFIRMED: Commitment = 'confirmed';
const TRANSFERS = 1000;
const INSTRUCTIONS = 500;
const IN_FLIGHT = 8;

const idl = JSON.parse(readFileSync(IDL_PATH, 'utf8')) as Idl;
const PROGRAM_ID = new PublicKey(idl.address);
const configPda = () => PublicKey.findProgramAddressSync([Buffer.from('config')], PROGRAM_ID)[0];

const figures: string[] = [];
const figure = (line: string) => {
  figures.push(line);
  console.log(`figure: ${line}`);
};

before(() => {
  assert.ok(existsSync(BINARY), `${BINARY} missing: run bash chain/scripts/build.sh`);
  assert.ok(existsSync(SO_PATH), `${SO_PATH} missing: run bash programs/scripts/build.sh`);
});

after(() => {
  if (figures.length) console.log(`\nlocal chain figures:\n  ${figures.join('\n  ')}`);
});

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until every signature has reached `confirmed`, polling in chunks of 256. */
async function confirmAll(conn: Connection, sigs: string[], ms = 60_000): Promise<void> {
  const pending = new Set(sigs);
  await waitFor(`${sigs.length} confirmations`, ms, async () => {
    const list = [...pending];
    for (let i = 0; i < list.length; i += 256) {
      const chunk = list.slice(i, i + 256);
      const { value } = await conn.getSignatureStatuses(chunk);
      value.forEach((s, j) => {
        if (s?.err) throw new Error(`${chunk[j]} failed: ${JSON.stringify(s.err)}`);
        if (s && (s.confirmationStatus === 'confirmed' || s.confirmationStatus === 'finalized')) {
          pending.delete(chunk[j]);
        }
      });
    }
    return pending.size === 0 ? true : undefined;
  });
}

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

test('the validator serves on loopback, loads the program executable, airdrops at start and stops on SIGTERM', async () => {
  const funded = Keypair.generate();
  const chain = await startLocalChain({
    programs: [{ programId: PROGRAM_ID, soPath: SO_PATH }],
    airdrops: [{ pubkey: funded.publicKey, lamports: 7n * BigInt(LAMPORTS_PER_SOL) }],
  });
  try {
    figure(`start-up to ready line: ${chain.startupMs.toFixed(0)} ms (spawn included)`);
    assert.match(chain.rpcUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(chain.wsUrl, /^ws:\/\/127\.0\.0\.1:\d+$/);
    const conn = new Connection(chain.rpcUrl, { commitment: CONFIRMED, wsEndpoint: chain.wsUrl });
    const version = await conn.getVersion();
    assert.ok(version['solana-core'], 'getVersion answers');
    assert.equal(await conn.getBalance(funded.publicKey), 7 * LAMPORTS_PER_SOL);
    const program = await conn.getAccountInfo(PROGRAM_ID);
    assert.ok(program, 'program account exists');
    assert.equal(program.executable, true);
    assert.ok(program.owner.equals(UPGRADEABLE_LOADER), `owner ${program.owner.toBase58()}`);
    figure(`memory after start (RSS): ${(rssKb(chain.pid) / 1024).toFixed(0)} MB`);
  } finally {
    await chain.stop();
  }
  assert.throws(() => process.kill(chain.pid, 0), 'the process is gone after stop()');
  await chain.stop(); // idempotent
});

test('error: a missing .so is refused with a clear message and a non-zero exit', async () => {
  await assert.rejects(
    startLocalChain({ programs: [{ programId: PROGRAM_ID, soPath: '/nonexistent/optinfer.so' }] }),
    (e: unknown) =>
      e instanceof LocalChainError &&
      e.code === 'EXITED' &&
      /cannot read `\/nonexistent\/optinfer\.so`/.test(e.message) &&
      /code 2/.test(e.message),
  );
});

test('error: a port in use is refused with a clear message and a non-zero exit', async () => {
  const port = await freePort();
  const blocker: Server = createServer();
  await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
  try {
    await assert.rejects(
      startLocalChain({ programs: [], rpcPort: port, wsPort: await freePort() }),
      (e: unknown) =>
        e instanceof LocalChainError &&
        e.code === 'PORT_IN_USE' &&
        new RegExp(`RPC port ${port} on 127.0.0.1 is already in use`).test(e.message) &&
        /code 1/.test(e.message),
    );
  } finally {
    await new Promise<void>((r) => blocker.close(() => r()));
  }
});

test('the binary exits 0 on SIGINT once ready', async () => {
  const [rpc, ws] = [await freePort(), await freePort()];
  const child = spawn(BINARY, ['--rpc-port', String(rpc), '--ws-port', String(ws)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes(`ready rpc=http://127.0.0.1:${rpc} ws=ws://127.0.0.1:${ws}`)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
  });
  child.kill('SIGINT');
  assert.equal(await exited, 0);
});

test('the binary exits 0 when its standard input closes (no orphan after a parent crash)', async () => {
  const [rpc, ws] = [await freePort(), await freePort()];
  const child = spawn(BINARY, ['--rpc-port', String(rpc), '--ws-port', String(ws), '--exit-on-stdin-close'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes(' ready ')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
  });
  child.stdin.end();
  assert.equal(await exited, 0);
});

test('error: usage errors exit 2 with a message naming the flag', async () => {
  const ports = ['--rpc-port', String(await freePort()), '--ws-port', String(await freePort())];
  const cases: [string[], RegExp][] = [
    [[...ports, '--airdrop', 'not-a-key=5'], /--airdrop: `not-a-key` is not a base58 pubkey/],
    [
      [...ports, '--airdrop', `${Keypair.generate().publicKey.toBase58()}=1`],
      /below the rent-exempt minimum/,
    ],
    [['--rpc-port', '7000', '--ws-port', '7000'], /must differ/],
    [[...ports, '--frobnicate'], /unknown argument `--frobnicate`/],
  ];
  for (const [args, message] of cases) {
    const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    assert.match(stderr, message);
  }
});

test('web3.js and Anchor against the local chain: initialize, websocket confirmation, decode, CU, events, tx/s', async () => {
  let chain: LocalChain | undefined;
  try {
    chain = await startLocalChain({ programs: [{ programId: PROGRAM_ID, soPath: SO_PATH }] });
    const conn = new Connection(chain.rpcUrl, { commitment: CONFIRMED, wsEndpoint: chain.wsUrl });
    const authority = Keypair.generate();
    const treasury = Keypair.generate().publicKey;

    // Airdrop over RPC, confirmed through the websocket signature subscription.
    // The authority is the sequencer too: each of the INSTRUCTIONS commits moves one fault slash (1 SOL) into
    // its batch's fault reserve.
    const airdropSig = await conn.requestAirdrop(
      authority.publicKey,
      (100 + INSTRUCTIONS) * LAMPORTS_PER_SOL,
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no websocket confirmation of the airdrop')), 20_000);
      conn.onSignature(
        airdropSig,
        (res) => {
          clearTimeout(timer);
          if (res.err) reject(new Error(JSON.stringify(res.err)));
          else resolve();
        },
        CONFIRMED,
      );
    });
    assert.equal(await conn.getBalance(authority.publicKey), (100 + INSTRUCTIONS) * LAMPORTS_PER_SOL);

    const provider = new anchor.AnchorProvider(conn, new anchor.Wallet(authority), {
      commitment: CONFIRMED,
      preflightCommitment: CONFIRMED,
    });
    const program = new anchor.Program(idl, provider);

    // Subscribe to the program's logs and Anchor events before sending.
    const logs: Logs[] = [];
    const logSub = conn.onLogs(PROGRAM_ID, (l) => logs.push(l), CONFIRMED);
    const events: { name: string; data: Record<string, unknown>; sig: string }[] = [];
    const eventSub = program.addEventListener('configUpdated', (data, _slot, sig) => {
      events.push({ name: 'ConfigUpdated', data: data as Record<string, unknown>, sig });
    });
    // Let both subscriptions reach the server.
    await new Promise((r) => setTimeout(r, 300));

    const t0 = performance.now();
    const sig = await program.methods
      .initialize({
        sequencer: authority.publicKey,
        treasury,
        challengeWindow: new BN(30),
        clockSlots: new BN(20),
        minExecutorBond: new BN(1_000_000_000),
        minChallengerBond: new BN(1_000_000_000),
        unbondingSlots: new BN(30 + 2 * 20 + 150),
        bountyBps: 2500,
      })
      .accounts({ authority: authority.publicKey })
      .rpc({ commitment: CONFIRMED });
    figure(
      `initialize sent and confirmed (Anchor .rpc, websocket): ${(performance.now() - t0).toFixed(0)} ms`,
    );

    const config = (await (
      program.account as unknown as Record<string, { fetch(a: PublicKey): Promise<Record<string, unknown>> }>
    ).config.fetch(configPda())) as {
      authority: PublicKey;
      sequencer: PublicKey;
      treasury: PublicKey;
      challengeWindow: BN;
      nextBatchIndex: BN;
      bountyBps: number;
    };
    assert.ok(config.authority.equals(authority.publicKey));
    assert.ok(config.sequencer.equals(authority.publicKey));
    assert.ok(config.treasury.equals(treasury));
    assert.equal(config.challengeWindow.toNumber(), 30);
    assert.equal(config.nextBatchIndex.toNumber(), 0);
    assert.equal(config.bountyBps, 2500);

    const tx = await conn.getTransaction(sig, { commitment: CONFIRMED, maxSupportedTransactionVersion: 0 });
    assert.ok(tx?.meta, 'getTransaction returns the transaction with meta');
    assert.equal(tx.meta.err, null);
    const cu = tx.meta.computeUnitsConsumed ?? 0;
    assert.ok(cu > 0 && cu < 200_000, `compute units ${cu}`);
    figure(`initialize compute units (getTransaction): ${cu}`);

    // The event decoded from the transaction's own logs, and delivered by the subscriptions.
    const parser = new anchor.EventParser(PROGRAM_ID, program.coder);
    const fromTx = [...parser.parseLogs(tx.meta.logMessages ?? [])];
    assert.deepEqual(
      fromTx.map((e) => e.name),
      ['configUpdated'],
    );
    const ev = await waitFor('the ConfigUpdated event', 10_000, async () =>
      events.find((e) => e.sig === sig),
    );
    assert.ok((ev.data.authority as PublicKey).equals(authority.publicKey));
    assert.equal(ev.data.paused, 0);
    const logged = await waitFor('logsSubscribe', 10_000, async () => logs.find((l) => l.signature === sig));
    assert.equal(logged.err, null);
    assert.ok(
      logged.logs.some((l) => l.startsWith('Program data: ')),
      'event data in the logs',
    );
    await program.removeEventListener(eventSub);
    await conn.removeOnLogsListener(logSub);

    // Throughput, simple transfers: signed locally, IN_FLIGHT sends at a time, all confirmed.
    const { blockhash } = await conn.getLatestBlockhash(CONFIRMED);
    const to = Keypair.generate().publicKey;
    const transfers = Array.from({ length: TRANSFERS }, (_, i) => {
      const t = new Transaction({ feePayer: authority.publicKey, recentBlockhash: blockhash }).add(
        SystemProgram.transfer({ fromPubkey: authority.publicKey, toPubkey: to, lamports: 1_000_000 + i }),
      );
      t.sign(authority);
      return t.serialize();
    });
    const sigs: string[] = [];
    const t1 = performance.now();
    await pool(transfers, IN_FLIGHT, async (raw) => {
      sigs.push(await conn.sendRawTransaction(raw, { preflightCommitment: CONFIRMED }));
    });
    const sent1 = performance.now();
    await confirmAll(conn, sigs);
    const done1 = performance.now();
    figure(
      `transfers: ${TRANSFERS} processed at ${((TRANSFERS * 1000) / (sent1 - t1)).toFixed(0)} tx/s ` +
        `(${IN_FLIGHT} in flight), all confirmed at ${((TRANSFERS * 1000) / (done1 - t1)).toFixed(0)} tx/s`,
    );
    const expected = Array.from({ length: TRANSFERS }, (_, i) => 1_000_000 + i).reduce((a, b) => a + b, 0);
    assert.equal(await conn.getBalance(to), expected);

    // The sequencer bonds one record-fault slash (min_executor_bond) before commit_batch accepts its batches.
    await program.methods
      .bond(new BN(1_000_000_000))
      .accounts({ owner: authority.publicKey })
      .rpc({ commitment: CONFIRMED });

    // Throughput, one program instruction: commit_batch must take consecutive indices, so these are
    // sent one after another (sendTransaction returns once the chain has processed it), then confirmed.
    const commits = await Promise.all(
      Array.from({ length: INSTRUCTIONS }, async (_, i) => {
        const ix = await program.methods
          .commitBatch(new BN(i), [...Buffer.alloc(32, i % 256)], 4, new BN(0))
          .accounts({ sequencer: authority.publicKey })
          .instruction();
        const t = new Transaction({ feePayer: authority.publicKey, recentBlockhash: blockhash }).add(ix);
        t.sign(authority);
        return t.serialize();
      }),
    );
    const csigs: string[] = [];
    const t2 = performance.now();
    for (const raw of commits)
      csigs.push(await conn.sendRawTransaction(raw, { preflightCommitment: CONFIRMED }));
    const sent2 = performance.now();
    await confirmAll(conn, csigs);
    const done2 = performance.now();
    figure(
      `commit_batch: ${INSTRUCTIONS} processed at ${((INSTRUCTIONS * 1000) / (sent2 - t2)).toFixed(0)} tx/s ` +
        `(sequential, preflight on), all confirmed at ${((INSTRUCTIONS * 1000) / (done2 - t2)).toFixed(0)} tx/s`,
    );
    const last = await conn.getTransaction(csigs[csigs.length - 1], {
      commitment: CONFIRMED,
      maxSupportedTransactionVersion: 0,
    });
    figure(`commit_batch compute units: ${last?.meta?.computeUnitsConsumed ?? 'n/a'}`);
    const after = (await (
      program.account as unknown as Record<string, { fetch(a: PublicKey): Promise<{ nextBatchIndex: BN }> }>
    ).config.fetch(configPda())) as { nextBatchIndex: BN };
    assert.equal(after.nextBatchIndex.toNumber(), INSTRUCTIONS);
    figure(`memory after the run (RSS): ${(rssKb(chain.pid) / 1024).toFixed(0)} MB`);
  } finally {
    await chain?.stop();
  }
});
