import { describe, expect, it } from 'vitest';
import { IngestJobData } from './ingest';

// A request whose only work is a person's edit of the breach reason (reasons/hubspot-edit.ts) is still a job;
// one that names nothing is not.
describe('IngestJobData', () => {
  const edit = { portalId: '62515', dealId: '7', userId: '45678', at: 1_700_000_000_000 };

  it('takes deals, breach reason edits, or both', () => {
    expect(IngestJobData.safeParse({ portals: [{ portalId: '62515', dealIds: ['7'] }] }).success).toBe(true);
    expect(IngestJobData.safeParse({ portals: [], reasonEdits: [edit] }).success).toBe(true);
  });

  it('refuses a job with no work, and an edit without its deal', () => {
    expect(IngestJobData.safeParse({ portals: [] }).success).toBe(false);
    expect(IngestJobData.safeParse({ portals: [], reasonEdits: [] }).success).toBe(false);
    expect(
      IngestJobData.safeParse({ portals: [], reasonEdits: [{ ...edit, dealId: undefined }] }).success,
    ).toBe(false);
  });
});
