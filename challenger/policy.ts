// What a challenger contests and which trace it defends in a game. Honest by default; the others live in adversary/.
import type { Tensor } from '../state/tensor.ts';
import type { JobId } from '../state/types.ts';

export interface ChallengerPolicy {
  /**
   * Whether to contest an audited job (record a finding, locate the divergence, open a game on chain), given
   * whether the executor's claimed output agrees with the re-execution.
   */
  contests(audit: { jobId: JobId; agree: boolean }): boolean;
  /** The layer tensors to defend in a game, given the challenger's own trace of the job. */
  defend(layers: Tensor[]): Tensor[];
  /** Opens its games and never moves in them (an executor's accomplice squatting the job); false by default. */
  abandons?: boolean;
}

export const HONEST_CHALLENGER: ChallengerPolicy = {
  contests: ({ agree }) => !agree,
  defend: (layers) => layers,
};
