// How fast the web UI opens, in Debian's Chromium (headless), against a running appliance:
//
//   OFFHOOK_URL=http://127.0.0.1:PORT OFFHOOK_USER=alice OFFHOOK_PASSWORD=... RUNS=10 \
//     node tests/browser/load-bench.mjs
//
// Each run opens a fresh browser context (nothing cached), loads `/`, and times: the page's
// DOMContentLoaded and load events (Navigation Timing), then from clicking "Sign in" to the
// contact list shown (the session, the WebSocket's greeting and the contacts' first render). It
// prints the median and the slowest of RUNS, and the bytes the page fetched.

import { chromium } from 'playwright-core';

const url = process.env.OFFHOOK_URL;
const user = process.env.OFFHOOK_USER || 'alice';
const password = process.env.OFFHOOK_PASSWORD;
const runs = Number(process.env.RUNS || 10);
if (!url || !password) {
  console.error('set OFFHOOK_URL and OFFHOOK_PASSWORD (and OFFHOOK_USER, RUNS)');
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const max = (v) => Math.max(...v);
const dcl = []; const load = []; const signIn = []; let bytes = 0;
try {
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    let fetched = 0;
    page.on('response', async (r) => { try { fetched += (await r.body()).length; } catch { /* a WebSocket */ } });
    await page.goto(url, { waitUntil: 'load' });
    const t = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0];
      return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd };
    });
    dcl.push(t.dcl); load.push(t.load);
    await page.locator('#signin').getByLabel('User name').fill(user);
    await page.locator('#signin').getByLabel('Password').fill(password);
    const started = Date.now();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#contacts li').first().waitFor();
    signIn.push(Date.now() - started);
    bytes = fetched;
    await context.close();
  }
  const f = (v) => `median ${median(v).toFixed(0)} ms, slowest ${max(v).toFixed(0)} ms`;
  console.log(`web UI, ${runs} cold loads of ${url}/`);
  console.log(`  DOMContentLoaded  ${f(dcl)}`);
  console.log(`  load              ${f(load)}`);
  console.log(`  sign-in → contacts shown  ${f(signIn)}`);
  console.log(`  fetched           ${bytes} bytes (page, styles, scripts, session, contacts…)`);
  await browser.close();
} catch (e) {
  console.error(`failed: ${e.stack || e}`);
  await browser.close();
  process.exit(1);
}
