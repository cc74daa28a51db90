import type { Criterion, Playbook } from './schema';

/** How a deal property is read or written, which decides the HubSpot type it needs. */
export type PropertyKind = 'number' | 'datetime' | 'string';

export type PropertyUse = {
  property: string;
  /** Playbook path of the use, e.g. `pipelines[0].stages[2].exitCriteria[1]`. */
  at: string;
  kind: PropertyKind;
  source: 'criterion' | 'action' | 'signal';
};

const kindOf = (c: Exclude<Criterion, { op: 'taskDone' }>): PropertyKind =>
  c.op === 'gt' || c.op === 'gte' || c.op === 'lt' || c.op === 'lte'
    ? 'number'
    : c.op === 'inFuture' || c.op === 'dateBefore' || c.op === 'dateAfter'
      ? 'datetime'
      : 'string';

/**
 * Every deal property a playbook names (criteria, escalation setProperty actions, signals), in playbook order.
 * The one walk over a playbook's property references: the engine's read list, provisioning's checks and the
 * sandbox's property set-up all derive from it.
 */
export function propertyUses(playbook: Playbook): PropertyUse[] {
  const out: PropertyUse[] = [];
  const criteria = (list: readonly Criterion[], at: string) =>
    list.forEach((c, i) => {
      if (c.op !== 'taskDone')
        out.push({ property: c.property, at: `${at}[${i}]`, kind: kindOf(c), source: 'criterion' });
    });
  playbook.pipelines.forEach((pl, pi) =>
    pl.stages.forEach((st, si) => {
      const at = `pipelines[${pi}].stages[${si}]`;
      criteria(st.entryCriteria, `${at}.entryCriteria`);
      criteria(st.exitCriteria, `${at}.exitCriteria`);
      st.sla?.overrides.forEach((o, oi) => criteria(o.when, `${at}.sla.overrides[${oi}].when`));
      if (st.sla) criteria(st.sla.pauseWhen, `${at}.sla.pauseWhen`);
      st.sla?.escalations.forEach((l, li) =>
        l.actions.forEach((a, ai) => {
          if (a.type === 'setProperty')
            out.push({
              property: a.property,
              at: `${at}.sla.escalations[${li}].actions[${ai}]`,
              kind: 'string',
              source: 'action',
            });
        }),
      );
    }),
  );
  playbook.clocks.forEach((c, ci) => {
    const at = `clocks[${ci}]`;
    // A clock anchored on the trigger's own value needs a datetime; any other trigger is read as text.
    out.push({
      property: c.start.property,
      at: `${at}.start`,
      kind: c.startAt === 'value' ? 'datetime' : 'string',
      source: 'criterion',
    });
    c.stopOn.forEach((t, ti) =>
      out.push({ property: t.property, at: `${at}.stopOn[${ti}]`, kind: 'string', source: 'criterion' }),
    );
    criteria(c.stopWhen, `${at}.stopWhen`);
    c.sla.overrides.forEach((o, oi) => criteria(o.when, `${at}.sla.overrides[${oi}].when`));
    criteria(c.sla.pauseWhen, `${at}.sla.pauseWhen`);
    c.sla.escalations.forEach((l, li) =>
      l.actions.forEach((a, ai) => {
        if (a.type === 'setProperty')
          out.push({
            property: a.property,
            at: `${at}.sla.escalations[${li}].actions[${ai}]`,
            kind: 'string',
            source: 'action',
          });
      }),
    );
  });
  out.push({
    property: playbook.signals.contactAttempts,
    at: 'signals.contactAttempts',
    kind: 'number',
    source: 'signal',
  });
  if (playbook.signals.lastInboundReply)
    out.push({
      property: playbook.signals.lastInboundReply,
      at: 'signals.lastInboundReply',
      kind: 'datetime',
      source: 'signal',
    });
  return out;
}
