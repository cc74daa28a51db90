import React, { useCallback, useEffect, useRef, useState } from 'react';
import {
  Divider,
  EmptyState,
  ErrorState,
  Button,
  Flex,
  Heading,
  LoadingSpinner,
  Tag,
  Text,
  hubspot,
  useExtensionActions,
  useExtensionContext,
} from '@hubspot/ui-extensions';
import { BreachHistory } from './components/BreachHistory.tsx';
import { BreachReasonControl } from './components/BreachReasonControl.tsx';
import { DealTrail } from './components/DealTrail.tsx';
import { ExitChecklist } from './components/ExitChecklist.tsx';
import { FreshnessNotice } from './components/FreshnessNotice.tsx';
import { GateAlert } from './components/GateAlert.tsx';
import { NextMove } from './components/NextMove.tsx';
import { PageHistory } from './components/PageHistory.tsx';
import { RequiredActions } from './components/RequiredActions.tsx';
import { SlaSection } from './components/SlaSection.tsx';
import { SERVICE_URL } from '@stagekeeper/app-client/config';
import { REASON_LABELS } from './lib/format.ts';
import { createServiceClient, ServiceError, type FetchLike } from '@stagekeeper/app-client/service';
import type { BreachReason, CardView, ManagedCardView } from '@stagekeeper/app-client/api';
import { useWatchedProperties } from './lib/watch.ts';

type State = { kind: 'loading' } | { kind: 'error'; message: string } | { kind: 'ready'; view: CardView };

const UNMANAGED_TEXT: Record<string, string> = {
  no_playbook:
    'Stagekeeper has no playbook for this HubSpot account yet. An admin can add one in the app settings.',
  unmanaged_pipeline: "This deal's pipeline is not managed by the Stagekeeper playbook.",
  not_found: 'Stagekeeper has no record of this deal yet. It appears after the next sync.',
};

type CardProps = {
  fetcher?: FetchLike;
  /** The viewer's clock, for how old a shown HubSpot read is (tests fix it). */
  now?: () => number;
};

export const DealSlaCard = ({ fetcher = hubspot.fetch, now = Date.now }: CardProps) => {
  const context = useExtensionContext<'crm.record.tab'>();
  const actions = useExtensionActions<'crm.record.tab'>();
  const dealId = String(context.crm.objectId);
  const client = useRef(createServiceClient(SERVICE_URL, fetcher)).current;
  const [state, setState] = useState<State>({ kind: 'loading' });
  const [saving, setSaving] = useState(false);
  const requestSeq = useRef(0);

  const load = useCallback(
    async (showSpinner: boolean) => {
      const seq = ++requestSeq.current;
      if (showSpinner) setState({ kind: 'loading' });
      try {
        const view = await client.get<CardView>(`/api/card/deal/${encodeURIComponent(dealId)}`);
        // Property edits can fire several refetches; only the newest answer may win.
        if (seq === requestSeq.current) setState({ kind: 'ready', view });
      } catch (e) {
        if (seq === requestSeq.current)
          setState({ kind: 'error', message: e instanceof Error ? e.message : 'Unknown error' });
      }
    },
    [client, dealId],
  );

  useEffect(() => {
    void load(true);
  }, [load]);

  const watched = state.kind === 'ready' && state.view.managed ? state.view.watchProperties : [];
  useWatchedProperties(actions.onCrmPropertiesUpdate, watched, () => void load(false));

  /** `entryId` names a past breach from the history list; omitted: the current stage's breach. */
  const saveReason = async (reason: BreachReason, entryId?: string) => {
    setSaving(true);
    try {
      const view = await client.post<CardView>(
        `/api/card/deal/${encodeURIComponent(dealId)}/breach-reason`,
        entryId ? { reason, entryId } : { reason },
      );
      requestSeq.current++;
      setState({ kind: 'ready', view });
      actions.addAlert({ type: 'success', message: `Breach reason set to ${REASON_LABELS[reason]}.` });
    } catch (e) {
      const message = e instanceof ServiceError ? e.message : 'Could not reach Stagekeeper.';
      actions.addAlert({ type: 'danger', title: 'Breach reason not saved', message });
    } finally {
      setSaving(false);
    }
  };

  if (state.kind === 'loading') return <LoadingSpinner label="Loading SLA" layout="centered" />;
  if (state.kind === 'error')
    return (
      <ErrorState title="Could not load the SLA for this deal">
        <Text>{state.message}</Text>
        <Button onClick={() => void load(true)}>Try again</Button>
      </ErrorState>
    );
  const { view } = state;
  if (!view.managed)
    return (
      <EmptyState title="Not managed by Stagekeeper" imageName="deals" layout="vertical">
        <Text>{UNMANAGED_TEXT[view.reason] ?? UNMANAGED_TEXT.unmanaged_pipeline}</Text>
      </EmptyState>
    );
  return (
    <ManagedView
      view={view}
      timeZone={context.portal.timezone}
      locale={context.user.locale}
      saving={saving}
      onSaveReason={saveReason}
      now={now()}
      onRefresh={() => void load(false)}
    />
  );
};

type ManagedProps = {
  view: ManagedCardView;
  timeZone: string;
  locale?: string;
  saving: boolean;
  onSaveReason: (reason: BreachReason, entryId?: string) => void;
  now: number;
  onRefresh: () => void;
};

const ManagedView = ({ view, timeZone, locale, saving, onSaveReason, now, onRefresh }: ManagedProps) => {
  const breachedNow = view.sla?.status === 'breached' || view.breachReason !== null;
  // No HubSpot read behind this answer: what only HubSpot knows is shown as not checked, never as missing.
  const unchecked = view.freshness?.source === 'saved';
  return (
    <Flex direction="column" gap="md">
      <FreshnessNotice freshness={view.freshness} now={now} onRefresh={onRefresh} />
      <GateAlert gate={view.gate} />
      <Flex direction="row" gap="sm" align="center" wrap="wrap">
        <Heading>{view.stage.label}</Heading>
        <Tag testId="owner-role" variant="info">
          {view.ownerRole.name}
        </Tag>
        <Text variant="microcopy">{view.pipeline.label}</Text>
      </Flex>
      <SlaSection sla={view.sla} timeZone={timeZone} locale={locale} />
      <DealTrail
        clocks={view.eventClocks ?? []}
        routing={view.routing ?? null}
        trail={view.trail ?? []}
        timeZone={timeZone}
        locale={locale}
      />
      <Divider />
      <Heading>Required actions</Heading>
      <RequiredActions
        actions={view.requiredActions ?? []}
        timeZone={timeZone}
        locale={locale}
        unchecked={unchecked}
      />
      {view.nextMove && (
        <>
          <Divider />
          <Heading>{`To move to ${view.nextMove.to.label}`}</Heading>
          <NextMove move={view.nextMove} unchecked={unchecked} />
        </>
      )}
      <Divider />
      <Heading>Exit checklist</Heading>
      <ExitChecklist items={view.exitChecklist} unchecked={unchecked} />
      {breachedNow && (
        <>
          <Divider />
          <Heading>Why did this stage breach?</Heading>
          <BreachReasonControl
            key={`${view.breachReason?.value}:${view.breachReason?.source}`}
            current={view.breachReason}
            saving={saving}
            onSave={onSaveReason}
          />
        </>
      )}
      <Divider />
      <Heading>Breach history</Heading>
      <BreachHistory
        breaches={view.breaches}
        timeZone={timeZone}
        locale={locale}
        saving={saving}
        onCorrect={(entryId, reason) => onSaveReason(reason, entryId)}
      />
      {view.pages && (
        <>
          <Divider />
          <Heading>Escalation pages</Heading>
          <PageHistory pages={view.pages} timeZone={timeZone} locale={locale} />
        </>
      )}
    </Flex>
  );
};

hubspot.extend<'crm.record.tab'>(() => <DealSlaCard />);
