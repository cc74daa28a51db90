import { Playbook } from '@stagekeeper/shared';
import { expect, it } from 'vitest';
import { SandboxPortal } from './portal';
import { seedFromPlaybook } from './seed';

it('seeds the pipelines, stages and owners a playbook names', () => {
  const playbook = Playbook.parse({
    schemaVersion: 1,
    name: 'Mini intake',
    calendars: [{ id: 'clinic', timeZone: 'America/New_York', hours: '24/7' }],
    roles: [{ id: 'nurse', name: 'Intake nurse', owners: ['9001', '9002'], teams: ['77'], lead: '9003' }],
    pipelines: [
      {
        id: 'intake',
        label: 'Intake',
        stages: [
          { id: '5001', label: 'Referral', ownerRole: 'nurse' },
          { id: '5002', label: 'Booked', ownerRole: 'nurse', closed: true },
        ],
      },
    ],
  });
  const portal = new SandboxPortal();
  seedFromPlaybook(portal, playbook);
  expect(portal.pipelines.get('intake').stages.map((s) => [s.id, s.metadata.isClosed])).toEqual([
    ['5001', 'false'],
    ['5002', 'true'],
  ]);
  expect(portal.owners.list(false).map((o) => o.id)).toEqual(['9001', '9002', '9003']);
  expect(portal.owners.get('9001').teams).toEqual([
    { id: '77', name: 'Intake nurse team 77', primary: true },
  ]);
  expect(portal.catalogs.deals.get('hs_v2_date_entered_5001')?.modificationMetadata.readOnlyValue).toBe(true);
  const deal = portal.ui.createDeal({
    dealname: 'Seeded',
    pipeline: 'intake',
    dealstage: '5001',
    hubspot_owner_id: '9002',
  });
  expect(deal.props.get('hs_v2_date_entered_5001')).toBeTruthy();
});
