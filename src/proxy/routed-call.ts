import type { Endpoint, Provider } from "../providers/contract.ts";
import type { SseTranslation } from "../translate/index.ts";

/** Where a routing rule (or a fallback) sent a call, and how its answer is turned back (route-call.ts makes it). */
export interface RoutedCall {
  provider: Provider;
  /** The model asked of the target (the rule's, else the client's). */
  model: string | undefined;
  upstreamPath: string;
  endpoint: Endpoint | undefined;
  bytes: Uint8Array;
  /** The client's wire format differs from the target's: how its answer is turned back. */
  answer?: { stream(): SseTranslation; whole(body: unknown): unknown; error(body: unknown, status: number): unknown } | undefined;
  /** The target is another provider: the client's credentials are not for it. */
  otherProvider: boolean;
}
