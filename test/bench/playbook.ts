/**
 * The playbook the service benchmarks play: the chaos run's stages, owners, gate and task templates
 * (test/chaos/playbook.ts), but SLAs of a day and more. With the chaos run's minutes-long SLAs a 10,000-deal
 * bench's set-up outlasted the first stage's 2-minute SLA, so during the measured move ~3 timer firings per deal
 * (warning, breach, escalation), each a decision with its own HubSpot calls, ran too: the move measured them, not
 * the move (1,137 s, ~2,880 calls against a floor of 400). Timers are still armed for every visit (the cost bench
 * counts what arming and cancelling them costs), they just fire long after any bench has ended.
 */
import type { Playbook } from '@stagekeeper/shared';
import { chaosPlaybook } from '../chaos/playbook';

export type BenchPlaybookName = 'bench' | 'chaos';

/** Stage i's SLA in minutes: a day and i hours, so its warning (at 50 %) is 12 h away at the soonest. */
export const benchTargetMinutes = (i: number) => (24 + i) * 60;

export const benchPlaybook = (): Playbook =>
  chaosPlaybook({ name: 'Bench', targetMinutes: benchTargetMinutes });

export const playbookNamed = (name: BenchPlaybookName): Playbook =>
  name === 'bench' ? benchPlaybook() : chaosPlaybook();

/** For a bench's notes: which playbook it played, and what its SLAs mean for what was measured. */
export const playbookNote = (name: BenchPlaybookName): string =>
  name === 'bench'
    ? 'playbook: bench (test/bench/playbook.ts: the chaos stages with SLAs of 24-29 h, warnings at 50 %), so no ' +
      'timer fires during set-up or the measured move; timers are armed as usual'
    : 'playbook: chaos (test/chaos/playbook.ts: SLAs of 2-7 min): timers may fire during set-up and the move';
