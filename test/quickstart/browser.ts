import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/**
 * Browsers looked up on the PATH, in the order they are preferred over the one shipped in the npm package. By name,
 * not by a fixed system path: a machine may have none, and the test must not lean on one.
 */
const SYSTEM_CHROMIUMS = ['chromium', 'chromium-browser', 'google-chrome'];

/** The first executable file called `name` in the PATH's folders, as a shell would find it. */
function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here; the next folder
    }
  }
  return undefined;
}

export type ChromiumChoice = {
  executablePath: string;
  /** Where it came from, for the test's log line. */
  source: 'CHROMIUM_PATH' | 'system' | '@sparticuz/chromium';
  /** Extra environment the browser process needs (shared libraries and fonts of the packaged build). */
  env: Record<string, string>;
};

/**
 * Picks the browser: `CHROMIUM_PATH` when set (an error if it does not exist), else a system Chromium, else the
 * headless Chromium that ships inside the `@sparticuz/chromium` npm package — so `npm install && npm test` needs
 * no browser download (which cannot work here) and no system package.
 */
export async function chooseChromium(env: NodeJS.ProcessEnv = process.env): Promise<ChromiumChoice> {
  const explicit = env.CHROMIUM_PATH?.trim();
  if (explicit) {
    if (!existsSync(explicit))
      throw new Error(`CHROMIUM_PATH=${explicit} does not exist: point it at a Chromium or unset it`);
    return { executablePath: explicit, source: 'CHROMIUM_PATH', env: {} };
  }
  for (const name of SYSTEM_CHROMIUMS) {
    const system = onPath(name, env);
    if (system) return { executablePath: system, source: 'system', env: {} };
  }
  return packagedChromium();
}

/**
 * Unpacks `@sparticuz/chromium` (brotli archives) into a per-version folder under the temp dir, once. Besides the
 * browser it unpacks the package's own NSS/NSPR/expat libraries and Open Sans font: a fresh Debian (e.g. the slim
 * image) has neither libnss3 nor fontconfig fonts, and the package's build runs with these on glibc >= 2.34.
 */
async function packagedChromium(): Promise<ChromiumChoice> {
  const require = createRequire(import.meta.url);
  const pkgDir = path.dirname(path.dirname(require.resolve('@sparticuz/chromium')));
  const version = (JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string })
    .version;
  const dir = path.join(tmpdir(), `sk-sparticuz-chromium-${version}`);
  const done = path.join(dir, '.unpacked');
  if (!existsSync(done)) {
    // A half-unpacked folder (interrupted run) is thrown away: the package's inflate() trusts any existing file.
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const { inflate } = await import('@sparticuz/chromium');
    // inflate() writes under os.tmpdir(), which reads TMPDIR at each call: point it at our folder meanwhile.
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dir;
    try {
      await Promise.all(
        ['chromium.br', 'fonts.tar.br', 'swiftshader.tar.br', 'al2023.tar.br'].map((f) =>
          inflate(path.join(pkgDir, 'bin', f)),
        ),
      );
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    writeFileSync(done, `${version}\n`);
  }
  const libs = path.join(dir, 'al2023', 'lib');
  return {
    executablePath: path.join(dir, 'chromium'),
    source: '@sparticuz/chromium',
    env: {
      LD_LIBRARY_PATH: [libs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
      // The machine's fontconfig when it has one; else the package's (a font to draw the page's text with).
      ...(existsSync('/etc/fonts/fonts.conf') ? {} : { FONTCONFIG_PATH: path.join(dir, 'fonts') }),
    },
  };
}

/**
 * Headless Chromium driven by playwright-core. A fresh profile per run and every background service off, so the
 * machine's missing internet access cannot slow or break a test.
 */
export async function launchChromium(
  viewport = { width: 1280, height: 900 },
): Promise<{ context: BrowserContext; choice: ChromiumChoice; close(): Promise<void> }> {
  const choice = await chooseChromium();
  const profile = mkdtempSync(path.join(tmpdir(), 'sk-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: choice.executablePath,
    env: { ...process.env, ...choice.env },
    headless: true,
    viewport,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    choice,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
