// The dispute game's phase table (who moves, which instructions act, where each leads), mirrored by game.rs.

/** Side whose clock runs when a phase begins. */
export type Mover = 'executor' | 'challenger' | 'none';

/** The program instructions that act on an open dispute (proof-buffer instructions are phase-free). */
export type DisputeInstruction =
  | 'commit_trace'
  | 'bisect_layer'
  | 'reveal_layer'
  | 'bisect_chunk'
  | 'reveal_leaf'
  | 'one_step'
  | 'claim_timeout';

/**
 * The transition table; a phase's number is its position, as the program stores it in
 * `Dispute.phase`. dispute/phases.test.ts fails when this and game.rs differ.
 * - `mover`: side to move on entering the phase. In ONE_STEP anyone may submit the recomputation,
 *   on the challenger's clock.
 * - `alternates`: rounds of two half-moves, the mover then the other side, and again.
 * - `instructions`: accepted in the phase; any other fails with WrongPhase (DisputeResolved once
 *   resolved). claim_timeout succeeds only once the side to move has run out of clock.
 * - `next`: phases one accepted instruction can leave the dispute in (itself while a round goes on).
 */
export const PHASE_TABLE = [
  {
    name: 'EXEC_TRACE',
    mover: 'executor',
    alternates: false,
    instructions: ['commit_trace', 'claim_timeout'],
    next: ['CHAL_TRACE', 'RESOLVED'],
  },
  {
    name: 'CHAL_TRACE',
    mover: 'challenger',
    alternates: false,
    instructions: ['commit_trace', 'claim_timeout'],
    next: ['LAYER_BISECT', 'LAYER_REVEAL', 'RESOLVED'],
  },
  {
    name: 'LAYER_BISECT',
    mover: 'executor',
    alternates: true,
    instructions: ['bisect_layer', 'claim_timeout'],
    next: ['LAYER_BISECT', 'LAYER_REVEAL', 'RESOLVED'],
  },
  {
    name: 'LAYER_REVEAL',
    mover: 'executor',
    alternates: true,
    instructions: ['reveal_layer', 'claim_timeout'],
    next: ['LAYER_REVEAL', 'CHUNK_BISECT', 'LEAF_REVEAL', 'ONE_STEP', 'RESOLVED'],
  },
  {
    name: 'CHUNK_BISECT',
    mover: 'executor',
    alternates: true,
    instructions: ['bisect_chunk', 'claim_timeout'],
    next: ['CHUNK_BISECT', 'LEAF_REVEAL', 'ONE_STEP', 'RESOLVED'],
  },
  {
    // Tolerant models: the executor opens its disputed chunk before the one-step judges it.
    name: 'LEAF_REVEAL',
    mover: 'executor',
    alternates: false,
    instructions: ['reveal_leaf', 'claim_timeout'],
    next: ['ONE_STEP', 'RESOLVED'],
  },
  {
    name: 'ONE_STEP',
    mover: 'challenger',
    alternates: false,
    instructions: ['one_step', 'claim_timeout'],
    next: ['ONE_STEP', 'RESOLVED'],
  },
  {
    name: 'RESOLVED',
    mover: 'none',
    alternates: false,
    instructions: [],
    next: [],
  },
] as const satisfies readonly {
  name: string;
  mover: Mover;
  alternates: boolean;
  instructions: readonly DisputeInstruction[];
  next: readonly string[];
}[];

type Table = typeof PHASE_TABLE;
type Index = Exclude<keyof Table, keyof unknown[]>;
export type PhaseName = Table[number]['name'];

/** Phase numbers by name, as the program stores them. */
export const PHASE = Object.fromEntries(PHASE_TABLE.map((r, i) => [r.name, i])) as {
  readonly [I in Index as Table[I]['name']]: I extends `${infer N extends number}` ? N : never;
};
export type Phase = (typeof PHASE)[PhaseName];

/** Lower-case phase names by number, for logs and displays. */
export const PHASE_NAMES = PHASE_TABLE.map((r) => r.name.toLowerCase()) as unknown as LowerNames<Table>;
type LowerNames<T extends readonly unknown[]> = {
  readonly [I in keyof T]: T[I] extends { name: infer N extends string } ? Lowercase<N> : never;
};

export interface PhaseRule {
  phase: Phase;
  name: PhaseName;
  mover: Mover;
  alternates: boolean;
  instructions: readonly DisputeInstruction[];
  next: readonly Phase[];
}

/** The row of `phase`, with next phases as numbers. */
export function phaseRule(phase: number): PhaseRule {
  const r = PHASE_TABLE[phase];
  if (!r) throw new RangeError(`expected a dispute phase 0..${PHASE_TABLE.length - 1}, got ${phase}`);
  return {
    phase: phase as Phase,
    name: r.name,
    mover: r.mover,
    alternates: r.alternates,
    instructions: r.instructions,
    next: r.next.map((n) => PHASE[n]),
  };
}

/** Whether `instruction` may act on a dispute in `phase` (the program answers WrongPhase otherwise). */
export function allows(phase: number, instruction: DisputeInstruction): boolean {
  return (phaseRule(phase).instructions as readonly string[]).includes(instruction);
}
