import {
  BreachReason,
  buildCardView,
  CARD_SNAPSHOT_PROPERTIES,
  requiredProperties,
  type DealSnapshot,
  type DealState,
  type Playbook,
} from '@stagekeeper/shared';
import { Router, type Request } from 'express';
import { asInteractive, timed, type CallTiming } from '../hubspot/call';
import { z } from 'zod';
import type { ApiDeps } from './deps';
import { ApiError } from './errors';
import { cardPages } from '../notify/card-pages';
import { CardSnapshots } from './card-snapshot';
import { fitCardView, sendJson } from './respond';
import { ServerTiming } from './server-timing';
import { callerOf, jsonBody, verifiedCaller } from './verify';
import { StateConflictError } from '../settle';
import { repReasons } from '../reasons/rep-reason';
import { withTimeout } from '../with-timeout';
import type { StoredPlaybook } from '../state/playbook-store';

/** Decisions before the card gives up on a deal the workers keep saving (the rep is asked to try again). */
const SAVE_ATTEMPTS = 4;

/** `entryId` names a past breach from the card's breach history; omitted: the current visit's breach. */
const BreachReasonBody = z.object({
  reason: BreachReason,
  entryId: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,40}:[A-Za-z0-9_.-]{1,100}:\d{1,16}$/)
    .optional(),
});

function dealIdOf(req: Request): string {
  const id = String(req.params.dealId ?? '');
  if (!/^\d{1,20}$/.test(id)) throw new ApiError('invalid_request', 'The deal id is not a HubSpot deal id.');
  return id;
}

export function cardRoutes(deps: ApiDeps): Router {
  const router = Router();
  const signed = verifiedCaller(deps);
  const clock = deps.clock ?? Date.now;
  const reasons = repReasons({ ...deps, clock });
  const cardSnapshots = new CardSnapshots(clock);
  /** The playbook each portal's last card was built with (see the card's live read). */
  const lastPlaybook = new Map<string, StoredPlaybook>();

  /** The deal as HubSpot has it now: the checklist must tick as soon as a rep edits a watched property. */
  async function liveSnapshot(portalId: string, dealId: string, playbook: Playbook): Promise<DealSnapshot> {
    const properties = [...new Set([...requiredProperties(playbook), ...CARD_SNAPSHOT_PROPERTIES])].sort();
    // A person is waiting: ahead of bulk work in the rate limiter (hubspot/call.ts asInteractive).
    const snapshots = await withTimeout(
      asInteractive(() => deps.gateway.snapshots(portalId, [dealId], properties)),
      deps.hubspotTimeoutMs ?? 8_000,
      () => new ApiError('unavailable', 'HubSpot did not answer in time; please try again.'),
    );
    const snapshot = snapshots.get(dealId);
    if (!snapshot) throw new ApiError('unavailable', 'HubSpot did not return this deal; please try again.');
    return snapshot;
  }

  /** What the card shows besides the deal's state: its finished visits (for the breach list) and its pages. */
  async function extras(portalId: string, dealId: string, now: number) {
    const [history, trail] = await Promise.all([
      deps.history.rows(portalId, dealId, now),
      deps.pageTrail?.list(portalId, dealId),
    ]);
    return { history, pages: trail ? cardPages(trail) : undefined };
  }

  function build(
    dealId: string,
    playbook: Playbook,
    state: DealState | null,
    snapshot: DealSnapshot | null,
    now: number,
    { history, pages }: Awaited<ReturnType<typeof extras>>,
  ) {
    return fitCardView(
      buildCardView({
        dealId,
        playbook,
        state,
        snapshot,
        // Finished visits are listed only beside a visit in progress, as before the reads ran in parallel.
        history: state?.current ? history : [],
        now,
        ...(pages ? { pages } : {}),
      }),
    );
  }

  async function view(
    portalId: string,
    dealId: string,
    playbook: Playbook,
    state: DealState | null,
    snapshot: DealSnapshot | null,
  ) {
    const now = clock();
    return build(dealId, playbook, state, snapshot, now, await extras(portalId, dealId, now));
  }

  router.get('/card/deal/:dealId', ...signed, async (req, res) => {
    const { portalId } = callerOf(req);
    const dealId = dealIdOf(req);
    // Where this answer's time went (issue #18: a card slow during a bulk move must say whether it waited on
    // Redis, a rate slot, HubSpot or neither, i.e. the event loop).
    const timing = new ServerTiming();
    const now = clock();
    // Every Redis read the card needs is sent at once, not one after another: during a bulk move each await
    // waits its turn behind the workers' callbacks on this event loop, so the number of rounds is the latency.
    // The history and pages of a deal without a visit in progress are read for nothing (a rare, cheap case).
    const stored = Promise.all([
      timing.time('state', deps.states.load(portalId, dealId)),
      timing.time('history', extras(portalId, dealId, now)),
    ]);
    // Awaited below once the playbook is known; swallowed here only so an early return leaves no rejection.
    stored.catch(() => undefined);
    const calls: CallTiming = { slotMs: 0, hubspotMs: 0, calls: 0 };
    const readLive = (pb: StoredPlaybook) =>
      timing.time(
        'live',
        timed(calls, () =>
          cardSnapshots.read(portalId, dealId, () => liveSnapshot(portalId, dealId, pb.playbook)),
        ),
      );
    // The live read needs only the playbook's property list: with the playbook this process last saw for the
    // portal it starts now, beside the Redis reads, instead of a Redis round later (during a bulk move that round
    // was a third of the card's tail). A playbook that changed meanwhile (rare) means one more read.
    const guess = lastPlaybook.get(portalId);
    const early = guess ? readLive(guess) : undefined;
    early?.catch(() => undefined);
    const current = await timing.time('playbook', deps.playbooks.current(portalId));
    if (!current)
      return sendJson(
        res,
        buildCardView({ dealId, playbook: null, state: null, snapshot: null, now: clock() }),
      );
    lastPlaybook.set(portalId, current);
    const [[loaded, more], read] = await Promise.all([
      stored,
      early && guess?.version === current.version ? early : readLive(current),
    ]);
    timing.add('slot', calls.slotMs);
    timing.add('hubspot', calls.hubspotMs);
    const t0 = performance.now();
    const shown = build(dealId, current.playbook, loaded.state, read.snapshot, clock(), more);
    timing.add('view', performance.now() - t0);
    res.setHeader('Server-Timing', timing.header());
    sendJson(res, { ...shown, freshness: read.freshness });
  });

  router.post('/card/deal/:dealId/breach-reason', ...signed, async (req, res) => {
    const caller = callerOf(req);
    const { portalId } = caller;
    const dealId = dealIdOf(req);
    const body = BreachReasonBody.safeParse(jsonBody(req));
    if (!body.success)
      throw new ApiError(
        'invalid_request',
        'The breach reason must be one of capacity, missing_data, handoff, patient_unreachable or other.',
      );
    const { reason, entryId } = body.data;
    const author = { userId: caller.userId, userEmail: caller.userEmail };
    const current = await deps.playbooks.current(portalId);
    if (!current) throw new ApiError('not_found', 'This deal is not managed by Stagekeeper in this account.');
    const { playbook } = current;
    if (entryId !== undefined && !entryId.startsWith(`${dealId}:`))
      throw new ApiError('invalid_request', 'The breach named is not one of this deal.');
    if (entryId !== undefined) {
      const loaded = await deps.states.load(portalId, dealId);
      if (loaded.state?.current?.entryId !== entryId) {
        const outcome = await reasons.correctPast(portalId, dealId, {
          entryId,
          reason,
          author,
          state: loaded.state,
          playbook,
          // A rep is waiting for this write too: the card's lane, ahead of bulk work.
          lane: asInteractive,
        });
        if (outcome === 'unsupported')
          throw new ApiError('unavailable', 'Past breaches cannot be corrected on this service.');
        if (outcome === 'no_breach')
          throw new ApiError('no_breach', 'This deal has no breach in that stage visit.');
        if (outcome === 'corrected')
          deps.log.info({ portalId, dealId, userId: caller.userId }, 'past breach reason corrected by a rep');
        const snapshot = await liveSnapshot(portalId, dealId, playbook);
        return sendJson(res, await view(portalId, dealId, playbook, loaded.state, snapshot));
      }
    }

    const snapshot = liveSnapshot(portalId, dealId, playbook);
    // Swallowed here only so an early 404/409 does not leave an unhandled rejection; awaited below.
    snapshot.catch(() => undefined);
    // The rep's decision goes through the workers' decide-and-save loop; a person is waiting, so its HubSpot
    // write goes ahead of bulk work (hubspot/call.ts asInteractive).
    const { result } = await asInteractive(() =>
      reasons.setCurrent(portalId, dealId, {
        reason,
        author,
        playbook,
        attempts: SAVE_ATTEMPTS,
        check(state) {
          if (!state || state.closedReason === 'deleted' || state.closedReason === 'merged')
            throw new ApiError('not_found', 'This deal is not managed by Stagekeeper in this account.');
          const entry = state.current;
          // §4.3 is stricter than the engine (which also presets a reason on a running clock): the card only
          // offers the control for a breach of the current visit, so anything else is a stale card.
          const breached =
            entry?.sla?.status === 'breached' && (state.lastBreachEntryId ?? entry.entryId) === entry.entryId;
          if (!breached)
            throw new ApiError(
              'no_breach',
              'The current stage has not breached its SLA, so it needs no breach reason.',
            );
        },
      }),
    ).catch((err: unknown) => {
      if (err instanceof StateConflictError)
        throw new ApiError('unavailable', 'The deal is being updated right now; please try again.');
      throw err;
    });
    deps.log.info(
      { portalId, dealId, userId: caller.userId, rules: result.decisions.map((d) => d.rule) },
      'breach reason set by a rep',
    );
    return sendJson(res, await view(portalId, dealId, playbook, result.state, await snapshot));
  });

  return router;
}
