/**
 * Why generation stopped, in each dialect. Messages `stop_reason` values per
 * the Messages API reference; Chat `finish_reason` per the Chat Completions
 * reference. Chat has no "stopped on a stop sequence" distinct from a natural
 * end, so `stop` maps back to `end_turn`.
 */
const TO_CHAT: Readonly<Record<string, string>> = {
  end_turn: "stop",
  stop_sequence: "stop",
  pause_turn: "stop",
  max_tokens: "length",
  model_context_window_exceeded: "length",
  tool_use: "tool_calls",
  refusal: "content_filter",
};

const TO_MESSAGES: Readonly<Record<string, string>> = {
  stop: "end_turn",
  length: "max_tokens",
  tool_calls: "tool_use",
  function_call: "tool_use",
  content_filter: "refusal",
};

export function convertStopReasonToChat(stopReason: string | null | undefined): string {
  return (stopReason && TO_CHAT[stopReason]) || "stop";
}

export function convertFinishReasonToMessages(finishReason: string | null | undefined): string {
  return (finishReason && TO_MESSAGES[finishReason]) || "end_turn";
}
