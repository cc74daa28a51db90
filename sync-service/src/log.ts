import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Deals here are patients' care journeys: property values and names must never reach a log line. Code logs
 * ids, stage ids and counts only; this list is the safety net for an object passed in whole by mistake.
 */
export const REDACT_PATHS = [
  'properties',
  '*.properties',
  '*.*.properties',
  'propertyValue',
  '*.propertyValue',
  'snapshot',
  '*.snapshot',
  'body',
  '*.body',
  'req.body',
  'subject',
  '*.subject',
  // Names by their HubSpot property names; a bare `name` is left alone so error names stay readable.
  'dealname',
  '*.dealname',
  'firstname',
  '*.firstname',
  'lastname',
  '*.lastname',
  'headers.authorization',
  '*.headers.authorization',
  'headers["x-hubspot-signature-v3"]',
  '*.headers["x-hubspot-signature-v3"]',
  'accessToken',
  '*.accessToken',
  'clientSecret',
  '*.clientSecret',
];

export function createLogger(
  level: LoggerOptions['level'] = 'info',
  destination?: pino.DestinationStream,
): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'stagekeeper-sync' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Every line about a portal's work carries its id (multi-tenant from day one). */
export function portalLogger(
  log: Logger,
  portalId: string,
  bindings: Record<string, string | number> = {},
): Logger {
  return log.child({ portalId, ...bindings });
}

/** A logger for tests and callers that do not care. */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * Error name and message with quoted fragments blanked: adapter errors may quote HubSpot bodies, and HubSpot's
 * validation messages quote the offending property value.
 */
export function errorSummary(error: unknown): { name: string; message: string } {
  if (!(error instanceof Error)) return { name: 'NonError', message: typeof error };
  return { name: error.name, message: error.message.replace(/"[^"]*"|'[^']*'/g, '"…"').slice(0, 300) };
}
