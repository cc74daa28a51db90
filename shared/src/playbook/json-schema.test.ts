import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PLAYBOOK_JSON_SCHEMA_PATH } from './examples';
import { playbookJsonSchema, playbookJsonSchemaText } from './json-schema';

describe('playbook JSON Schema', () => {
  it('committed file matches the schema (regenerate: npx tsx shared/src/playbook/write-json-schema.ts)', () => {
    expect(readFileSync(PLAYBOOK_JSON_SCHEMA_PATH, 'utf8')).toBe(playbookJsonSchemaText());
  });

  it('identifies itself and leaves keys with defaults optional', () => {
    const schema = playbookJsonSchema() as {
      $id: string;
      title: string;
      required: string[];
      additionalProperties: boolean;
    };
    expect(schema.$id).toMatch(/^https:\/\//);
    expect(schema.title).toBe('Stagekeeper playbook');
    expect(schema.required.sort()).toEqual(['calendars', 'name', 'pipelines', 'roles', 'schemaVersion']);
    expect(schema.additionalProperties).toBe(false);
  });
});
