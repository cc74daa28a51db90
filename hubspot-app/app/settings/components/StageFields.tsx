import React from 'react';
import { Flex, Input, NumberInput, Select, Tag, Text, Tile } from '@hubspot/ui-extensions';
import type { StageEdit } from '../lib/draft.ts';
import { fieldKey, type FieldErrors } from '../lib/validate.ts';
import type { PlaybookDoc, StageDoc } from '@stagekeeper/app-client/api';

type Props = {
  stage: StageDoc;
  path: (string | number)[];
  playbook: PlaybookDoc;
  errors: FieldErrors;
  onEdit: (edit: StageEdit) => void;
};

/** Field props that put an error message right under the input it concerns. */
const errorProps = (errors: FieldErrors, path: (string | number)[]) => {
  const message = errors[fieldKey(path)];
  return message ? { error: true, validationMessage: message } : { error: false };
};

export const StageFields = ({ stage, path, playbook, errors, onEdit }: Props) => {
  const roles = playbook.roles.map((r) => ({ value: r.id, label: r.name }));
  const calendars = playbook.calendars.map((c) => ({ value: c.id, label: `${c.id} (${c.timeZone})` }));
  const sla = stage.sla;
  return (
    <Tile compact>
      <Flex direction="column" gap="sm">
        <Flex direction="row" gap="sm" align="center">
          <Text format={{ fontWeight: 'bold' }}>{stage.label}</Text>
          {stage.closed && <Tag>Closed stage</Tag>}
        </Flex>
        <Flex direction="row" gap="md" wrap="wrap">
          <Select
            label="Accountable role"
            name={fieldKey([...path, 'ownerRole'])}
            options={roles}
            value={stage.ownerRole}
            onChange={(v) => onEdit({ ownerRole: String(v) })}
            {...errorProps(errors, [...path, 'ownerRole'])}
          />
          {sla ? (
            <>
              <Input
                label={sla.basis === 'calendar' ? 'SLA target (calendar time)' : 'SLA target (business time)'}
                name={fieldKey([...path, 'sla', 'target'])}
                description='e.g. "4h", "1h30m", "2d"'
                value={sla.target}
                onChange={(v) => onEdit({ sla: { target: v } })}
                {...errorProps(errors, [...path, 'sla', 'target'])}
              />
              <NumberInput
                label="Warn at (% of SLA)"
                name={fieldKey([...path, 'sla', 'warningAt'])}
                value={sla.warningAt}
                min={1}
                max={99}
                precision={0}
                onChange={(v) =>
                  onEdit({ sla: { warningAt: typeof v === 'number' && Number.isFinite(v) ? v : undefined } })
                }
                {...errorProps(errors, [...path, 'sla', 'warningAt'])}
              />
              <Select
                label="Calendar"
                name={fieldKey([...path, 'sla', 'calendar'])}
                options={calendars}
                value={sla.calendar}
                onChange={(v) => onEdit({ sla: { calendar: String(v) } })}
                {...errorProps(errors, [...path, 'sla', 'calendar'])}
              />
            </>
          ) : (
            <Text variant="microcopy">No SLA on this stage.</Text>
          )}
        </Flex>
      </Flex>
    </Tile>
  );
};
