/**
 * A bound on the bytes of webhook request bodies held in memory at once, across all requests
 * (-webhook-max-inflight-bytes). Without it, 100 clients posting 15 MB bodies at once hold 1.5 GB
 * (and several times that while the JSON is parsed). A request reserves its declared Content-Length
 * before a byte is read; a chunked or compressed body grows its reservation as its (decompressed)
 * bytes arrive. Past the bound the request is answered 429 with Retry-After: the apiserver re-sends it.
 */
import type { Gauge } from 'prom-client';

/** One request's share of the bound; released once its answer is sent. */
export interface BodyReservation {
  /** Holds `total` bytes for this request (its size so far); false, holding nothing more, when over the bound. */
  holdUpTo(total: number): boolean;
  release(): void;
}

export class InflightBytes {
  private used = 0;

  constructor(
    readonly limit: number,
    private readonly gauge?: Pick<Gauge, 'set'>,
  ) {}

  get bytes(): number {
    return this.used;
  }

  reserve(): BodyReservation {
    let held = 0;
    let released = false;
    return {
      holdUpTo: (total) => {
        if (released) return false;
        if (total <= held) return true;
        if (this.used + (total - held) > this.limit) return false;
        this.used += total - held;
        held = total;
        this.gauge?.set(this.used);
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        this.used -= held;
        held = 0;
        this.gauge?.set(this.used);
      },
    };
  }
}
