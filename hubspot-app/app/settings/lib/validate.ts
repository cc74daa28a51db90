import type { PlaybookDoc } from '@stagekeeper/app-client/api';

// Mirrors the service's playbook rules for the fields this page edits, with the same wording, so a
// rep sees the error before saving instead of after a round trip. The service stays the authority.

const DURATION_RE = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$/;

export function isDuration(text: string): boolean {
  const t = text.trim();
  const m = DURATION_RE.exec(t);
  if (!m || t === '') return false;
  return m.slice(1).some((n) => Number(n ?? 0) > 0);
}

export const durationMessage = (value: string) =>
  `expected a duration like "4h" or "15m", got ${JSON.stringify(value)}`;

export const warningMessage = (value: number | undefined) =>
  `expected a warning threshold from 1 to 99 (% of the SLA window)${value === undefined ? '' : `, got ${value}`}`;

const known = (ids: string[]) => ids.map((s) => `"${s}"`).join(', ');

/** A field's key is its zod path joined with dots, the same key server issues map to. */
export const fieldKey = (path: (string | number)[]) => path.join('.');

export type FieldErrors = Record<string, string>;

export function validatePlaybook(p: PlaybookDoc): FieldErrors {
  const errors: FieldErrors = {};
  const roles = p.roles.map((r) => r.id);
  const calendars = p.calendars.map((c) => c.id);
  p.pipelines.forEach((pl, pi) =>
    pl.stages.forEach((s, si) => {
      const at = ['pipelines', pi, 'stages', si];
      if (!roles.includes(s.ownerRole))
        errors[fieldKey([...at, 'ownerRole'])] = `unknown role "${s.ownerRole}" (known: ${known(roles)})`;
      const sla = s.sla;
      if (!sla) return;
      if (!isDuration(sla.target)) errors[fieldKey([...at, 'sla', 'target'])] = durationMessage(sla.target);
      const w = sla.warningAt;
      if (w === undefined || !Number.isFinite(w) || w < 1 || w > 99)
        errors[fieldKey([...at, 'sla', 'warningAt'])] = warningMessage(w);
      const calKey = fieldKey([...at, 'sla', 'calendar']);
      if (sla.calendar === undefined || sla.calendar === '') {
        if ((sla.basis ?? 'business') === 'business') errors[calKey] = 'a business-time SLA needs a calendar';
      } else if (!calendars.includes(sla.calendar)) {
        errors[calKey] = `unknown calendar "${sla.calendar}" (known: ${known(calendars)})`;
      }
    }),
  );
  return errors;
}
