import { describe, expect, test } from "bun:test";
import { withModel } from "../../src/proxy/route-call.ts";

const rewrite = (text: string, model = "gpt-4o") => new TextDecoder().decode(withModel(new TextEncoder().encode(text), JSON.parse(text) as Record<string, unknown>, model));

describe("a same-format model rewrite (routing)", () => {
  test("replaces only the top-level model's value; the other bytes stay as the client sent them", () => {
    expect(rewrite('{"model":"gpt-4o-mini","messages":[]}')).toBe('{"model":"gpt-4o","messages":[]}');
    expect(rewrite('{ "messages": [], "model" : "gpt-4o-mini", "temperature": 1.0 }')).toBe('{ "messages": [], "model" : "gpt-4o", "temperature": 1.0 }');
    expect(rewrite('{"messages":[{"role":"user","content":"say \\"model\\""}],"model":"gpt-4o-mini"}')).toBe('{"messages":[{"role":"user","content":"say \\"model\\""}],"model":"gpt-4o"}');
    expect(rewrite('{"model":"a","messages":[]}', 'we"ird')).toBe('{"model":"we\\"ird","messages":[]}');
  });

  test("anything it cannot be sure of is serialized again from the parsed body", () => {
    // a nested "model" key, a key spelled with escapes, the model's text in a string, no model
    expect(JSON.parse(rewrite('{"model":"gpt-4o-mini","response_format":{"model":"gpt-4o-mini"}}'))).toEqual({ model: "gpt-4o", response_format: { model: "gpt-4o-mini" } });
    expect(JSON.parse(rewrite('{"mod\\u0065l":"gpt-4o-mini","x":{"model":"gpt-4o-mini"}}'))).toEqual({ model: "gpt-4o", x: { model: "gpt-4o-mini" } });
    expect(JSON.parse(rewrite('{"messages":[{"content":"x\\"model\\":\\"gpt-4o-mini"}],"model":"gpt-4o-mini"}'))).toEqual({ messages: [{ content: 'x"model":"gpt-4o-mini' }], model: "gpt-4o" });
    expect(JSON.parse(rewrite('{"messages":[]}'))).toEqual({ messages: [], model: "gpt-4o" });
    expect(JSON.parse(rewrite('{"model":7,"messages":[]}'))).toEqual({ model: "gpt-4o", messages: [] });
  });
});
