/**
 * Webhook baseline: the least an HTTP endpoint receiving audit EventLists must do (read the body,
 * JSON.parse it, answer 200 with a small JSON body), with node:http and nothing else. Listens on the
 * port given, prints "listening" when ready.
 */
import http from 'node:http';

const port = Number(process.argv[2]);
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let events = 0;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { items?: unknown[] };
      events = body.items?.length ?? 0;
    } catch {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ events }));
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
