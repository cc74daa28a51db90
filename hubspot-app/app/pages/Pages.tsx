import React from 'react';
import { hubspot } from '@hubspot/ui-extensions';
import { createPageRouter, PageRoutes } from '@hubspot/ui-extensions/pages';
import { Scorecard } from './Scorecard.tsx';

const ScorecardPage = () => <Scorecard />;

// The app's main page is the scorecard; more pages (e.g. an audit trail) become sibling routes.
export const PageRouter = createPageRouter(
  <PageRoutes>
    <PageRoutes.IndexRoute component={ScorecardPage} />
  </PageRoutes>,
);

hubspot.extend<'pages'>(() => <PageRouter />);
