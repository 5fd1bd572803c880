import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import { requireKeyNow, type Config } from "../config.ts";
import { LoupeError } from "../errors.ts";
import { headerText, type HeaderObject } from "../http/headers.ts";
import { CREDENTIAL_HEADERS, type Admission, type CallGate, type Identity } from "./call-gate.ts";
import type { AccessBook } from "../keys/access-book.ts";
import { isGatewayKey } from "../keys/access-book.ts";
import type { Admission as LimiterAdmission, Limiter } from "../limits/limiter.ts";
import type { Limit } from "../keys/definitions.ts";

/** What the gate needs of the limiter (src/limits/limiter.ts). */
export type GateLimiter = Pick<Limiter, "empty" | "admit" | "settle" | "usdLimit">;

/** No limiter (tests of keys alone): every call admitted, nothing counted. */
export const NO_LIMITS: GateLimiter = {
  empty: true,
  admit: () => ({ allowed: true, warnings: [], needsUsage: false }),
  settle: () => {},
  usdLimit: () => undefined,
};

/** How many models' "no price" warnings are remembered (each is logged once). */
const WARNED_MODELS_MAX = 1000;

/** A window as people write it: `60s`, `1h`, `day`. */
function describeWindow(window: Limit["window"]): string {
  if ("period" in window) return window.period;
  const s = window.seconds;
  return s % 86_400 === 0 ? `${s / 86_400}d` : s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`;
}

/** A limit as `limit_hit` and messages name it: `project:acme usd 5000000000/1d`. */
const describeLimit = (limit: Pick<Limit, "scope" | "subject" | "metric" | "amount" | "window">) => `${limit.scope}:${limit.subject} ${limit.metric} ${limit.amount}/${describeWindow(limit.window)}`;

/** X-Loupe-RateLimit-Scope's words (the issue's: key, project, end_user, model). */
const SCOPE_HEADER: Record<Limit["scope"], string> = { key: "key", project: "project", user: "end_user", model: "model" };

const WELL_FORMED = /^lp_live_[A-Za-z0-9]{40}$/;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** `Bearer <token>` (any case, any blanks after the word) → the token; "" for another scheme. Plain string steps: this runs on every call. */
function bearerToken(raw: string): string {
  if (raw.length < 7 || raw.slice(0, 6).toLowerCase() !== "bearer") return "";
  const blank = raw.charCodeAt(6);
  if (blank !== 32 && blank !== 9) return "";
  return raw.slice(7).trim();
}

/** The credential a request carries, from whichever header its SDK uses. */
function presented(headers: HeaderObject): { header: string; value: string } | undefined {
  for (const header of CREDENTIAL_HEADERS) {
    const raw = headerText(headers[header]);
    if (!raw) continue;
    const value = header === "authorization" ? bearerToken(raw) : raw.trim();
    if (value) return { header, value };
  }
  return undefined;
}

const describeUsd = (nano: string) => {
  const n = BigInt(nano);
  return `$${n / 1_000_000_000n}.${String(n % 1_000_000_000n).padStart(9, "0").replace(/0+$/, "").padEnd(2, "0")}`;
};

/**
 * The gate the proxy asks (proxy/gate.ts), from the access book (keys and
 * stored provider keys), the limiter and the JWT settings.
 */
export function createGate(config: Pick<Config, "access" | "server">, book: AccessBook, limiter: GateLimiter, options: { log?: ((message: string) => void) | undefined } = {}): CallGate {
  const warned = new Set<string>();
  const jwt = config.access.jwt;
  const jwks = jwt?.jwksUrl ? createRemoteJWKSet(new URL(jwt.jwksUrl)) : undefined;
  const hmac = jwt?.secret ? new TextEncoder().encode(jwt.secret) : undefined;

  async function verifyJwt(token: string): Promise<Identity | LoupeError> {
    try {
      const options = { ...(jwt?.issuer ? { issuer: jwt.issuer } : {}), ...(jwt?.audience ? { audience: jwt.audience } : {}) };
      const { payload } = jwks ? await jwtVerify(token, jwks, options) : await jwtVerify(token, hmac!, options);
      const claim = (name: string) => {
        const value = (payload as JWTPayload & Record<string, unknown>)[name];
        return typeof value === "string" && value ? value : undefined;
      };
      return { via: "jwt", user: claim(jwt!.userClaim), project: claim(jwt!.projectClaim) };
    } catch (error) {
      return new LoupeError("unauthorized", `the bearer token is not a valid JWT for this gateway: ${(error as Error).message}`);
    }
  }

  return {
    idle: () => limiter.empty && !book.hasKeys && jwt === undefined && config.access.requireKey !== true,
    identify(headers) {
      const credential = presented(headers);
      if (credential && isGatewayKey(credential.value)) {
        if (!WELL_FORMED.test(credential.value)) return new LoupeError("unauthorized", "malformed gateway key (expected lp_live_ and 40 letters or digits)");
        const found = book.findKey(credential.value);
        if ("problem" in found) return new LoupeError("unauthorized", `${found.problem} gateway key`);
        return { via: "key", keyId: found.key.id, project: found.key.project, user: found.key.user ?? undefined };
      }
      if (credential && jwt && credential.header === "authorization" && JWT_SHAPE.test(credential.value)) return verifyJwt(credential.value);
      if (requireKeyNow(config, book.hasKeys)) {
        return new LoupeError("unauthorized", "this gateway requires a gateway key: send your lp_live_… key where your SDK sends its API key");
      }
      return undefined;
    },
    permits(identity, provider, model) {
      if (identity.via !== "key" || !identity.keyId) return undefined;
      const key = book.definitions.keys.find((k) => k.id === identity.keyId);
      if (!key || book.allows(key, provider, model)) return undefined;
      return new LoupeError("forbidden", `gateway key ${key.id} may not call ${provider}${model ? ` model ${model}` : ""}`);
    },
    admit(subjects, isPriced) {
      if (limiter.empty) return {};
      // Never price an unknown model at $0: a call a USD limit covers needs a price before it goes, or the
      // limit could not count it. Checked before admit, which counts the call: a refused call counts nowhere.
      const usd = limiter.usdLimit(subjects);
      if (usd && subjects.model !== undefined && isPriced && !isPriced(subjects.model)) return unpricedRefusal(subjects.model, usd);
      const decided = limiter.admit(subjects);
      const admitted = (decision: LimiterAdmission) => toAdmission(decision, usd);
      return decided instanceof Promise ? decided.then(admitted) : admitted(decided);
    },
    credential: (provider, project) => book.providerSecret(provider, project),
  };

  function unpricedRefusal(model: string, usd: Limit): Admission {
    const limitHit = describeLimit(usd);
    const message = `model ${model} has no price, so the USD limit ${limitHit} cannot be enforced; add its price to the prices file (LOUPE_PRICES_FILE; \`loupe prices ${model}\` shows what applies)`;
    return { refused: { error: new LoupeError("forbidden", message), limitHit } };
  }

  /** A settled call without a price under a USD limit: its cost is unknown, said once per model (and counted by the limiter). */
  function warnUnpriced(model: string | undefined, usd: Limit): void {
    const name = model ?? "(no model)";
    if (warned.has(name)) return;
    if (warned.size >= WARNED_MODELS_MAX) warned.clear();
    warned.add(name);
    options.log?.(`limits: model ${name} has no price; its calls' USD cannot be counted toward ${describeLimit(usd)} (nor any USD limit) until it has one (/livez limits.unpricedSettles)`);
  }

  function toAdmission(decision: LimiterAdmission, usd?: Limit): Admission {
    const headers: Record<string, string> = {};
    if (decision.tightest) {
      headers["x-ratelimit-limit"] = decision.tightest.limit;
      headers["x-ratelimit-remaining"] = decision.tightest.remaining;
      headers["x-ratelimit-reset"] = String(decision.tightest.resetS);
      headers["x-loupe-ratelimit-scope"] = SCOPE_HEADER[decision.tightest.scope];
    }
    if (decision.warnings.length > 0) headers["x-loupe-budget-warning"] = decision.warnings.join("; ");
    if (decision.allowed) {
      if (!decision.needsUsage) return { headers, settle: undefined };
      return {
        headers,
        settle: (usage) => {
          limiter.settle(decision, usage);
          if (usage.costNano === undefined && usd) warnUnpriced(usage.model, usd);
        },
      };
    }
    if (decision.unavailable !== undefined || !decision.blocked) {
      const reason = decision.unavailable ?? "the limit store cannot be reached";
      return { headers, refused: { error: new LoupeError("unavailable", `${reason}; calls under a limit are refused meanwhile (LOUPE_REDIS_FAIL_OPEN=false)`), limitHit: "limit-store-unavailable" } };
    }
    const b = decision.blocked;
    headers["retry-after"] = String(Math.max(1, Math.ceil(b.retryAfterS)));
    headers["x-loupe-ratelimit-scope"] = SCOPE_HEADER[b.scope];
    const window = describeWindow(b.window);
    const amount = b.metric === "usd" ? describeUsd(b.amount) : `${b.amount} ${b.metric}`;
    const limitHit = describeLimit({ scope: b.scope, subject: b.pattern ?? b.subject, metric: b.metric, amount: b.amount, window: b.window });
    const message = `rate limit reached: ${SCOPE_HEADER[b.scope]} "${b.subject}" may use ${amount} per ${"period" in b.window ? `calendar ${window} (UTC)` : window}; limit ${limitHit}; retry in ${headers["retry-after"]} s`;
    return { headers, refused: { error: new LoupeError("rate_limited", message), limitHit } };
  }
}
