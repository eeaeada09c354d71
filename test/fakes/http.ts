// Shared by the fake servers and test servers: stop listening and drop keep-alive sockets, so close() resolves now
// instead of waiting for idle clients (undici, grammY and discord.js keep connections open).
import type { Server } from 'node:http';

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}
