import { fileURLToPath } from 'node:url';

/** Absolute paths of the shipped example playbooks, for tests anywhere in the repository. */
const inPlaybooksDir = (file: string) => fileURLToPath(new URL(`../../playbooks/${file}`, import.meta.url));

export const EXAMPLE_PLAYBOOKS = {
  telehealth: inPlaybooksDir('telehealth-intake.yaml'),
  fivePhase: inPlaybooksDir('five-phase-journey.yaml'),
  referrals: inPlaybooksDir('provider-referrals.yaml'),
} as const;

export type ExamplePlaybookName = keyof typeof EXAMPLE_PLAYBOOKS;

export const examplePlaybookPath = (name: ExamplePlaybookName): string => EXAMPLE_PLAYBOOKS[name];

export const PLAYBOOK_JSON_SCHEMA_PATH = inPlaybooksDir('playbook.schema.json');
