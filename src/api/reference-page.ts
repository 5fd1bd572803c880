/**
 * A readable API reference rendered on the server from the OpenAPI document:
 * no scripts, no CDN, works offline. (A full explorer such as Scalar or
 * Swagger UI can be pointed at /openapi.json.)
 */
interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: { type?: string; enum?: unknown[] } }[];
  requestBody?: { content?: Record<string, { schema?: { $ref?: string } }> };
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: { $ref?: string } }> }>;
}

interface Document {
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown> };
}

const escape = (text: unknown) =>
  String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

const refName = (ref: string | undefined) => ref?.split("/").at(-1);

function renderOperation(method: string, path: string, op: Operation): string {
  const params = (op.parameters ?? [])
    .map((p) => `<tr><td><code>${escape(p.name)}</code></td><td>${escape(p.in)}</td><td>${p.required ? "yes" : ""}</td><td>${escape(p.schema?.enum ? p.schema.enum.join(" | ") : p.schema?.type)}</td><td>${escape(p.description)}</td></tr>`)
    .join("");
  const body = Object.entries(op.requestBody?.content ?? {}).map(([type, c]) => `${escape(type)} ${c.schema?.$ref ? `<a href="#schema-${escape(refName(c.schema.$ref))}">${escape(refName(c.schema.$ref))}</a>` : ""}`);
  const responses = Object.entries(op.responses ?? {})
    .map(([code, r]) => {
      const schemas = Object.values(r.content ?? {})
        .map((c) => refName(c.schema?.$ref))
        .filter(Boolean)
        .map((name) => `<a href="#schema-${escape(name)}">${escape(name)}</a>`);
      return `<li><b>${escape(code)}</b> ${escape(r.description)} ${schemas.join(", ")}</li>`;
    })
    .join("");
  return `<section class="op"><h3><span class="m ${escape(method)}">${escape(method.toUpperCase())}</span> <code>${escape(path)}</code></h3>
<p>${escape(op.summary)}</p>${op.description ? `<p class="d">${escape(op.description)}</p>` : ""}
${params ? `<table><tr><th>parameter</th><th>in</th><th>required</th><th>type</th><th></th></tr>${params}</table>` : ""}
${body.length ? `<p>Body: ${body.join(", ")}</p>` : ""}<ul>${responses}</ul></section>`;
}

export function renderReferencePage(doc: Document): string {
  const ops = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
  const byTag = new Map<string, typeof ops>();
  for (const o of ops) for (const tag of o.op.tags ?? ["other"]) byTag.set(tag, [...(byTag.get(tag) ?? []), o]);
  const sections = [...byTag].map(([tag, list]) => `<h2>${escape(tag)}</h2>${list.map((o) => renderOperation(o.method, o.path, o.op)).join("")}`).join("");
  const schemas = Object.entries(doc.components?.schemas ?? {})
    .map(([name, schema]) => `<section id="schema-${escape(name)}"><h3>${escape(name)}</h3><pre>${escape(JSON.stringify(schema, null, 2))}</pre></section>`)
    .join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(doc.info.title)} API reference</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}code,pre{font-family:ui-monospace,monospace}
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}.op{border-top:1px solid #ddd;padding:.5em 0}.m{font-weight:bold;padding:0 .4em;border-radius:3px;color:#fff;background:#555}
.m.get{background:#2a7}.m.post{background:#27a}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}.d{color:#555}</style></head>
<body><h1>${escape(doc.info.title)} ${escape(doc.info.version)} — API reference</h1><p>${escape(doc.info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>, <a href="/openapi.yaml">/openapi.yaml</a>. Authenticate with <code>Authorization: Bearer $LOUPE_ADMIN_TOKEN</code> when it is set.</p>
${sections}<h2>Schemas</h2>${schemas}</body></html>`;
}
