import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseChromium } from './browser';

// Which browser the local-page test drives: found by name on the PATH, never at a fixed system path.
describe('chooseChromium', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sk-browser-choice-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prefers CHROMIUM_PATH, and refuses one that does not exist', async () => {
    const file = path.join(dir, 'my-chrome');
    writeFileSync(file, '#!/bin/sh\n');
    chmodSync(file, 0o755);
    expect(await chooseChromium({ CHROMIUM_PATH: file, PATH: '' })).toMatchObject({
      executablePath: file,
      source: 'CHROMIUM_PATH',
    });
    await expect(chooseChromium({ CHROMIUM_PATH: path.join(dir, 'nope'), PATH: '' })).rejects.toThrow(
      /CHROMIUM_PATH/,
    );
  });

  it('takes an executable chromium from the PATH, skipping a file that is not executable', async () => {
    const bin = mkdtempSync(path.join(dir, 'bin-'));
    const plain = mkdtempSync(path.join(dir, 'plain-'));
    writeFileSync(path.join(plain, 'chromium'), 'not a program');
    writeFileSync(path.join(bin, 'chromium-browser'), '#!/bin/sh\n');
    chmodSync(path.join(bin, 'chromium-browser'), 0o755);
    const choice = await chooseChromium({ PATH: [plain, bin].join(path.delimiter) });
    expect(choice).toMatchObject({ executablePath: path.join(bin, 'chromium-browser'), source: 'system' });
  });
});
