import { buildAdmission, type Timing } from "./admission.ts";
import type { CompiledLimit } from "./limit-book.ts";
import type { Admission, CallSubjects } from "./limiter.ts";

/**
 * Leases: how the Redis limiter keeps a Redis round trip off most calls when
 * calls come fast and every limit is far from its amount.
 *
 * An admit in Redis may count more than its own call (the admit script's
 * `want`): it counts `granted` calls at once in the current sub-bucket or
 * period, and the gateway admits the next `granted − 1` calls with the same
 * ids itself, without asking Redis. What a lease holds is counted in Redis
 * from the moment it is granted, so no window ever counts more than its
 * amount, on any number of gateways. A lease lasts `LEASE.ms` at most and never
 * past the end of the sub-bucket (or period) it was counted in; what is left
 * unused then is taken back off the same sub-bucket, so once leases are over
 * the counts are exact again.
 *
 * Where it is not exact: while one gateway holds units it has not used,
 * another gateway can be refused at the very end of a window although the
 * amount is not quite used yet — at most `LEASE.max` units per gateway and ids,
 * for at most `LEASE.ms`. To keep that away from small limits, the script
 * grants nothing beyond the call itself unless every limit has at least
 * `LEASE.minLeft` left, and then at most 1/`LEASE.share` of what is left; and
 * the gateway asks for a lease only when the same ids made more than one call
 * in the last `LEASE.ms` (a lease is sized by that rate). Leases are only for
 * calls whose limits are all `requests` limits: tokens and usd limits are
 * decided on settled usage, which a lease would read stale.
 */
export const LEASE = { ms: 50, max: 64, minLeft: 1024, share: 64 } as const;

/** Whether calls under these limits may be leased: all count requests, none is small. */
export function leasable(limits: readonly CompiledLimit[]): boolean {
  for (const limit of limits) if (limit.metric !== "requests" || limit.amount < LEASE.minLeft) return false;
  return true;
}

interface Lease<Cell> {
  /** Units granted and not yet used. */
  left: number;
  /** Each limit's usage in Redis right after the grant (unused units included). */
  used: readonly number[];
  timing: Timing;
  /** Where the units were counted, per limit, to take unused ones back off. */
  cells: readonly Cell[];
  expiresAt: number;
}

/** One set of ids (key, project, user, model): its lease and its recent rate. */
export interface LeaseHolder<Cell> {
  lease: Lease<Cell> | undefined;
  /** The grant asked for and not yet answered: calls meanwhile wait for it rather than ask too. */
  asking: Promise<unknown> | undefined;
  calls: number;
  since: number;
  rate: number;
}

/** Unused units to take back off their cells. */
export interface Unused<Cell> {
  cells: readonly Cell[];
  units: number;
}

export class LeaseBook<Cell> {
  private readonly holders = new Map<string, LeaseHolder<Cell>>();

  get size(): number {
    return this.holders.size;
  }

  holder(subjects: CallSubjects): LeaseHolder<Cell> {
    const id = `${subjects.key ?? ""}\0${subjects.project ?? ""}\0${subjects.user ?? ""}\0${subjects.model ?? ""}`;
    let holder = this.holders.get(id);
    if (holder === undefined) {
      holder = { lease: undefined, asking: undefined, calls: 0, since: 0, rate: 0 };
      this.holders.set(id, holder);
    }
    return holder;
  }

  /** Notes a call; the units to ask Redis for: 1 (no lease) unless these ids made several calls in the last LEASE.ms. */
  want(holder: LeaseHolder<Cell>, now: number): number {
    if (now - holder.since >= LEASE.ms) {
      holder.rate = now - holder.since < 2 * LEASE.ms ? holder.calls : 0;
      holder.calls = 0;
      holder.since = now;
    }
    holder.calls++;
    return Math.min(LEASE.max, Math.max(1, holder.rate, holder.calls));
  }

  /** Admits a call on the holder's lease, when it has a unit left and has not expired. */
  take(holder: LeaseHolder<Cell>, limits: readonly CompiledLimit[], subjects: CallSubjects, now: number): Admission | undefined {
    const lease = holder.lease;
    if (lease === undefined || lease.left === 0 || now >= lease.expiresAt) return undefined;
    lease.left--;
    const used = new Array<number>(lease.used.length);
    for (let i = 0; i < used.length; i++) used[i] = lease.used[i]! - lease.left;
    return buildAdmission(limits, used, -1, subjects, now, lease.timing);
  }

  /** Keeps a new grant's spare units; a lease it replaces that still had some gives them back. */
  grant(holder: LeaseHolder<Cell>, lease: Lease<Cell>): Unused<Cell> | undefined {
    const old = holder.lease;
    holder.lease = lease;
    return old !== undefined && old.left > 0 ? { cells: old.cells, units: old.left } : undefined;
  }

  /** Ends the leases past their time (giving back what is unused) and forgets ids idle for a second. */
  expire(now: number): Unused<Cell>[] {
    const unused: Unused<Cell>[] = [];
    for (const [id, holder] of this.holders) {
      const lease = holder.lease;
      if (lease !== undefined && now >= lease.expiresAt) {
        if (lease.left > 0) unused.push({ cells: lease.cells, units: lease.left });
        holder.lease = undefined;
      }
      if (holder.lease === undefined && holder.asking === undefined && now - holder.since > 1000) this.holders.delete(id);
    }
    return unused;
  }

  /** Ends every lease (new definitions, closing). */
  clear(): Unused<Cell>[] {
    const unused: Unused<Cell>[] = [];
    for (const holder of this.holders.values()) if (holder.lease !== undefined && holder.lease.left > 0) unused.push({ cells: holder.lease.cells, units: holder.lease.left });
    this.holders.clear();
    return unused;
  }
}
