import { connect, type Socket } from "node:net";

/**
 * HTTP/1.1 over a bare TCP socket, for what fetch will not send: malformed,
 * ambiguous or never-ending requests. Bytes go out exactly as given.
 */
export interface RawExchange {
  /** Everything the server sent, as latin1 text. */
  text: string;
  /** The status of every response in `text`, in order. */
  statuses: number[];
  /** Whether the server closed the connection before `waitMs` ran out. */
  closedByServer: boolean;
}

export const statusesIn = (text: string): number[] => [...text.matchAll(/(?:^|\r?\n)HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));

/** Opens a connection to `url`'s host and port. */
export function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ""), port: Number(port) });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Sends `bytes` on a new connection and collects the answer until the server closes it or `waitMs` passes. */
export async function rawExchange(url: string, bytes: string | Uint8Array, waitMs = 1500): Promise<RawExchange> {
  const socket = await openSocket(url);
  let text = "";
  socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
  socket.on("error", () => {});
  const closedByServer = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), waitMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.write(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes);
  });
  socket.destroy();
  return { text, statuses: statusesIn(text), closedByServer };
}
