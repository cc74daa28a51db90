import { z } from 'zod';
import { PlaybookObject } from './schema';

export const PLAYBOOK_SCHEMA_ID = 'https://stagekeeper.dev/schemas/playbook.schema.json';

/**
 * JSON Schema for editors (autocomplete and inline errors in YAML and JSON files). It describes the shape
 * only: cross-references, durations and time zones are checked by `parsePlaybook`, which stays the authority.
 * Draft-07 because that is the draft yaml-language-server and VS Code's JSON service support fully.
 * `io: 'input'` so keys with defaults are optional, as an author writes them.
 */
export function playbookJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(PlaybookObject, { io: 'input', target: 'draft-7' });
  return {
    $schema,
    $id: PLAYBOOK_SCHEMA_ID,
    title: 'Stagekeeper playbook',
    description:
      'Stage contracts and SLA timers for HubSpot deal pipelines. Generated from shared/src/playbook/schema.ts; do not edit by hand.',
    ...rest,
  };
}

/** The exact text of the committed `shared/playbooks/playbook.schema.json`. */
export const playbookJsonSchemaText = (): string => `${JSON.stringify(playbookJsonSchema(), null, 2)}\n`;
