// One side's trace of a run as the program tests hold it: layer tensors and every commitment derived from
// them, computed by the independent oracle (protocol.ts), and the canonical profile the toy models run under.
import * as P from './protocol.ts';

export const PROFILE = P.sha(Buffer.from('canonical profile'));

/** A side's view of one run: its layer tensors and all commitments derived from them. */
export class Trace {
  digests: Buffer[];
  prefixes: Buffer[];
  levels: Buffer[][];
  chunkTrees: Buffer[][][];
  constructor(
    public layers: P.Tensor[],
    public seed: Buffer,
  ) {
    this.digests = layers.map(P.tensorDigest);
    this.prefixes = P.prefixes(seed, this.digests);
    this.levels = P.tree(this.prefixes.map(P.leafHash));
    this.chunkTrees = layers.map(P.chunkTree);
  }
  get root() {
    return P.rootOf(this.levels);
  }
  prefixBefore(i: number) {
    return i === 0 ? this.seed : this.prefixes[i - 1];
  }
}
