/**
 * The peer address the runtime saw (runtime.ts, `ServeOptions.fetch`), handed
 * to Hono as the app's env so that routes reach it as `c.env`. Only the socket's
 * peer: X-Forwarded-For is not read, as any client may send one and would then
 * choose the address it is counted under.
 */
export interface ClientEnv {
  clientAddress: string;
}

/** The address a Hono context's request came from; "" when the caller gave none (in-process tests). */
export const clientAddressOf = (c: { env: unknown }): string => (c.env as Partial<ClientEnv> | undefined)?.clientAddress ?? "";
