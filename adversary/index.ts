// The dishonest roles in one place, for `optinfer dev --cheat`, the role `--cheat` flags, the demo and the e2e suite.
export {
  CHEAT_MODES,
  CheatingExecutor,
  executorPolicy,
  flipFrom,
  type CheatConfig,
  type CheatMode,
} from './executor.ts';
export {
  CHALLENGER_CHEAT_MODES,
  FALSE_ALARM,
  SQUATTER,
  challengerPolicy,
  type ChallengerCheat,
} from './challenger.ts';
export { UnbondingCheater, type WithdrawAttempt } from './unbonder.ts';
export { FramingSequencer, type FramingAttempt, type Framed } from './framer.ts';
