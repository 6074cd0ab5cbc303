/**
 * Query parameters the database would refuse, or that overflow a time, are a 400 naming the parameter
 * and saying what is allowed, never a 500: a NUL character (PostgreSQL text cannot hold one), a
 * duration reaching back before the year 1, a limit out of its range.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpServer, type HttpServer } from '../../src/api/server.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';

for (const backend of backends) {
  describe(`API parameter errors on ${backend}`, { skip: skipReason(backend) }, () => {
    let close: () => Promise<void>;
    let server: HttpServer;
    before(async () => {
      const created = await createTestDatabase(backend);
      close = created.close;
      server = await startHttpServer({ db: created.db, metrics: createMetrics(), logger: silentLogger, port: 0, host: '127.0.0.1' });
    });
    after(async () => {
      await server?.close();
      await close?.();
    });

    it('answers 400 naming the parameter and the allowed form, for what used to be a 500 or a wrong message', async () => {
      const cases: [string, string, RegExp][] = [
        ['/api/v1/sessions?limit=0', 'limit', /"limit" must be a whole number from 1 to 500/],
        ['/api/v1/sessions?limit=100000', 'limit', /"limit" must be a whole number from 1 to 500/],
        ['/api/v1/runtime-events?limit=1001', 'limit', /"limit" must be a whole number from 1 to 1000/],
        ['/api/v1/sessions?user=al%00ice', 'user', /must not contain a NUL character/],
        ['/api/v1/timeline?namespace=shop&pod=web%000', 'pod', /must not contain a NUL character/],
        ['/api/v1/runtime-events?container=%00', 'container', /must not contain a NUL character/],
        ['/api/v1/sessions?since=%00', 'since', /must not contain a NUL character/],
        ['/api/v1/sessions/EXEC%3A%3Aid%00x', 'id', /must not contain a NUL character/],
        ['/api/v1/sessions?since=99999999d', 'since', /reaches back before the year 1; give a shorter duration/],
        ['/api/v1/timeline?namespace=shop&pod=web-0&since=99999999d', 'since', /reaches back before the year 1/],
      ];
      for (const [path, parameter, message] of cases) {
        const response = await fetch(`${server.url}${path}`);
        const body = (await response.json()) as { error: string; code: string; parameter: string };
        assert.equal(response.status, 400, `${path}: ${JSON.stringify(body)}`);
        assert.equal(body.code, 'BAD_PARAMETER', path);
        assert.equal(body.parameter, parameter, path);
        assert.match(body.error, message, path);
      }
      // The server is still answering queries afterwards.
      assert.equal((await fetch(`${server.url}/api/v1/sessions?since=36500d`)).status, 200);
    });
  });
}
