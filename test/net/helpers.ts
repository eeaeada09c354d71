// Loopback servers for the network tests: a recording HTTP server and a canary that must never be reached.
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeServer } from '../fakes/http.js';

export interface TestServer {
  server: Server;
  host: string;
  port: number;
  /** TCP connections accepted so far. */
  connections: number;
  requests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export async function startServer(
  handler: RequestListener,
  host = '127.0.0.1',
  port = 0,
): Promise<TestServer> {
  const server = createServer();
  const state: TestServer = {
    server,
    host,
    port: 0,
    connections: 0,
    requests: [],
    close: () => closeServer(server),
  };
  server.on('connection', () => {
    state.connections++;
  });
  server.on('request', (req, res) => {
    state.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, ipv6Only: false }, () => resolve());
  });
  state.port = (server.address() as AddressInfo).port;
  return state;
}
