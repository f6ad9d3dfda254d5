// Headless Debian Chromium driven by playwright-core (which never downloads a browser).
import { chromium } from 'playwright-core';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-dev-shm-usage',
];

/** Launches a fresh browser profile; resolves to `{ context, close }`. */
export async function launch() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'worker-bridge-e2e-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ARGS,
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Opens `url` and collects page errors, unhandled rejections and console errors, which fail a
 * test. `init` runs in the page before any of its scripts.
 */
export async function open(context, url, { init } = {}) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
  });
  await page.addInitScript(() => {
    addEventListener('unhandledrejection', (e) => console.error(`unhandled rejection: ${e.reason}`));
  });
  if (init) await page.addInitScript(init);
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
  return { page, problems };
}
