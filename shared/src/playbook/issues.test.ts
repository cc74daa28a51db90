import { describe, expect, it } from 'vitest';
import { renderPlaybookPath } from './issues';

describe('renderPlaybookPath', () => {
  it('writes segments the way the CLI and the local page show them', () => {
    expect(renderPlaybookPath(['pipelines', 0, 'stages', 3, 'sla', 'target'])).toBe(
      'pipelines[0].stages[3].sla.target',
    );
    expect(renderPlaybookPath(['calendars', 1, 'hours', 'mon day', 0])).toBe(
      'calendars[1].hours["mon day"][0]',
    );
    expect(renderPlaybookPath([])).toBe('');
  });
});
