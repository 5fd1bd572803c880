import { describe, expect, test } from "bun:test";
import { redactDeep, redactSecrets } from "../../src/recording/redact-secrets.ts";

/** 40 characters of key material, different each call (so a test cannot pass on one lucky string). */
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
function material(length = 40, alphabet = ALPHABET): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0234567";
const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+";

const ANTHROPIC = `sk-ant-api03-${material(93)}AA`;
const OPENAI_PROJECT = `sk-proj-${material(48)}`;
const OPENAI = `sk-${material(48)}`;
const GOOGLE = `AIza${material(35)}`;
const LOUPE = `lp_live_${material(43)}`;
const AWS_ID = `AKIA${material(16, UPPER)}`;
const AWS_TEMP_ID = `ASIA${material(16, UPPER)}`;
const AWS_SECRET = material(40, BASE64);
const JWT = `eyJhbGciOiJIUzI1NiJ9.${material(30)}.${material(43)}`;

describe("redactSecrets: each kind of secret keeps its prefix and loses the rest", () => {
  test.each([
    ["an Anthropic key", `key: ${ANTHROPIC}`, "key: sk-ant-***"],
    ["an OpenAI project key", `OPENAI_API_KEY=${OPENAI_PROJECT}`, "OPENAI_API_KEY=sk-proj-***"],
    ["an older OpenAI key", `use ${OPENAI} here`, "use sk-*** here"],
    ["a Google API key in a query", `/v1beta/models/gemini:generateContent?key=${GOOGLE}&alt=sse`, "/v1beta/models/gemini:generateContent?key=AIza***&alt=sse"],
    ["a Loupe gateway key", `"${LOUPE}"`, '"lp_live_***"'],
    ["an AWS access key id", `aws_access_key_id = ${AWS_ID}`, "aws_access_key_id = AKIA***"],
    ["an AWS temporary access key id", `(${AWS_TEMP_ID})`, "(ASIA***)"],
    ["a bearer token", `Authorization: Bearer ${JWT}`, "Authorization: Bearer ***"],
    ["a bearer token, lower case", `authorization: bearer ${JWT}`, "authorization: Bearer ***"],
    ["a bearer provider key: one mask, not two", `Bearer ${OPENAI_PROJECT}`, "Bearer ***"],
    ["a labelled AWS secret (ini)", `aws_secret_access_key = ${AWS_SECRET}`, "aws_secret_access_key = ***"],
    ["a labelled AWS secret (env)", `AWS_SECRET_ACCESS_KEY=${AWS_SECRET}`, "AWS_SECRET_ACCESS_KEY=***"],
    ["a labelled AWS secret (JSON)", `{"SecretAccessKey": "${AWS_SECRET}"}`, '{"SecretAccessKey": "***"}'],
    ["a labelled AWS secret (JS SDK)", `{ secretAccessKey: '${AWS_SECRET}' }`, "{ secretAccessKey: '***' }"],
    ["a key at the very start and end", ANTHROPIC, "sk-ant-***"],
    ["several kinds in one text", `${OPENAI} and ${GOOGLE}; ${AWS_ID}`, "sk-*** and AIza***; AKIA***"],
  ])("%s", (_, text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  test("inside JSON strings, escaped once or twice, the mask keeps the JSON valid", () => {
    const body = { messages: [{ role: "user", content: `my keys:\n${ANTHROPIC}\t${GOOGLE}\n"${OPENAI}"` }], aws: { SecretAccessKey: AWS_SECRET } };
    const once = redactSecrets(JSON.stringify(body));
    expect(JSON.parse(once)).toEqual({ messages: [{ role: "user", content: 'my keys:\nsk-ant-***\tAIza***\n"sk-***"' }], aws: { SecretAccessKey: "***" } });
    const twice = redactSecrets(JSON.stringify({ body: JSON.stringify(body) }));
    expect(JSON.parse((JSON.parse(twice) as { body: string }).body)).toEqual(JSON.parse(once));
  });

  test("a key right after an escape is still a key: \\u0022, %22", () => {
    expect(redactSecrets(`\\u0022${OPENAI}\\u0022`)).toBe("\\u0022sk-***\\u0022");
    expect(redactSecrets(`?q=%22${OPENAI}%22`)).toBe("?q=%22sk-***%22");
  });
});

describe("redactSecrets: normal text is left alone", () => {
  test.each([
    ["prose about keys", "Set sk- keys in the env; the Bearer of this letter; AIza is a prefix; lp_live_ keys rotate."],
    ["a word that contains sk- (a slug)", "task-sk-generate-the-quarterly-report-for-march"],
    ["short key-like text", "sk-1234 and sk-ant-short and AIzaShort and lp_live_abc"],
    ["a word that ends in sk-", "desk-organiser-tool-with-twenty-chars"],
    ["an upper-case word that is not an AWS key id", "AKIAIOSFODNN7EXAMPLEX and xAKIAIOSFODNN7EXAMPLE and AKIA-short"],
    ["bearer with a short word", "Bearer token, Bearer abc, bearer of"],
    ["a label without a long value", "aws_secret_access_key = <yours>"],
    ["masked text (redaction is idempotent)", "sk-ant-*** sk-proj-*** AIza*** lp_live_*** AKIA*** Bearer *** SecretAccessKey=***"],
    ["unicode around", "→ κλειδί sk → ключ 🔑"],
  ])("%s", (_, text) => {
    expect(redactSecrets(text)).toBe(text);
  });

  test("random text without secret prefixes comes back as the same string", () => {
    for (let i = 0; i < 200; i++) {
      // Without secret prefixes: the alphabet can spell one by chance ("sk-" then 20 letters is a key, and is masked).
      const text = material(2000, "abcdefghij klmnopqrstuvwxyz.,:\n\"{}-_ABCDEFGHIJ0123456789").replace(/sk-|aiza|lp_live_|akia|asia|bearer|secret/gi, "~");
      expect(redactSecrets(text)).toBe(text);
    }
  });

  test("any secret in any surrounding text: its material never survives", () => {
    const kinds = [() => ANTHROPIC, () => `sk-proj-${material()}`, () => `sk-${material()}`, () => `AIza${material(35)}`, () => `lp_live_${material()}`, () => `AKIA${material(16, UPPER)}`];
    const separators = [" ", "\n", '"', "'", "=", ":", "(", "\\n", ",", "/", "?key="];
    for (let i = 0; i < 500; i++) {
      const secret = kinds[i % kinds.length]!();
      const sep = separators[i % separators.length]!;
      const text = `${material(30, "abc def.")}${sep}${secret}${sep === "?key=" ? "&" : sep}${material(30, "abc def.")}`;
      const redacted = redactSecrets(text);
      expect(redacted).not.toContain(secret.slice(-16));
      expect(redacted).toContain("***");
    }
  });
});

describe("redactDeep: every string of a JSON-like value", () => {
  test("masks strings at any depth and leaves other values as they are", () => {
    const content = { inputMessages: [{ role: "user", parts: [{ type: "text", content: `key ${OPENAI}` }, { type: "tool_call", name: "f", arguments: { token: GOOGLE, n: 1, ok: true, none: null } }] }] };
    expect(redactDeep(content)).toEqual({ inputMessages: [{ role: "user", parts: [{ type: "text", content: "key sk-***" }, { type: "tool_call", name: "f", arguments: { token: "AIza***", n: 1, ok: true, none: null } }] }] });
    expect(content.inputMessages[0]!.parts[0]).toEqual({ type: "text", content: `key ${OPENAI}` });
  });

  test("returns the very same value when there is nothing to mask", () => {
    const content = { inputMessages: [{ role: "user", parts: [{ type: "text", content: "hello" }] }] };
    expect(redactDeep(content)).toBe(content);
  });
});

describe("redactSecrets: cost", () => {
  test("a 1 MB body without secrets, and one full of near-misses, are linear (no backtracking blow-up)", () => {
    const plain = JSON.stringify({ messages: [{ role: "user", content: "the quick brown fox asks a task-sk question. ".repeat(24_000) }] });
    const nearMisses = `${"sk-aaaaaaaaaaaaaaaaaaa Bearer aaaaaaaaaaaaaaa SecretAccessKey=aaaaaaaaaaaaaaaaaaa AKIAAAAAAAAAAAAAAAAAA ".repeat(10_000)}`;
    for (const text of [plain, nearMisses]) {
      redactSecrets(text);
      const started = performance.now();
      expect(redactSecrets(text)).toBe(text);
      // ~1.5–2.5 ms on a laptop; the bound only catches a regex gone quadratic.
      expect(performance.now() - started).toBeLessThan(100);
    }
  });
});
