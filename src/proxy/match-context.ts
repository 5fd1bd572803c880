import type { MatchContext } from "../routing/match.ts";
import type { CallState } from "./call-state.ts";

/** What header rules and routing match a call by: its provider, model, headers, key, project and user. */
export function matchContext(call: CallState): MatchContext {
  return { provider: call.route.adapter.id, model: call.facts.model, headers: call.incoming, key: call.identity?.keyId, project: call.tags.project, user: call.tags.userId };
}
