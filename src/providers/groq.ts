import { asObject } from "../usage/usage.ts";
import { defineOpenAICompatible } from "./define-openai-compatible.ts";

/** Groq (console.groq.com/docs/openai): its streams carry usage under `x_groq.usage` on the last chunk. */
export const groq = defineOpenAICompatible({
  id: "groq",
  baseUrl: "https://api.groq.com",
  sdkPath: "/openai/v1",
  usage: { locate: (body) => body.usage ?? asObject(body.x_groq)?.usage },
});
