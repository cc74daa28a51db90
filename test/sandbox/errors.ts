import { randomUUID } from 'node:crypto';

export type ErrorDetail = { message: string; code?: string; context?: Record<string, string[]>; in?: string };

/**
 * A refusal the way HubSpot words it. Thrown anywhere inside the portal; the router turns it into the
 * HTTP response so the store code never has to think about status codes twice.
 */
export class HubSpotError extends Error {
  constructor(
    readonly status: number,
    readonly category: string,
    message: string,
    readonly extra: { errors?: ErrorDetail[]; context?: Record<string, string[]>; subCategory?: string } = {},
  ) {
    super(message);
  }

  body(): Record<string, unknown> {
    return {
      status: 'error',
      message: this.message,
      correlationId: randomUUID(),
      category: this.category,
      ...(this.extra.subCategory ? { subCategory: this.extra.subCategory } : {}),
      ...(this.extra.errors ? { errors: this.extra.errors } : {}),
      ...(this.extra.context ? { context: this.extra.context } : {}),
    };
  }
}

export const validationError = (message: string, extra?: HubSpotError['extra']) =>
  new HubSpotError(400, 'VALIDATION_ERROR', message, extra);

export const notFound = (message = 'resource not found', extra?: HubSpotError['extra']) =>
  new HubSpotError(404, 'OBJECT_NOT_FOUND', message, extra);

export const conflict = (message: string, extra?: HubSpotError['extra']) =>
  new HubSpotError(409, 'CONFLICT', message, extra);

/**
 * One invalid property value, in the shape HubSpot serialises inside "Property values were not valid: [...]".
 * The JSON-in-a-string message is HubSpot's own (clients log it verbatim), so we reproduce it rather than tidy it.
 */
export type PropertyProblem = { name: string; message: string; error: string };

export function propertyValuesInvalid(problems: PropertyProblem[], portalId: number): HubSpotError {
  const inner = problems.map((p) => ({
    isValid: false,
    message: p.message,
    error: p.error,
    name: p.name,
    localizedErrorMessage: p.message,
    portalId,
  }));
  return validationError(`Property values were not valid: ${JSON.stringify(inner)}`, {
    errors: problems.map((p) => ({ message: p.message, code: p.error, context: { propertyName: [p.name] } })),
    context: { propertyName: problems.map((p) => p.name) },
  });
}

/** Burst 429 body: the client retries only when policyName is exactly TEN_SECONDLY_ROLLING. */
export function tenSecondlyBody(appId: number, portalId: number): Record<string, unknown> {
  return {
    status: 'error',
    message: 'You have reached your ten_secondly_rolling limit.',
    errorType: 'RATE_LIMIT',
    correlationId: randomUUID(),
    policyName: 'TEN_SECONDLY_ROLLING',
    groupName: `publicapi:private_app-api-calls-ten-secondly:${appId}:${portalId}`,
    requestId: randomUUID(),
  };
}

/** Search 429 body: the client retries on this exact message; the policy name is unconfirmed (facts §1). */
export function secondlyBody(): Record<string, unknown> {
  return {
    status: 'error',
    message: 'You have reached your secondly limit.',
    errorType: 'RATE_LIMIT',
    correlationId: randomUUID(),
    policyName: 'SECONDLY',
    requestId: randomUUID(),
  };
}

/** Daily 429 body, the documented example; the client does not retry it. */
export function dailyBody(): Record<string, unknown> {
  return {
    status: 'error',
    message: 'You have reached your daily limit.',
    errorType: 'RATE_LIMIT',
    correlationId: randomUUID(),
    policyName: 'DAILY',
    requestId: randomUUID(),
  };
}
