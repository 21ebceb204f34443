// Dishonest challenger policies for tests and demos (`challenger --cheat`): false alarms on correct results, and
// an executor's accomplice that squats a wrong job's dispute and abandons it.
import type { ChallengerPolicy } from '../challenger/policy.ts';
import { HONEST_CHALLENGER } from '../challenger/policy.ts';
import type { Tensor } from '../state/tensor.ts';

/**
 * 'false-alarm': contests every audited job and defends a trace whose last layer has one byte changed.
 * 'squat': a cheating executor's accomplice: opens a game on every wrong job it finds, then never moves in it,
 * so the executor wins it on time (before issue 13 that cleared the job and shut every honest challenger out).
 */
export const CHALLENGER_CHEAT_MODES = ['none', 'false-alarm', 'squat'] as const;
export type ChallengerCheat = (typeof CHALLENGER_CHEAT_MODES)[number];

export const FALSE_ALARM: ChallengerPolicy = {
  contests: () => true,
  defend: (layers: Tensor[]) => {
    const out = [...layers];
    const last = out[out.length - 1];
    const data = new Uint8Array(last.data);
    data[0] ^= 0x01;
    out[out.length - 1] = { ...last, data };
    return out;
  },
};

export const SQUATTER: ChallengerPolicy = {
  contests: ({ agree }) => !agree,
  defend: (layers: Tensor[]) => layers,
  abandons: true,
};

/** The challenger policy a `--cheat` setting asks for: honest for 'none' (or none given). */
export function challengerPolicy(cheat: ChallengerCheat = 'none'): ChallengerPolicy {
  return cheat === 'false-alarm' ? FALSE_ALARM : cheat === 'squat' ? SQUATTER : HONEST_CHALLENGER;
}
