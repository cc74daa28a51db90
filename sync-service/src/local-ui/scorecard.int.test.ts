import { loadExamplePlaybook, type HistoryRow } from '@stagekeeper/shared';
import { expect, it } from 'vitest';
import { HistoryWeeks } from '../api/history-weeks';
import { silentLogger } from '../log';
import { DealStateStore } from '../state/deal-state-store';
import { HistoryStore } from '../state/history-store';
import { redisKeys } from '../state/keys';
import { PlaybookStore } from '../state/playbook-store';
import { redisPerTest } from '../testing/redis-per-test';
import { localScorecard } from './scorecard';

const D = '4444444';
const NOW = Date.parse('2026-11-24T15:00:00.000Z');

const t = redisPerTest();

it('seed 004 re-referral on the local page: a partner referring again the next week counts, as in the app', async () => {
  // The local page read only the asked week's rows; the app's scorecard (and the CLI) read referrals up to 30
  // days past it, so the page showed no re-referral where the app showed one.
  const keys = redisKeys(t.prefix);
  const referrals = loadExamplePlaybook('referrals');
  const playbooks = new PlaybookStore(t.redis, keys, silentLogger);
  await playbooks.save(D, referrals);
  const history = new HistoryStore(t.redis, keys, silentLogger);
  const referral = (dealId: string, at: string): HistoryRow => {
    const exit = Date.parse(at);
    return {
      dealId,
      pipeline: referrals.pipelines[0]!.id,
      stage: referrals.scorecard!.funnel!.received,
      ownerRole: 'referrals_coordinator',
      ownerId: '101',
      enteredAt: exit - 3_600_000,
      exitedAt: exit,
      businessMs: 3_600_000,
      toStage: '1290330103',
      direction: 'forward',
      slaOutcome: 'met',
      breachReason: null,
      dims: { referrer_ods_code: 'A81001' },
    };
  };
  // W46 (London): a referral from A81001, then another from A81001 eight days later, in W47.
  await history.append(D, [referral('r1', '2026-11-10T10:00:00Z'), referral('r2', '2026-11-18T10:00:00Z')]);
  const card = await localScorecard(
    {
      portalId: D,
      clock: () => NOW,
      dealIds: () => [],
      states: new DealStateStore(t.redis, keys, silentLogger),
      playbooks,
      weeks: new HistoryWeeks(t.redis, keys, history),
      speed: 1,
    },
    '2026-W46',
  );
  expect(card?.funnel?.reReferral).toMatchObject({ referrals: 1, reReferred: 1, partnersReferringAgain: 1 });
  expect(card?.funnel).toMatchObject({ received: 1 });
  expect(card?.weeks).toEqual({ previous: '2026-W45', next: '2026-W47', current: '2026-W48' });
});
