import { WeekError } from '@stagekeeper/shared';
import { json as jsonBody, Router, type Response } from 'express';
import { dealRows } from './deals';
import { PAGE_HTML, PAGE_JS } from './page';
import { localScorecard } from './scorecard';
import type { LocalUiSource } from './source';
import { localWhatIf, playbookInForce } from './whatif';

export type { LocalUiSource } from './source';

/** Scripts only from this origin: labels shown on the page come from an editable playbook. */
const CSP =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'";

/**
 * The sandbox's local ops page (`/` and `/sandbox`) and its JSON endpoints. Mounted through startStack's routers
 * in sandbox mode only: it has no authentication, so it must never be served next to a real portal's data.
 */
export function createLocalUi() {
  let source: LocalUiSource | undefined;
  const router = Router();

  const json = async (res: Response, fn: (src: LocalUiSource) => Promise<unknown>) => {
    res.set('Cache-Control', 'no-store');
    if (!source) return void res.status(503).json({ error: 'starting' });
    res.json(await fn(source));
  };
  const page = (_req: unknown, res: Response) => {
    res.set({
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': CSP,
      'Cache-Control': 'no-store',
    });
    res.send(PAGE_HTML);
  };

  router.get('/', page);
  router.get('/sandbox', page);
  router.get('/sandbox/page.js', (_req, res) => {
    res.set({ 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'no-store' });
    res.send(PAGE_JS);
  });
  router.get('/sandbox/api/deals', (_req, res) => json(res, dealRows));
  router.get('/sandbox/api/scorecard', async (req, res) => {
    const week = typeof req.query.week === 'string' ? req.query.week : undefined;
    try {
      await json(res, (src) => localScorecard(src, week));
    } catch (err) {
      if (!(err instanceof WeekError)) throw err;
      res.status(400).json({ error: 'The week must be an ISO week like 2026-W47.' });
    }
  });
  router.get('/sandbox/api/playbook', (_req, res) => json(res, playbookInForce));
  router.post('/sandbox/api/whatif', jsonBody({ limit: '1mb' }), async (req, res) => {
    res.set('Cache-Control', 'no-store');
    if (!source) return void res.status(503).json({ error: 'starting' });
    const answer = await localWhatIf(source, req.body);
    res.status(answer.status).json(answer.body);
  });
  router.get('/sandbox/api/demo', (_req, res) =>
    json(res, async (src) => src.demo?.() ?? { running: false }),
  );

  return {
    routers: [{ path: '/', router }],
    attach(src: LocalUiSource) {
      source = src;
    },
  };
}
