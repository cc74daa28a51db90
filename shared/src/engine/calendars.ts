import { compileCalendar, type CompiledCalendar } from '../clock';
import type { Playbook } from '../playbook/schema';

// Compiling a calendar expands holidays and weekly hours; a playbook object is immutable once parsed, so the
// compiled form is reused for as long as the service holds that object.
const cache = new WeakMap<Playbook, Map<string, CompiledCalendar>>();

export function calendarOf(playbook: Playbook, calendarId: string | undefined): CompiledCalendar | undefined {
  if (calendarId === undefined) return undefined;
  let compiled = cache.get(playbook);
  if (!compiled) {
    compiled = new Map();
    cache.set(playbook, compiled);
  }
  const hit = compiled.get(calendarId);
  if (hit) return hit;
  const source = playbook.calendars.find((c) => c.id === calendarId);
  if (!source) return undefined;
  const cal = compileCalendar(source);
  compiled.set(calendarId, cal);
  return cal;
}
