import { writeFileSync } from 'node:fs';
import { PLAYBOOK_JSON_SCHEMA_PATH } from './examples';
import { playbookJsonSchemaText } from './json-schema';

// Regenerates the committed schema after a change to schema.ts: npx tsx shared/src/playbook/write-json-schema.ts
writeFileSync(PLAYBOOK_JSON_SCHEMA_PATH, playbookJsonSchemaText());
console.log(`wrote ${PLAYBOOK_JSON_SCHEMA_PATH}`);
