// nextMove and playMove on toy disputes and a toy trace: which move each phase expects, from whom, what it
// says, and that playMove sends exactly that move, or nothing out of turn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keypair, PublicKey } from '@solana/web3.js';
import { isOptinferError } from '../state/errors.ts';
import { PHASE } from './phases.ts';
import { SIDE, type DisputeAccount } from '../settlement/accounts.ts';
import type { SettlementClient } from '../settlement/client.ts';
import type { SendResult } from '../settlement/sender.ts';
import { nextMove, playMove, sideOf } from './moves.ts';
import { CHALLENGER, EXECUTOR, label, toyDispute, toyTrace } from './testkit.ts';

const trace = toyTrace(8, 4);

test('nextMove: commit_trace in either trace phase commits the root and the last layer', () => {
  for (const [phase, turn] of [
    [PHASE.EXEC_TRACE, SIDE.EXECUTOR],
    [PHASE.CHAL_TRACE, SIDE.CHALLENGER],
  ] as const) {
    const d = toyDispute({ phase, turn });
    assert.deepEqual(nextMove(d), { kind: 'commit_trace', side: turn });
    assert.deepEqual(nextMove(d, trace), {
      kind: 'commit_trace',
      side: turn,
      args: {
        root: label('root'),
        layerCount: 8,
        prevPrefix: label('p:6'),
        lastDigest: label('d:7'),
        siblings: [label('proof:7')],
        model: d.model,
      },
    });
  }
});

test('nextMove: bisect_layer reveals the prefix at the middle of the disputed range', () => {
  const d = toyDispute({ phase: PHASE.LAYER_BISECT, turn: SIDE.CHALLENGER, agreed: 2, disagree: 7 });
  assert.deepEqual(nextMove(d), { kind: 'bisect_layer', side: SIDE.CHALLENGER });
  assert.deepEqual(nextMove(d, trace), {
    kind: 'bisect_layer',
    side: SIDE.CHALLENGER,
    args: { prefix: label('p:4'), siblings: [label('proof:4')] },
  });
});

test('nextMove: reveal_layer gives the disputed layer header and chunk root', () => {
  const d = toyDispute({ phase: PHASE.LAYER_REVEAL, turn: SIDE.EXECUTOR, agreed: 4, disagree: 5 });
  const m = nextMove(d, trace);
  assert.deepEqual(m, {
    kind: 'reveal_layer',
    side: SIDE.EXECUTOR,
    args: { header: Buffer.from([1, 1, 5]), chunkRoot: label('c:5:2:0') },
  });
});

test('nextMove: bisect_chunk gives the two children of the disputed node', () => {
  const d = toyDispute({
    phase: PHASE.CHUNK_BISECT,
    turn: SIDE.CHALLENGER,
    disagree: 5,
    chunkLevel: 1,
    chunkIndex: 1,
  });
  assert.deepEqual(nextMove(d, trace), {
    kind: 'bisect_chunk',
    side: SIDE.CHALLENGER,
    args: { left: label('c:5:0:2'), right: label('c:5:0:3') },
  });
});

test('nextMove: the one-step is on the challenger, a resolved game names its winner', () => {
  const step = toyDispute({ phase: PHASE.ONE_STEP, turn: SIDE.EXECUTOR });
  assert.deepEqual(nextMove(step, trace), { kind: 'one_step', side: SIDE.CHALLENGER });
  const over = toyDispute({ phase: PHASE.RESOLVED, winner: SIDE.CHALLENGER });
  assert.deepEqual(nextMove(over, trace), { kind: 'resolved', winner: SIDE.CHALLENGER });
});

test('sideOf: the executor, the challenger, or no party', () => {
  const d = toyDispute();
  assert.equal(sideOf(d, EXECUTOR), SIDE.EXECUTOR);
  assert.equal(sideOf(d, CHALLENGER), SIDE.CHALLENGER);
  assert.equal(sideOf(d, Keypair.generate().publicKey), null);
});

/** A client that records the moves sent to it instead of sending them. */
function recorder() {
  const sent: { name: string; args: unknown }[] = [];
  const rec = (name: string) => async (_s: unknown, _d: PublicKey, args: unknown) => {
    sent.push({ name, args });
    return { signature: name } as unknown as SendResult;
  };
  const client = {
    commitTrace: rec('commit_trace'),
    bisectLayer: rec('bisect_layer'),
    revealLayer: rec('reveal_layer'),
    bisectChunk: rec('bisect_chunk'),
  } as unknown as SettlementClient;
  return { client, sent };
}

/** A signer whose public key is the given party's. */
const as = (key: PublicKey) => ({ publicKey: key, secretKey: new Uint8Array(64) });

test('playMove sends the move nextMove builds, only on its own turn', async () => {
  const at = Keypair.generate().publicKey;
  const d: DisputeAccount = toyDispute({
    phase: PHASE.LAYER_BISECT,
    turn: SIDE.EXECUTOR,
    agreed: 0,
    disagree: 8,
  });
  const { client, sent } = recorder();
  assert.equal(await playMove(client, as(CHALLENGER), at, trace, d), null);
  assert.equal(sent.length, 0);
  assert.ok(await playMove(client, as(EXECUTOR), at, trace, d));
  const m = nextMove(d, trace);
  assert.deepEqual(sent, [{ name: 'bisect_layer', args: 'args' in m ? m.args : undefined }]);
  const step = toyDispute({ phase: PHASE.ONE_STEP, turn: SIDE.CHALLENGER });
  assert.equal(await playMove(client, as(CHALLENGER), at, trace, step), null);
  assert.equal(sent.length, 1);
});

test('error: playMove for a key that is not a party', async () => {
  const { client } = recorder();
  const stranger = Keypair.generate().publicKey;
  await assert.rejects(playMove(client, as(stranger), stranger, trace, toyDispute()), (e: unknown) => {
    assert.ok(isOptinferError(e));
    assert.equal(e.code, 'INVALID_INPUT');
    assert.match(e.message, /is not a party/);
    return true;
  });
});
