/**
 * Where mobget cuts its own connection, to behave like a phone changing
 * cells. Pure and reproducible: drop points are file offsets, so the same
 * options and seed give the same drops whatever sizes TCP delivers in.
 *
 * - every N: a connection is cut once it has delivered N body bytes;
 * - chance P: the file is split into 16 KiB blocks and each block, with
 *   probability P, holds one drop point at a random byte inside it;
 * - at most `maxDrops` drops in all; never at the end of the file (a drop
 *   there would cut a transfer that is already complete).
 */

import { mulberry32 } from '@mobserve/common';

export { mulberry32 };

export const CHANCE_BLOCK = 16 * 1024;

export interface DropPlanOptions {
  every?: number | undefined;
  chance?: number | undefined;
  seed: number;
  maxDrops?: number | undefined;
}

export class DropPlan {
  private readonly rng: () => number;
  /** Random drop points found so far, ascending, and the blocks decided. */
  private readonly points: number[] = [];
  private blocksDecided = 0;
  private dropped = 0;

  constructor(private readonly opts: DropPlanOptions) {
    this.rng = mulberry32(opts.seed);
  }

  get drops(): number {
    return this.dropped;
  }

  /** Counts one simulated drop. */
  record(): void {
    this.dropped++;
  }

  /**
   * For a connection whose body starts at file offset `from`, the offset at
   * which to cut it, or undefined to let it run. `size` (when known) keeps
   * drops off the last byte.
   */
  nextDrop(from: number, size: number | undefined): number | undefined {
    if (this.opts.maxDrops !== undefined && this.dropped >= this.opts.maxDrops) return undefined;
    let at: number | undefined;
    if (this.opts.every !== undefined && this.opts.every > 0) at = from + this.opts.every;
    if (this.opts.chance !== undefined && this.opts.chance > 0) {
      const p = this.randomPointAfter(from, at ?? size);
      if (p !== undefined && (at === undefined || p < at)) at = p;
    }
    if (at === undefined || (size !== undefined && at >= size)) return undefined;
    return at;
  }

  /** The first random point > from, deciding blocks lazily in file order, up to `limit`. */
  private randomPointAfter(from: number, limit: number | undefined): number | undefined {
    const chance = this.opts.chance!;
    const horizon = limit ?? from + 1024 * CHANCE_BLOCK;
    for (;;) {
      const found = this.points.find((p) => p > from);
      if (found !== undefined) return found;
      const blockStart = this.blocksDecided * CHANCE_BLOCK;
      if (blockStart > horizon) return undefined;
      // Two draws per block, always, so block k's decision never depends on
      // which earlier blocks were asked about.
      const hit = this.rng() < chance;
      const offset = 1 + Math.floor(this.rng() * (CHANCE_BLOCK - 1));
      if (hit) this.points.push(blockStart + offset);
      this.blocksDecided++;
    }
  }
}
