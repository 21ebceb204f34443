// `optinfer submit`: register the model if given a file, submit a job, optionally wait for its final state (through client/).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { PublicKey } from '@solana/web3.js';
import { loadKeypair } from '../../common/keys.ts';
import { DEFAULT_JOB_FEE_LAMPORTS } from '../../state/job.ts';
import { signVoucher } from '../../state/voucher.ts';
import { OptinferError } from '../../state/errors.ts';
import { parseInputsJson, encodeTensorsJson } from '../../state/tensor-json.ts';
import { isHash32 } from '../../state/types.ts';
import { OptinferClient, isOptinferApiError, type JobView } from '../../client/index.ts';

interface SubmitOptions {
  model: string;
  input: string;
  url: string;
  /** Sent as `Authorization: Bearer KEY` with the upload and the job. */
  apiKey?: string;
  wait: boolean;
  timeoutMs: number;
  /** The paying user's keypair file: signs the voucher for this job's fee on a node taking payments. */
  keypair?: string;
  /** The job's fee in lamports (the node's default when not given). */
  fee?: bigint;
  /** The running total the user's vouchers reached, when this machine keeps no record of it. */
  voucherTotal?: bigint;
}

/**
 * The running total of the vouchers this user signed, per (program, sequencer), kept next to its keypair
 * (KEYPAIR.vouchers.json). The total is the user's own record: a node's figure is never signed on trust,
 * or a hostile node could have one job's voucher cover the whole deposit.
 */
function voucherLedger(keypair: string) {
  const path = `${keypair}.vouchers.json`;
  let totals: Record<string, string> = {};
  if (existsSync(path)) {
    try {
      totals = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
    } catch {
      throw new OptinferError('INVALID_INPUT', `voucher record '${path}': not JSON; fix or remove it`);
    }
  }
  return {
    path,
    get(key: string): bigint | undefined {
      const v = totals[key];
      if (v === undefined) return undefined;
      if (!/^[0-9]{1,20}$/.test(v))
        throw new OptinferError('INVALID_INPUT', `voucher record '${path}': ${key} is not a lamport total`);
      return BigInt(v);
    },
    set(key: string, total: bigint) {
      totals[key] = total.toString();
      // Written before the voucher leaves: a total is never signed twice at a lower figure.
      const tmp = `${path}.tmp`;
      writeFileSync(tmp, JSON.stringify(totals, null, 2) + '\n', { mode: 0o600 });
      renameSync(tmp, path);
    },
  };
}

const POLL_MS = 250;

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    throw new OptinferError('INVALID_INPUT', `${what} '${path}': cannot be read`);
  }
}

/** The node's refusals keep their code; an unreachable node says what to do. */
async function call<T>(url: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (!isOptinferApiError(e)) throw e;
    if (e.status === undefined && e.code === 'UNAVAILABLE')
      throw new OptinferError(
        'UNAVAILABLE',
        `cannot reach the sequencer at ${new URL(url).origin} (is \`npx optinfer dev\` running? pass --url)`,
        undefined,
        { cause: e },
      );
    throw new OptinferError(e.code, `sequencer refused (HTTP ${e.status}): ${e.message}`, e.details, {
      cause: e,
    });
  }
}

export async function submitCommand(o: SubmitOptions): Promise<number> {
  const api = new OptinferClient({ url: o.url, apiKey: o.apiKey, pollMs: POLL_MS });
  const inputs = parseInputsJson(readFile(o.input, 'input file').toString('utf8'), `input file '${o.input}'`);
  let modelId: string;
  if (existsSync(o.model)) {
    const name = o.model
      .split('/')
      .pop()!
      .replace(/\.onnx$/i, '');
    const bytes = new Uint8Array(readFile(o.model, 'model file'));
    modelId = (await call(o.url, () => api.uploadModel(bytes, name))).modelId;
  } else if (isHash32(o.model)) {
    modelId = o.model;
  } else {
    throw new OptinferError(
      'INVALID_INPUT',
      `--model: expected an ONNX file or a 64-hex model id, got '${o.model}' (no such file)`,
    );
  }
  let payment: { user: string; cumulative: string; signature: string } | undefined;
  // The fee the voucher pays, sent with the job so that the node charges that and not a default of its own.
  let fee = o.fee;
  if (o.keypair) {
    // The voucher raises the running total the node holds by this job's fee (docs/PROGRAM.md "User deposits").
    const user = loadKeypair(o.keypair);
    const d = await call(o.url, () => api.deposit(user.publicKey.toBase58()));
    fee ??= d.defaultFee && /^\d{1,20}$/.test(d.defaultFee) ? BigInt(d.defaultFee) : DEFAULT_JOB_FEE_LAMPORTS;
    const ledger = voucherLedger(o.keypair);
    const key = `${d.programId}/${d.sequencer}`;
    const nodeTotal = BigInt(d.cumulative);
    let base = o.voucherTotal ?? ledger.get(key);
    if (base === undefined) {
      if (nodeTotal !== 0n)
        throw new OptinferError(
          'INVALID_INPUT',
          `the node says this user's vouchers reach ${nodeTotal} lamports, and ${ledger.path} has no record of them: check what you signed, then pass --voucher-total`,
        );
      base = 0n;
    }
    if (nodeTotal > base)
      process.stderr.write(
        `warning: the node says your vouchers reach ${nodeTotal} lamports, your record ${base}: signing from your record\n`,
      );
    const cumulative = base + fee;
    ledger.set(key, cumulative);
    process.stderr.write(
      `deposit of ${d.user}: balance ${d.balance} lamports, ${d.available} available; this job's fee ${fee}\n`,
    );
    const signature = signVoucher(
      {
        programId: new PublicKey(d.programId),
        user: user.publicKey,
        sequencer: new PublicKey(d.sequencer),
        cumulative,
      },
      user.secretKey,
    );
    payment = { user: d.user, cumulative: cumulative.toString(), signature: signature.toString('hex') };
  }
  const { jobId } = await call(o.url, () =>
    api.submit({ modelId, inputs: encodeTensorsJson(inputs), fee, payment }),
  );
  if (!o.wait) {
    process.stdout.write(JSON.stringify({ jobId, modelId }) + '\n');
    return 0;
  }
  process.stderr.write(`job ${jobId} accepted\n`);
  let job: JobView;
  try {
    job = await call(o.url, () =>
      api.wait(jobId, {
        timeoutMs: o.timeoutMs,
        onEvent: (e) =>
          process.stderr.write(
            `  ${new Date(e.at).toISOString()}  ${e.status}${e.phase === 'invalidated' ? ` (batch ${e.batch!.index}: lost a dispute; runs again)` : e.job.batch ? ` (batch ${e.job.batch.index})` : ''}\n`,
          ),
      }),
    );
  } catch (e) {
    if (!(e instanceof OptinferError) || e.code !== 'TIMEOUT') throw e;
    const status = (e.details as { status?: string } | undefined)?.status ?? 'not final';
    process.stderr.write(`optinfer: gave up waiting after ${o.timeoutMs} ms; job ${jobId} is ${status}\n`);
    return 1;
  }
  const v = job.proof ? await call(o.url, () => api.verify(job)) : undefined;
  // The proof checked here; where the node settles on a chain, the chain must also hold its root.
  const proofOk = v !== undefined && v.proofValid && v.rootOnChain !== false && v.invalidated !== true;
  process.stdout.write(
    JSON.stringify(
      {
        ...job,
        proofVerified: proofOk,
        ...(v?.chain && {
          onChain: { root: v.chain.root, finalized: v.chain.finalized, rootMatches: v.rootOnChain },
        }),
        ...(v?.problem && { proofProblem: v.problem }),
      },
      null,
      2,
    ) + '\n',
  );
  return job.status === 'finalized' && proofOk ? 0 : 1;
}
