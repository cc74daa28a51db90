import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, portalLogger } from './log';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, log: createLogger('debug', stream) };
}

describe('log', () => {
  it('redacts property values, snapshots and names passed by mistake, keeping ids', () => {
    const { lines, log } = capture();
    portalLogger(log, '123', { dealId: '9' }).info(
      {
        event: { propertyValue: 'Jane Doe', propertyName: 'dealname' },
        snapshot: { properties: { dealname: 'Jane Doe' } },
        deal: { properties: { x: 'y' } },
      },
      'oops',
    );
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain('Jane Doe');
    log.warn({ err: { name: 'HubSpotError', message: 'x' }, firstname: 'Jane' }, 'failed');
    expect(lines[1]).toMatchObject({ err: { name: 'HubSpotError' }, firstname: '[redacted]' });
    expect(lines[0]).toMatchObject({
      portalId: '123',
      dealId: '9',
      event: { propertyName: 'dealname', propertyValue: '[redacted]' },
    });
  });
});
