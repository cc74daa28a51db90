import { describe, expect, it } from 'vitest';
import { redisKeys } from './keys';

// Stored data is found by these exact names: a changed spelling loses every install's data under the old one.
describe('redisKeys spells every key as existing data has it', () => {
  const k = redisKeys('sk');
  it.each([
    [k.dealState('1', '2'), 'sk:1:deal:2'],
    [k.dealStatePrefix('1'), 'sk:1:deal:'],
    [k.trackedDeals('1'), 'sk:1:deals'],
    [k.dealLock('1', '2'), 'sk:1:lock:2'],
    [k.playbookVersions('1'), 'sk:1:playbook:versions'],
    [k.playbookCurrent('1'), 'sk:1:playbook:current'],
    [k.playbookSeq('1'), 'sk:1:playbook:seq'],
    [k.sweepCursor('1'), 'sk:1:sweep:cursor'],
    [k.sweepAuditCursor('1'), 'sk:1:sweep:audit'],
    [k.accountTimeZone('1'), 'sk:1:account:tz'],
    [k.portals(), 'sk:portals'],
    [k.roundRobin('1'), 'sk:1:routing:rr'],
    [k.notifyChannels('1'), 'sk:1:notify:channels'],
    [k.notifyHealth('1'), 'sk:1:notify:health'],
    [k.notifyTrail('1', '2'), 'sk:1:notify:trail:2'],
    [k.seeded(), 'sk:seeded'],
    [k.replay('ab12'), 'sk:replay:ab12'],
    [k.timersDue(), 'sk:timers:due'],
    [k.timersMeta(), 'sk:timers:meta'],
    [k.reconcileDue(), 'sk:reconcile:due'],
    [k.reconcileMeta(), 'sk:reconcile:meta'],
    [k.reconcileFailed(), 'sk:reconcile:failed'],
    [k.bullPrefix(), 'sk:bull'],
    [k.everyKey(), 'sk:*'],
    [k.oauthTokens('1'), 'sk:1:oauth:tokens'],
    [k.install('1'), 'sk:1:install'],
    [k.admins('1'), 'sk:1:admins'],
    // The rate window's keys live two windows: renamed when their shape changed, nothing stored is lost.
    [k.rateWindow('1', 'search'), 'sk:1:rl:search:w'],
    [k.rateBlock('1', 'default'), 'sk:1:rl:default:block'],
    [k.rateLearned('1', 'default'), 'sk:1:rl:default:learned'],
    [k.rateDaily('1'), 'sk:1:rl:daily'],
    [k.rateEpoch(), 'sk:rl:epoch'],
    [k.taskMap('1', '2'), 'sk:1:taskmap:2'],
    [k.noteMap('1', '2'), 'sk:1:notemap:2'],
    [k.reasonAudit('1'), 'sk:1:api:reason-audit'],
    [k.playbookMeta('1'), 'sk:1:api:playbook-meta'],
    [k.playbookSaveLock('1'), 'sk:1:api:playbook-lock'],
    [k.portalActivity('1'), 'sk:1:api:activity'],
  ])('%s', (key, expected) => {
    expect(key).toBe(expected);
  });

  it('refuses ids that could alias another key', () => {
    expect(() => k.dealState('1:*', '2')).toThrow();
    expect(() => k.taskMap('1', '2:x')).toThrow();
    expect(() => k.portalActivity('')).toThrow();
  });
});
