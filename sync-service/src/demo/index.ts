import type { Playbook } from '@stagekeeper/shared';
import { ConfigError } from '../config';
import type { SandboxPortal } from '@stagekeeper/test/sandbox/index';
import { scaledClock, type ScaledClock } from './clock';
import { demoCompatible, demoPlaybook, TELEHEALTH } from './playbook';
import { demoScenarios, scriptLength, type Scenario } from './script';
import { StoryTeller, type DemoCounts } from './story';

export { scaledClock, demoPlaybook, demoCompatible, TELEHEALTH, StoryTeller };
export type { DemoCounts, ScaledClock };

export const DEFAULT_DEMO_SPEED = 60;

export type DemoSettings = { enabled: false } | { enabled: true; speed: number };

/** DEMO=false turns the driver off; DEMO_SPEED sets how much faster than real time the demo clock runs. */
export function demoSettings(env: NodeJS.ProcessEnv): DemoSettings {
  const demo = (env.DEMO ?? '').trim().toLowerCase();
  if (['false', '0', 'no', 'off'].includes(demo)) return { enabled: false };
  // A typo must not start the demo the user meant to turn off.
  if (!['', 'true', '1', 'yes', 'on'].includes(demo))
    throw new ConfigError(['DEMO: expected true or false (false runs the sandbox without the demo driver)']);
  const raw = env.DEMO_SPEED?.trim();
  const speed = raw ? Number(raw) : DEFAULT_DEMO_SPEED;
  // A ConfigError: main prints it as a configuration problem, without a stack trace.
  if (!Number.isFinite(speed) || speed < 1 || speed > 600)
    throw new ConfigError(['DEMO_SPEED: expected a number from 1 to 600']);
  return { enabled: true, speed };
}

export type DemoStatus = {
  speed: number;
  startedAt: string;
  /** Demo clock now (ISO), which runs `speed` times faster than real time. */
  demoNow: string;
  finished: boolean;
  scenarios: { name: string; dealId: string | null }[];
  counts: DemoCounts;
};

export type DemoOptions = {
  portal: SandboxPortal;
  /** The playbook in force (the demo variant); stage labels and role names for the story come from it. */
  playbook: Playbook;
  clock: ScaledClock;
  /** Where story lines go (stdout in `npm start`). */
  write: (line: string) => void;
  /** Where the local page is, for the closing line. */
  pageUrl?: string;
};

export type Demo = { status(): DemoStatus; close(): Promise<void> };

/**
 * The quick start's driver: plays the scripted deals through the sandbox portal's UI on the demo clock and tells
 * what the service does in plain lines. SLA timers need nothing from it: the service's timer poller compares
 * fire times with the same clock, so they fall due in demo time.
 */
export function startDemo(opts: DemoOptions): Demo {
  const { portal, playbook, clock } = opts;
  const realStart = Date.now();
  const demoStart = clock.now();
  const stamp = () => {
    const s = Math.floor((Date.now() - realStart) / 1000);
    const demoMin = Math.floor((clock.now() - demoStart) / 60_000);
    return `[real ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')} | demo +${demoMin}m]`;
  };
  const story = new StoryTeller(portal, playbook, opts.write, stamp, clock.now);
  const scenarios = demoScenarios(playbook);
  const deals = new Map<Scenario, string>();
  const realMs = (demoMin: number) => (demoMin * 60_000) / clock.speed;
  const timers: NodeJS.Timeout[] = [];
  let finished = false;

  const at = (demoMin: number, fn: () => void) => timers.push(setTimeout(fn, realMs(demoMin)));
  const safely = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      // Only the error's name: sandbox validation messages may quote the values that were refused.
      story.note(`demo: ${what} failed (${err instanceof Error ? err.name : 'error'})`);
    }
  };

  story.note(
    `demo: ${scenarios.length} deals on the "${playbook.pipelines.find((p) => p.id === TELEHEALTH.pipeline)?.label}" pipeline; ` +
      `the demo clock runs ${clock.speed}x faster than real time, so a 15-minute SLA takes ${Math.round(realMs(15) / 1000)} s.`,
  );
  for (const sc of scenarios) {
    at(sc.startMin, () =>
      safely(`creating the "${sc.name}" deal`, () => {
        const deal = portal.ui.createDeal(
          {
            dealname: `Demo intake (${sc.name})`,
            pipeline: TELEHEALTH.pipeline,
            dealstage: sc.stage ?? TELEHEALTH.stages.newLead,
            hubspot_owner_id: sc.ownerId,
            ...(sc.create?.(clock.now()) ?? {}),
          },
          { userId: Number(sc.ownerId) },
        );
        deals.set(sc, deal.id);
        story.say(deal.id, `rep created the deal for owner ${sc.ownerId} [${sc.name}: ${sc.expect}]`);
      }),
    );
    for (const step of sc.steps) {
      at(step.atMin, () => {
        const dealId = deals.get(sc);
        if (!dealId) return;
        safely(`a step of "${sc.name}"`, () => {
          const said = step.run({ portal, dealId, now: clock.now, actor: { userId: Number(sc.ownerId) } });
          story.say(dealId, said);
        });
      });
    }
  }
  // The service's last reactions (webhook, reconcile, write-back) come a moment after the last step.
  at(scriptLength(scenarios) + 5, () => {
    finished = true;
    const c = story.counts;
    story.note(
      `demo: script done (${c.deals} deals, ${c.tasks} tasks, ${c.warnings} warnings, ${c.breaches} breaches, ` +
        `${c.escalations} escalations, ${c.gateBlocks} gate blocks). The service keeps running` +
        `${opts.pageUrl ? `; watch it at ${opts.pageUrl}` : ''}. Ctrl-C stops it.`,
    );
  });

  const poll = setInterval(() => story.poll(), 200);

  return {
    status: () => ({
      speed: clock.speed,
      startedAt: new Date(clock.origin).toISOString(),
      demoNow: new Date(clock.now()).toISOString(),
      finished,
      scenarios: scenarios.map((s) => ({ name: s.name, dealId: deals.get(s) ?? null })),
      counts: { ...story.counts },
    }),
    async close() {
      timers.forEach(clearTimeout);
      clearInterval(poll);
    },
  };
}
