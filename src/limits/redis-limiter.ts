import type { Limit } from "../keys/definitions.ts";
import { buildAdmission, limitUsageOf, NO_LIMITS, type Timing } from "./admission.ts";
import { LEASE, LeaseBook, leasable, type LeaseHolder, type Unused } from "./admit-leases.ts";
import { ADMIT_SCRIPT, ADMIT_SCRIPT_SHA, ARGS_PER_LIMIT } from "./admit-script.ts";
import { compileLimits, type CompiledLimit } from "./limit-book.ts";
import type { Admission, CallSubjects, CallUsage, Limiter, LimiterStats } from "./limiter.ts";
import { SlidingCounter } from "./local-counter.ts";
import { admitLocally, firstUsdLimit, settleLocally, ticketOf, unpricedUnderUsd, usageFor } from "./memory-limiter.ts";
import { createRedisLink } from "./create-redis-link.ts";
import type { RedisLink } from "./redis-link.ts";
import { bucketLeavesAt, periodBounds, periodFigures, slidingFigures, type PeriodBounds, type UsageFigures } from "./windows.ts";

/**
 * Limits counted in Redis, shared by every gateway using it. An admit is one
 * EVALSHA of admit-script.ts (EVAL when Redis answers NOSCRIPT, after a
 * restart); a settle is one pipeline of HINCRBY/INCRBY. Counters are named
 * `loupe:limit:<scope>:<subject>:<metric>:<window>[:<period start>]` and expire
 * with their window or period. Windows follow each gateway's clock: keep the
 * gateways' clocks in sync (NTP).
 *
 * Redis unreachable (connection closed, or a command failed or took longer
 * than `commandTimeoutMs`): a call never waits longer than that and never sees
 * an error. With `failOpen` (the default) calls are admitted on this process's
 * own counts, and what they count is kept and added to Redis when it answers
 * again. Until then each gateway enforces every limit on its own traffic only,
 * and its local counts start from what it counted itself. With `failOpen:
 * false` every call that some limit applies to is refused (`unavailable`).
 * A command that timed out may still have run: its counts are then kept twice,
 * erring on the strict side.
 */
export interface RedisLimiterOptions {
  url: string;
  /** Admit on local counts while Redis is unreachable (true, the default), or refuse. */
  failOpen?: boolean;
  /** The longest a call waits on Redis. Default 100 ms. */
  commandTimeoutMs?: number;
  /** How long createRedisLimiter waits for the first connection before returning (counting locally meanwhile). Default 1000 ms. */
  connectTimeoutMs?: number;
  /** After a failed command, how long calls skip Redis before trying it again. Default 250 ms. */
  pauseAfterFailureMs?: number;
  limits?: readonly Limit[];
  /** A line for the operator when Redis becomes unreachable and when it is back: at most one each a minute, never one per call. */
  log?: (message: string) => void;
  /** The Redis client (redis-link.ts); default Bun's own on Bun, ioredis elsewhere. */
  client?: "bun" | "ioredis";
}

const PREFIX = "loupe:limit:";
/** A period's counter outlives the period by this much, for settles of calls that straddle its end. */
const PERIOD_GRACE_MS = 60_000;

/** Where one limit counts at one moment. */
interface Cell {
  key: string;
  /** The sub-bucket (sliding window); undefined for a period's counter. */
  field: string | undefined;
  /** PEXPIRE (sliding) or PEXPIREAT (period) argument. */
  expire: number;
  /** After this the count no longer matters (its bucket left the window, its period ended). */
  until: number;
}

/** A calendar budget's counter for one period. */
const periodKey = (limit: CompiledLimit, bounds: PeriodBounds) => `${PREFIX}${limit.name}:${bounds.label}`;

function cellOf(limit: CompiledLimit, now: number): Cell {
  const local = limit.local;
  if (local instanceof SlidingCounter) {
    const bucket = Math.floor(now / local.shape.bucketMs);
    return { key: PREFIX + limit.name, field: String(bucket), expire: (local.shape.span + 1) * local.shape.bucketMs, until: bucketLeavesAt(bucket, local.shape) };
  }
  const bounds = local.boundsAt(now);
  return { key: periodKey(limit, bounds), field: undefined, expire: bounds.end + PERIOD_GRACE_MS, until: bounds.end + PERIOD_GRACE_MS };
}

/** When the sub-bucket (or period) a call counts in at `now` ends: a lease counted there must not outlive it. */
function cellEnds(limit: CompiledLimit, now: number): number {
  const local = limit.local;
  if (local instanceof SlidingCounter) return (Math.floor(now / local.shape.bucketMs) + 1) * local.shape.bucketMs;
  return local.boundsAt(now).end;
}

/** INCRBY a period's counter or HINCRBY a sub-bucket by `amount`, and renew the key's expiry. */
function countCommands(cell: Cell, amount: string): string[][] {
  if (cell.field === undefined) return [["INCRBY", cell.key, amount], ["PEXPIREAT", cell.key, String(cell.expire)]];
  return [["HINCRBY", cell.key, cell.field, amount], ["PEXPIRE", cell.key, String(cell.expire)]];
}

export async function createRedisLimiter(options: RedisLimiterOptions): Promise<Limiter> {
  const failOpen = options.failOpen ?? true;
  const pauseMs = options.pauseAfterFailureMs ?? 250;
  const firstReady = Promise.withResolvers<void>();
  const redis: RedisLink = createRedisLink({
    url: options.url,
    commandTimeoutMs: options.commandTimeoutMs ?? 100,
    connectTimeoutMs: options.connectTimeoutMs ?? 1000,
    client: options.client,
    onReady() {
      noteBack();
      pausedUntil = 0;
      redis.send("SCRIPT", ["LOAD", ADMIT_SCRIPT]).catch(() => {});
      void reconcile();
      firstReady.resolve();
    },
  });
  let compiled = compileLimits(options.limits ?? []);
  let pausedUntil = 0;
  let redisFailures = 0;
  let failOpenAdmits = 0;
  let unpricedSettles = 0;
  let closed = false;
  const pending = new Map<string, Cell & { amount: number }>();
  let reconciling = false;
  const leases = new LeaseBook<Cell>();
  let leaseTimer: ReturnType<typeof setInterval> | undefined;

  // Said when Redis goes and when it is back, at most once a minute each: an outage is a line or two, not one per call.
  let down = false;
  let saidDownAt = 0;
  let saidBackAt = 0;
  const redisHost = (() => {
    try {
      const url = new URL(options.url);
      return `${url.hostname}:${url.port || "6379"}`;
    } catch {
      return "Redis";
    }
  })();
  const noteDown = () => {
    if (down) return;
    down = true;
    if (Date.now() - saidDownAt < 60_000) return;
    saidDownAt = Date.now();
    options.log?.(
      `limits: Redis at ${redisHost} is unreachable or too slow: ${failOpen ? "calls are admitted on this gateway's own counts (added to Redis when it is back)" : "calls under a limit are refused (LOUPE_REDIS_FAIL_OPEN=false)"}; /livez limits.redisFailures counts them`,
    );
  };
  const noteBack = () => {
    if (!down) return;
    down = false;
    if (Date.now() - saidBackAt < 60_000) return;
    saidBackAt = Date.now();
    options.log?.(`limits: Redis at ${redisHost} answers again (${redisFailures} calls did without it so far)`);
  };

  /** Connected, and no command failed in the last `pauseAfterFailureMs`. */
  const usable = () => redis.ready && !closed && (pausedUntil === 0 || Date.now() >= pausedUntil);
  const failed = () => {
    redisFailures++;
    pausedUntil = Date.now() + pauseMs;
    noteDown();
  };

  let pruneAt = 1024;
  function keep(cell: Cell, amount: number): void {
    const id = `${cell.key}\n${cell.field ?? ""}`;
    const kept = pending.get(id);
    if (kept) kept.amount += amount;
    else pending.set(id, { ...cell, amount });
    // A long outage adds a cell per sub-bucket: drop those whose bucket or period is over, so memory stays bounded.
    if (pending.size >= pruneAt) {
      const now = Date.now();
      for (const [key, kept] of pending) if (kept.until <= now) pending.delete(key);
      pruneAt = Math.max(1024, pending.size * 2);
    }
  }

  /** Adds what was counted locally while Redis was unreachable; what fails stays for the next time. */
  async function reconcile(): Promise<void> {
    if (reconciling || pending.size === 0 || !usable()) return;
    reconciling = true;
    const now = Date.now();
    const batch = [...pending.entries()].map(([id, cell]) => ({ id, cell, amount: cell.amount }));
    const commands: string[][] = [];
    for (const { cell, amount } of batch) if (cell.until > now) commands.push(...countCommands(cell, String(amount)));
    try {
      if (commands.length > 0) await redis.sendAll(commands);
      for (const { id, amount } of batch) {
        const cell = pending.get(id);
        if (cell === undefined) continue;
        cell.amount -= amount;
        if (cell.amount <= 0) pending.delete(id);
      }
    } catch {
      failed();
    } finally {
      reconciling = false;
    }
  }

  function admitWithoutRedis(limits: CompiledLimit[], subjects: CallSubjects, now: number): Admission {
    if (!failOpen) {
      return { allowed: false, unavailable: "the limits store (Redis) is unreachable and failOpen is off", warnings: [], needsUsage: limits.some((limit) => limit.metric !== "requests") };
    }
    const admission = admitLocally(limits, subjects, now);
    if (admission.allowed) {
      failOpenAdmits++;
      for (const limit of limits) if (limit.metric === "requests") keep(cellOf(limit, now), 1);
    }
    return admission;
  }

  /** A Redis restarted (or SCRIPT FLUSH) has lost the script: EVALSHA answers NOSCRIPT; EVAL runs it, and caches it again. */
  async function evalAfterNoScript(error: unknown, args: string[]): Promise<number[]> {
    if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
    args[0] = ADMIT_SCRIPT;
    return (await redis.send("EVAL", args)) as number[];
  }

  async function admitInRedis(limits: CompiledLimit[], subjects: CallSubjects, now: number, want = 1, holder?: LeaseHolder<Cell>): Promise<Admission> {
    // EVALSHA's arguments: the script, the number of keys, the keys, ARGS_PER_LIMIT values per limit, then (for a lease) want.
    const args = new Array<string>(2 + limits.length * (1 + ARGS_PER_LIMIT) + (want > 1 ? 1 : 0));
    args[0] = ADMIT_SCRIPT_SHA;
    args[1] = String(limits.length);
    let at = 2 + limits.length;
    for (let i = 0; i < limits.length; i++) {
      const limit = limits[i]!;
      const local = limit.local;
      const add = limit.metric === "requests" ? "1" : "0";
      if (local instanceof SlidingCounter) {
        const { bucketMs, span } = local.shape;
        args[2 + i] = PREFIX + limit.name;
        args[at++] = "s";
        args[at++] = limit.def.amount;
        args[at++] = add;
        args[at++] = String(Math.floor(now / bucketMs));
        args[at++] = String(span);
        args[at++] = String((span + 1) * bucketMs);
      } else {
        const bounds = local.boundsAt(now);
        args[2 + i] = periodKey(limit, bounds);
        args[at++] = "c";
        args[at++] = limit.def.amount;
        args[at++] = add;
        args[at++] = "0";
        args[at++] = "0";
        args[at++] = String(bounds.end + PERIOD_GRACE_MS);
      }
    }
    if (want > 1) args[at] = String(want);
    let reply: number[] | undefined;
    try {
      reply = (await redis.send("EVALSHA", args)) as number[];
    } catch (error) {
      reply = await evalAfterNoScript(error, args).catch(() => undefined);
    }
    if (reply === undefined) {
      failed();
      return admitWithoutRedis(limits, subjects, now);
    }
    if (down) noteBack();
    if (pending.size > 0) void reconcile();
    const used = new Array<number>(limits.length);
    for (let i = 0; i < limits.length; i++) used[i] = reply[2 + 2 * i]!;
    const timing = replyTiming(reply);
    const granted = reply[2 + 2 * limits.length] ?? 1;
    if (holder !== undefined && granted > 1) {
      let expiresAt = now + LEASE.ms;
      for (const limit of limits) expiresAt = Math.min(expiresAt, cellEnds(limit, now));
      giveBack(leases.grant(holder, { left: granted - 1, used, timing, cells: limits.map((limit) => cellOf(limit, now)), expiresAt }));
      if (leaseTimer === undefined) {
        leaseTimer = setInterval(expireLeases, LEASE.ms);
        (leaseTimer as { unref?: () => void }).unref?.();
      }
      // This call's own figures: the units still held are not used yet.
      return buildAdmission(limits, used.map((u) => u - (granted - 1)), -1, subjects, now, timing);
    }
    return buildAdmission(limits, used, reply[0]! - 1, subjects, now, timing);
  }

  /** Takes a lease's unused units back off the counts they were added to; if that fails they stay counted (strict) until their window moves on. */
  function giveBack(unused: Unused<Cell> | undefined): Promise<unknown> | undefined {
    if (unused === undefined || !usable()) return undefined;
    const commands: string[][] = [];
    for (const cell of unused.cells) commands.push(...countCommands(cell, String(-unused.units)));
    return redis.sendAll(commands).catch(() => {});
  }

  function expireLeases(): void {
    for (const unused of leases.expire(Date.now())) giveBack(unused);
    if (leases.size === 0 && leaseTimer !== undefined) {
      clearInterval(leaseTimer);
      leaseTimer = undefined;
    }
  }

  /** Admits through a lease when these ids have one, else asks Redis (for a lease when calls come fast), one ask at a time per ids. */
  function admitLeased(limits: CompiledLimit[], subjects: CallSubjects, now: number): Admission | Promise<Admission> {
    const holder = leases.holder(subjects);
    const want = leases.want(holder, now);
    const taken = leases.take(holder, limits, subjects, now);
    if (taken !== undefined) return taken;
    if (holder.asking !== undefined) {
      return holder.asking.then(() => {
        const later = Date.now();
        return leases.take(holder, limits, subjects, later) ?? admitInRedis(limits, subjects, later);
      });
    }
    if (want === 1) return admitInRedis(limits, subjects, now);
    const asking = admitInRedis(limits, subjects, now, want, holder);
    holder.asking = asking;
    const done = () => {
      if (holder.asking === asking) holder.asking = undefined;
    };
    asking.then(done, done);
    return asking;
  }

  function settleInRedis(limits: readonly CompiledLimit[], usage: CallUsage, now: number): void {
    const commands: string[][] = [];
    const sent: { limit: CompiledLimit; cell: Cell }[] = [];
    for (const limit of limits) {
      const amount = usageFor(limit, usage);
      if (amount === 0) continue;
      const cell = cellOf(limit, now);
      // usd goes as the bigint's own digits: INCRBY is exact to 2^63 nano-USD.
      // (amount > 0 here: an unknown cost, undefined, gives 0 and was skipped above.)
      const text = limit.metric === "usd" ? String(usage.costNano) : String(amount);
      commands.push(...countCommands(cell, text));
      sent.push({ limit, cell });
    }
    if (sent.length === 0) return;
    const fallBack = () => {
      failed();
      for (const { limit, cell } of sent) {
        const amount = usageFor(limit, usage);
        limit.local.add(now, amount);
        keep(cell, amount);
      }
    };
    redis.sendAll(commands).catch(fallBack);
  }

  /** Reads a limit's counter as the admit script does (buckets that left the window are not counted), without changing it. */
  async function readInRedis(limit: CompiledLimit, now: number): Promise<UsageFigures> {
    const local = limit.local;
    if (local instanceof SlidingCounter) {
      const counts = await redis.readHash(PREFIX + limit.name);
      return slidingFigures(local.shape, Math.floor(now / local.shape.bucketMs), (index) => Number(counts[String(index)] ?? 0));
    }
    // periodBounds rather than local.boundsAt: the local count must not move for a read.
    const bounds = periodBounds(local.period, now);
    return periodFigures(bounds, Number(((await redis.send("GET", [periodKey(limit, bounds)])) as string | null) ?? 0));
  }

  const limiter: Limiter = {
    get empty() {
      return compiled.book.size === 0;
    },
    use(next) {
      compiled = compileLimits(next, compiled.all);
      for (const unused of leases.clear()) giveBack(unused);
    },
    admit(subjects, now = Date.now()) {
      const limits = compiled.book.applicable(subjects);
      if (limits.length === 0) return NO_LIMITS;
      if (usable()) return leasable(limits) ? admitLeased(limits, subjects, now) : admitInRedis(limits, subjects, now);
      redisFailures++;
      noteDown();
      return admitWithoutRedis(limits, subjects, now);
    },
    usdLimit: (subjects) => (compiled.book.hasUsd ? firstUsdLimit(compiled.book.applicable(subjects)) : undefined),
    settle(admission, usage, now = Date.now()) {
      const limits = ticketOf(admission);
      if (limits.length === 0) return;
      if (unpricedUnderUsd(admission, usage)) unpricedSettles++;
      if (usable()) return settleInRedis(limits, usage, now);
      redisFailures++;
      noteDown();
      settleLocally(admission, usage, now);
      for (const limit of limits) {
        const amount = usageFor(limit, usage);
        if (amount > 0) keep(cellOf(limit, now), amount);
      }
    },
    async usage(def, now = Date.now()) {
      const limit = compiled.book.find(def);
      if (limit === undefined) return undefined;
      if (usable()) {
        try {
          return limitUsageOf(await readInRedis(limit, now), now);
        } catch {
          failed();
        }
      }
      // Unreachable: fail-open admits go by this process's counts, so those are the figures that apply; fail-closed has none.
      return failOpen ? limitUsageOf(limit.local.peek(now), now) : undefined;
    },
    stats: (): LimiterStats => ({ backend: "redis", redisFailures, failOpenAdmits, pendingReconcile: pending.size, redisUp: usable(), unpricedSettles }),
    async close() {
      if (closed) return;
      if (leaseTimer !== undefined) clearInterval(leaseTimer);
      await Promise.all(leases.clear().map(giveBack));
      closed = true;
      await redis.close();
    },
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([firstReady.promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, options.connectTimeoutMs ?? 1000)))]);
  clearTimeout(timer);
  return limiter;
}

/** Timing read from the admit script's reply. */
function replyTiming(reply: readonly number[]): Timing {
  return {
    fallsAt(index, limit, now) {
      const local = limit.local;
      if (local instanceof SlidingCounter) {
        const oldest = reply[3 + 2 * index]!;
        return oldest < 0 ? undefined : bucketLeavesAt(oldest, local.shape);
      }
      return reply[2 + 2 * index]! > 0 ? local.boundsAt(now).end : undefined;
    },
    freeAt(_index, limit, now) {
      const local = limit.local;
      return local instanceof SlidingCounter ? bucketLeavesAt(reply[1]!, local.shape) : local.boundsAt(now).end;
    },
  };
}
