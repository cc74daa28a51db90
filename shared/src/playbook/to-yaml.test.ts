import { describe, expect, it } from 'vitest';
import { EXAMPLE_PLAYBOOKS, type ExamplePlaybookName } from './examples';
import { parsePlaybook } from './load';
import { loadExamplePlaybook } from './load-file';
import { playbookYaml } from './to-yaml';

const names = Object.keys(EXAMPLE_PLAYBOOKS) as ExamplePlaybookName[];

describe('playbookYaml', () => {
  it.each(names)('%s reads back as the same playbook', (name) => {
    const playbook = loadExamplePlaybook(name);
    const back = parsePlaybook(playbookYaml(playbook), 'yaml');
    expect(back.ok ? back.playbook : back.errors).toEqual(playbook);
  });

  it('keeps digit ids and clock times as strings, not numbers', () => {
    const text = playbookYaml(loadExamplePlaybook('telehealth'));
    // Unquoted, YAML would read owner ids as numbers and the schema would refuse them.
    expect(text).toMatch(/- "\d+"/);
    expect(text).toContain('start: 08:00');
  });
});
