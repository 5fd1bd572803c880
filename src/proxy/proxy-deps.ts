import type { Config } from "../config.ts";
import type { Provider } from "../providers/contract.ts";
import type { CallTracer } from "../telemetry/call-tracer.ts";
import type { CallEvent } from "../recording/call-event.ts";
import type { Admission, CallGate } from "../gate/call-gate.ts";
import type { CircuitBreaker } from "../routing/circuit-breaker.ts";
import type { RoutingSettingsHolder } from "../routing/routing-settings.ts";
import type { UpstreamDeadlines } from "./upstream-deadline.ts";

export type UpstreamFetch = (url: string, init: RequestInit) => Promise<Response>;

/** What the proxy needs from the gateway (server.ts wires it). */
export interface ProxyDeps {
  config: Config;
  /**
   * Journals a finished call's event (recording/call-event.ts); must not throw. A promise when the event is
   * to be durable before the call's last bytes go out (LOUPE_JOURNAL_FSYNC=always): they wait for it.
   */
  record(line: string): Promise<void> | void;
  /** Journals a finished call's event followed by the response body its record is to be read from; must not throw; returns as `record`. */
  recordLater(line: string, body: Uint8Array): Promise<void> | void;
  /** Counts a failure of Loupe's own bookkeeping (never the caller's problem). */
  onInternalError(message: string): void;
  /** A call failed in Loupe itself (a bug): it is answered with a 500 in its dialect, and has no record. */
  onFailure(error: unknown): void;
  /** Trace context, when OpenTelemetry export is on. */
  tracer?: CallTracer | undefined;
  /** The timeout on waiting for an upstream's response headers (`limits.upstreamTimeoutMs`). */
  deadlines: UpstreamDeadlines;
  /** The base URL a provider's calls go to (its default, or the configured override). */
  baseUrlOf(provider: Provider): string;
  /** What reaches upstreams: the runtime's fetch, or one a test injects. */
  fetch: UpstreamFetch;
  /** Upstreams that keep failing are skipped for a while (routing/circuit-breaker.ts). */
  breaker: CircuitBreaker;
  /** The provider serving an id (registered or declared): where a routing rule can send calls. */
  providerOf(id: string): Provider | undefined;
  /** Header rules, routing, fallbacks and retries in force (part 8; `PUT /api/settings` swaps them). */
  routing: RoutingSettingsHolder;
  /** Gateway keys, stored provider keys and limits (part 7); absent: pass-through only. */
  gate?: CallGate | undefined;
  /**
   * Prices a finished call for the limits that count tokens or USD, off the
   * response's path (server.ts: the recorder's own code on the event), and
   * hands the usage to `settle`. Only calls such a limit covers come here.
   */
  settleUsage?: ((event: CallEvent, body: Uint8Array | undefined, settle: NonNullable<Admission["settle"]>) => void) | undefined;
  /** Whether a call to this provider and model will have a price (the price book, a provider that reports its cost, or free local models). */
  isPriced?: ((provider: Provider, model: string) => boolean) | undefined;
}
