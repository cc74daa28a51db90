import { describe, expect, it } from 'vitest';
import { fixtureInput } from '../engine/fixtures';
import { checkPlaybook } from './playbook-issues';

describe('checkPlaybook', () => {
  it('reports each problem at its segment path with the validator wording', () => {
    const input = fixtureInput() as {
      pipelines: { stages: { ownerRole: string; sla?: { target: string } }[] }[];
    };
    input.pipelines[0]!.stages[1]!.sla!.target = '4 hrs';
    input.pipelines[0]!.stages[2]!.ownerRole = 'nurse';
    const r = checkPlaybook(input);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toEqual(
      expect.arrayContaining([
        {
          path: ['pipelines', 0, 'stages', 1, 'sla', 'target'],
          message: 'expected a duration like "4h" or "15m", got "4 hrs"',
        },
        {
          path: ['pipelines', 0, 'stages', 2, 'ownerRole'],
          message: 'unknown role "nurse" (known: "intake", "care")',
        },
      ]),
    );
    expect(r.issues).toHaveLength(2);
  });

  it('passes a valid playbook through parsed, defaults filled in', () => {
    const r = checkPlaybook(fixtureInput());
    expect(r.ok && r.playbook.pipelines[0]!.stages[2]!.sla!.warningAt).toBe(75);
  });
});
