// OUR approximations of HubSpot's component schemas (the real ones need an account: run
// `hs project validate` once one exists). Deliberately strict (no unknown keys) so typos and
// 2025.1-style keys fail here rather than at upload.

const https = { type: 'string', pattern: '^https://(?!localhost\\b)[^\\s/]+(/[^\\s]*)?$' };
const origin = { type: 'string', pattern: '^https://(?!localhost\\b)[^\\s/]+$' };
const strings = { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true };
const entrypoint = (dir) => ({ type: 'string', pattern: `^/app/${dir}/[^/].*\\.(jsx|tsx)$` });

const APPLICATION = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'distribution', 'auth'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: 'string' },
    distribution: { enum: ['private', 'marketplace'] },
    auth: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'requiredScopes'],
      properties: {
        type: { enum: ['static', 'oauth'] },
        redirectUrls: { type: 'array', items: https },
        requiredScopes: strings,
        optionalScopes: strings,
        conditionallyRequiredScopes: strings,
      },
      if: { properties: { type: { const: 'oauth' } } },
      then: {
        required: ['redirectUrls'],
        properties: { redirectUrls: { minItems: 1 }, requiredScopes: { contains: { const: 'oauth' } } },
      },
    },
    permittedUrls: {
      type: 'object',
      additionalProperties: false,
      properties: {
        fetch: { type: 'array', items: origin },
        iframe: { type: 'array', items: https },
        img: { type: 'array', items: https },
      },
    },
    support: {
      type: 'object',
      additionalProperties: false,
      properties: {
        supportEmail: { type: 'string', format: 'email' },
        documentationUrl: https,
        supportUrl: https,
        supportPhone: { type: 'string' },
      },
    },
  },
  // Static auth serves one account only; OAuth is what multi-portal installs need.
  if: { properties: { distribution: { const: 'marketplace' } } },
  then: { properties: { auth: { properties: { type: { const: 'oauth' } } } } },
};

const CARD = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'location', 'entrypoint', 'objectTypes'],
  properties: {
    name: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    location: { enum: ['crm.record.tab', 'crm.record.sidebar', 'crm.preview', 'helpdesk.sidebar'] },
    entrypoint: entrypoint('cards'),
    objectTypes: {
      type: 'array',
      minItems: 1,
      items: { enum: ['contacts', 'companies', 'deals', 'tickets'] },
    },
  },
};

const crmSubscription = {
  type: 'object',
  additionalProperties: false,
  required: ['subscriptionType', 'objectType'],
  properties: {
    subscriptionType: {
      enum: [
        'object.creation',
        'object.deletion',
        'object.merge',
        'object.restore',
        'object.propertyChange',
        'object.associationChange',
      ],
    },
    objectType: { type: 'string', pattern: '^[a-z_]+$' },
    propertyName: { type: 'string', pattern: '^[a-z0-9_]+$' },
    active: { type: 'boolean' },
  },
  if: { properties: { subscriptionType: { const: 'object.propertyChange' } } },
  then: { required: ['propertyName'] },
  else: { not: { required: ['propertyName'] } },
};

const WEBHOOKS = {
  type: 'object',
  additionalProperties: false,
  required: ['settings', 'subscriptions'],
  properties: {
    settings: {
      type: 'object',
      additionalProperties: false,
      required: ['targetUrl', 'maxConcurrentRequests'],
      properties: { targetUrl: https, maxConcurrentRequests: { type: 'integer', minimum: 5 } },
    },
    subscriptions: {
      type: 'object',
      additionalProperties: false,
      properties: {
        crmObjects: { type: 'array', items: crmSubscription },
        legacyCrmObjects: { type: 'array' },
        hubEvents: { type: 'array' },
      },
    },
  },
};

const SETTINGS = {
  type: 'object',
  additionalProperties: false,
  required: ['entrypoint'],
  properties: { entrypoint: entrypoint('settings') },
};

const PAGE = {
  type: 'object',
  additionalProperties: false,
  required: ['entrypoint'],
  properties: { entrypoint: entrypoint('pages'), location: { enum: ['home'] } },
};

export const http = { get: async () => ({ data: { APPLICATION, CARD, WEBHOOKS, SETTINGS, PAGE } }) };
