// Pending findings: a mismatch waits in the challenger's LevelDB until its dispute opens or a final refusal ends it.
import type { InclusionProof } from '../state/job.ts';
import type { Refusal } from '../dispute/rules.ts';
import type { Finding } from './findings.ts';

/** A finding whose dispute is not open yet, as stored (key `batchIndex:jobId`), so a restart resumes it. */
export interface PendingFinding {
  finding: Finding;
  /** The inclusion proof `open_dispute` needs, as the sequencer served it under the committed root. */
  proof: InclusionProof;
  /** Attempts made so far, and why the last one did not open. */
  attempts: number;
  lastReason?: string;
}

export const pendingKey = (f: { batchIndex: number; jobId: string }): string => `${f.batchIndex}:${f.jobId}`;

/** Milliseconds between passes over the pending findings (the default `retryMs`). */
export const DEFAULT_RETRY_MS = 1_000;

/**
 * How long a finding waits for its batch to appear on chain. The challenger hears of a batch only once the
 * sequencer committed it, so absence is RPC lag; past this, the batch was never committed and nothing can open.
 */
export const UNCOMMITTED_GRACE_MS = 10 * 60_000;

/** What an attempt that did not open a dispute means for its finding. */
export type Next =
  { readonly retry: true; readonly why: string } | { readonly retry: false; readonly why: string };

/**
 * The retry policy. A rule that refuses for now (the program paused, the model not loaded yet, the batch not yet
 * visible on this RPC) and any error (RPC down, a bond deposit or the open transaction failing) leave the finding
 * pending for the next pass; the next pass re-reads the chain, so an open that landed despite an error is seen as
 * this challenger's own game and ends there, never opened twice. A final refusal ends it: the job already
 * invalidated, the window closed in game time or the batch finalized, this challenger already has its game, its
 * own job, a root that differs, or a model the referee cannot decide.
 */
export function afterAttempt(outcome: Refusal | Error, ageMs: number): Next {
  if (outcome instanceof Error) return { retry: true, why: outcome.message };
  if (outcome.rule === 'batchIsCommitted' && outcome.transient && ageMs >= UNCOMMITTED_GRACE_MS)
    return { retry: false, why: `${outcome.reason} after ${Math.round(ageMs / 1000)} s` };
  return { retry: outcome.transient === true, why: outcome.reason };
}
