// Offhook's web UI as people use it, in Debian's Chromium (headless), driven by playwright-core.
//
//   OFFHOOK_URL=http://127.0.0.1:PORT SPEECH=speech.wav ARTIFACTS=dir ATTACHMENT=file \
//     node tests/browser/messaging.mjs
//
// alice and bob sign in (two browser contexts); alice sees bob online, records a message from
// the fake microphone (the speech file), reviews it, attaches a file and sends it; bob's page
// shows it arrive and plays it to its end. Then intercom: alice speaks live to bob, and bob's page
// plays the audio while alice is still talking. Then the admin console: alice (an admin) adds a
// user with a phone line, and a display name that is markup shows as text; she edits that user's
// display name (a bad one is refused next to its field) and contact list, and gives bob a phone
// line, which is up at once; she sets message retention from the console. bob rings his phone to record from his page and follows it: ringing,
// recording, sent. The gateway is `offhook gateway-sim`, driven by the Rust test that runs this
// script: it acts on the line when this script prints `- bob's phone rings: pick it up`. Screenshots of
// the main pages go to ARTIFACTS. Exits non-zero with the reason on the first failure.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const url = process.env.OFFHOOK_URL;
const speech = process.env.SPEECH;
const artifacts = process.env.ARTIFACTS;
const attachment = process.env.ATTACHMENT;
const password = process.env.OFFHOOK_PASSWORD;
if (!url || !speech || !artifacts || !attachment || !password) {
  console.error('set OFFHOOK_URL, SPEECH, ARTIFACTS, ATTACHMENT and OFFHOOK_PASSWORD');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${speech}`,
    '--autoplay-policy=no-user-gesture-required',
  ],
});

const step = (what) => console.log(`- ${what}`);
const shot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

async function signIn(name) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.on('dialog', (d) => {
    // Only the delete confirmation is expected; an alert means markup ran as script.
    if (d.type() === 'alert') {
      console.error(`an alert was shown: ${d.message()}`);
      process.exit(1);
    }
    d.accept();
  });
  page.on('pageerror', (e) => console.error(`[${name}] page error: ${e.message}`));
  await page.goto(url);
  await page.locator('#signin').getByLabel('User name').fill(name);
  await page.locator('#signin').getByLabel('Password').fill(password);
  if (name === 'alice') await shot(page, 'sign-in');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(`Signed in as`).waitFor();
  return page;
}

try {
  step('bob and alice sign in');
  const bob = await signIn('bob');
  const alice = await signIn('alice');

  step('alice sees bob online');
  await alice.locator('#contacts li[data-username="bob"][data-online="true"]').waitFor();

  step('alice records a message from the microphone, reviews it, attaches a file, sends');
  await alice.getByLabel('bob', { exact: true }).check();
  // bob is online, so intercom is on by default; this one is a recorded message.
  if (!(await alice.locator('#intercom').isChecked())) throw new Error('intercom is not on by default for an online recipient');
  await alice.locator('#intercom').uncheck();
  await alice.locator('#silence').selectOption('0');
  await alice.getByRole('button', { name: 'Record', exact: true }).click();
  await alice.locator('#elapsed', { hasText: '0:03' }).waitFor({ timeout: 15000 });
  const level = await alice.locator('#level').evaluate((m) => m.value);
  await alice.getByRole('button', { name: 'Stop' }).click();
  await alice.locator('#review').waitFor();
  const review = await alice.locator('#review-audio').evaluate(async (a) => {
    await new Promise((r) => (a.readyState >= 1 ? r() : a.addEventListener('loadedmetadata', r, { once: true })));
    return a.duration;
  });
  if (!(review > 2.5 && review < 6)) throw new Error(`the review plays ${review} s, not about 3 s`);
  console.log(`  recorded ${review.toFixed(2)} s, level while speaking ${level}`);
  await alice.locator('#files').setInputFiles(attachment);
  await alice.locator('#attached li').waitFor();
  await shot(alice, 'compose');
  await alice.getByRole('button', { name: 'Send' }).click();
  await alice.locator('#send-state', { hasText: 'Sent.' }).waitFor();

  step("bob's page shows it arrive, and plays it to its end");
  const item = bob.locator('#inbox li[data-from="alice"]').first();
  await item.waitFor({ timeout: 30000 });
  await bob.locator('#unread', { hasText: '1 new' }).waitFor();
  await item.getByRole('link', { name: attachment.split('/').pop() }).waitFor();
  // Its waveform is drawn before it is played (and fetching it does not mark it played).
  await item.locator('canvas[data-drawn="true"]').waitFor();
  const loudest = await item.locator('canvas').evaluate((c) => Math.max(...c.peaks));
  if (!(loudest > 0.2)) throw new Error(`a flat waveform: ${loudest}`);
  if (!(await item.locator('.meta', { hasText: 'not played' }).count())) throw new Error('the waveform marked it played');
  await shot(bob, 'inbox');
  await item.getByRole('button', { name: 'Play' }).click();
  await bob.locator('#inbox li[data-from="alice"][data-played="true"]').waitFor({ timeout: 30000 });
  await shot(bob, 'played');

  step('intercom: alice speaks live to bob; bob hears it while she is still talking');
  await alice.locator('#intercom').check();
  await alice.getByRole('button', { name: 'Record', exact: true }).click();
  await alice.locator('#record-state', { hasText: 'Speaking live' }).waitFor();
  await bob.waitForFunction(() => Number(document.body.dataset.liveMs || 0) >= 1000, null, { timeout: 15000 });
  const stillTalking = await alice.locator('#record-state').textContent();
  if (!stillTalking.includes('Speaking live')) throw new Error(`alice stopped before bob heard: ${stillTalking}`);
  await shot(bob, 'live');
  await alice.getByRole('button', { name: 'Stop' }).click();
  await bob.locator('#live-state', { hasText: 'spoke live' }).waitFor({ timeout: 15000 });
  await alice.locator('#record-state', { hasText: 'Sent live' }).waitFor({ timeout: 15000 });

  step('admin: alice adds a user with a phone line; markup in a name shows as text');
  await alice.goto(`${url}/#admin`);
  await alice.locator('#users tr[data-username="bob"]').waitFor();
  await alice.locator('#subsystems tr[data-part="database"] td', { hasText: 'ok' }).waitFor();
  await alice.locator('#log li', { hasText: 'offhook serving' }).waitFor();
  await alice.locator('#new-username').fill('dave');
  await alice.locator('#new-display').fill('<script>alert(1)</script>');
  await alice.locator('#new-password').fill('dave-password');
  // A line on a gateway that is not configured is refused by its field.
  await alice.locator('#new-line').fill('gw9/aaln/1');
  await alice.getByRole('button', { name: 'Add user' }).click();
  await alice.locator('#err-line', { hasText: 'no gateway named "gw9"' }).waitFor();
  await alice.locator('#new-line').fill('gw1/aaln/2');
  await alice.getByRole('button', { name: 'Add user' }).click();
  const row = alice.locator('#users tr[data-username="dave"]');
  await row.waitFor();
  const cells = await row.locator('td').allTextContents();
  if (cells[1] !== '<script>alert(1)</script>' || cells[2] !== 'gw1/aaln/2') throw new Error(`dave's row: ${JSON.stringify(cells)}`);
  // His phone is up at once, with no restart.
  await alice.locator('#stations tr[data-line="gw1/aaln/2"][data-user="dave"] td.up', { hasText: 'idle' }).waitFor({ timeout: 15000 });
  // A name that is taken is refused by the server, and the error is shown by the field.
  await alice.locator('#new-username').fill('bob');
  await alice.locator('#new-password').fill('x');
  await alice.getByRole('button', { name: 'Add user' }).click();
  await alice.locator('#err-username', { hasText: 'already exists' }).waitFor();
  await shot(alice, 'admin');

  step('admin: alice edits dave (display name, contacts); a bad name is refused by the field');
  await alice.getByRole('button', { name: 'Edit dave' }).click();
  await alice.locator('#edit-display').fill('Dave\u0007');
  await alice.getByRole('button', { name: 'Save', exact: true }).click();
  await alice.locator('#err-edit-display', { hasText: 'control character' }).waitFor();
  await alice.locator('#edit-display').fill('Dave D.');
  await alice.locator('#edit-contact-list input[data-contact="bob"]').check();
  await alice.getByRole('button', { name: 'Save', exact: true }).click();
  await alice.locator('#admin-status', { hasText: 'Saved dave' }).waitFor();
  await alice.locator('#users tr[data-username="dave"] td', { hasText: 'Dave D.' }).waitFor();
  const daveContacts = await alice.evaluate(async () =>
    (await fetch('/api/v1/users/dave/contacts', { credentials: 'same-origin' })).json());
  if (daveContacts.explicit !== true || JSON.stringify(daveContacts.contacts) !== '["bob"]') {
    throw new Error(`dave's contacts: ${JSON.stringify(daveContacts)}`);
  }
  await alice.getByRole('button', { name: 'Edit dave' }).click();
  await alice.locator('#edit-contact-list input[data-contact="bob"]:checked').waitFor();
  // The live log shows the change within its polling period.
  await alice.locator('#log li', { hasText: 'user changed' }).waitFor({ timeout: 10000 });
  await shot(alice, 'admin-edit');
  await alice.getByRole('button', { name: 'Cancel' }).click();

  step("admin: alice gives bob a phone line (dave's is refused by the field), up at once");
  await alice.getByRole('button', { name: 'Edit bob' }).click();
  await alice.locator('#edit-stations').fill('gw1/aaln/2');
  await alice.getByRole('button', { name: 'Save', exact: true }).click();
  await alice.locator('#err-edit-stations', { hasText: 'belongs to another user' }).waitFor();
  await alice.locator('#edit-stations').fill('gw1/aaln/1');
  await alice.getByRole('button', { name: 'Save', exact: true }).click();
  await alice.locator('#admin-status', { hasText: 'Saved bob' }).waitFor();
  await alice.locator('#users tr[data-username="bob"] td', { hasText: 'gw1/aaln/1' }).waitFor();
  await alice.locator('#stations tr[data-line="gw1/aaln/1"][data-user="bob"] td.up', { hasText: 'idle' }).waitFor({ timeout: 15000 });
  await alice.locator('#log li', { hasText: 'phone lines set' }).waitFor({ timeout: 10000 });
  await shot(alice, 'admin-phones');

  step('admin: alice keeps message audio 7 days (a bad value is refused by its field)');
  await alice.locator('#set-retention').fill('forever');
  await alice.getByRole('button', { name: 'Save settings' }).click();
  await alice.locator('#err-set-retention', { hasText: 'expected' }).waitFor();
  await alice.locator('#set-retention').fill('7d');
  await alice.getByRole('button', { name: 'Save settings' }).click();
  await alice.locator('#settings-status', { hasText: 'Settings saved' }).waitFor();
  await alice.locator('#hint-set-retention', { hasText: 'the config file says 30d' }).waitFor();
  await alice.locator('#network td', { hasText: 'mgcp.listen' }).waitFor();
  await alice.locator('#tls-info', { hasText: 'HTTPS is off' }).waitFor();
  await alice.locator('#settings-form').screenshot({ path: join(artifacts, 'admin-settings.png') });

  step('bob rings his phone');
  // His page learns he has a phone when it connects.
  await bob.goto(url);
  await bob.locator('#phone:not([hidden])').waitFor();
  await bob.getByLabel('alice', { exact: true }).check();
  await bob.getByRole('button', { name: 'Ring my phone to record' }).click();
  await bob.locator('#ring-state', { hasText: 'Ringing your phone' }).waitFor();
  // The Rust test picks the phone up, speaks and hangs up once it reads this line.
  step("bob's phone rings: pick it up");
  await bob.locator('#ring-state', { hasText: 'Recording from your phone' }).waitFor({ timeout: 30000 });
  await shot(bob, 'ring-recording');
  // The admin console shows his line recording while he speaks.
  await alice.locator('#stations tr[data-line="gw1/aaln/1"] td', { hasText: 'recording' }).waitFor({ timeout: 10000 });
  await bob.locator('#ring-state', { hasText: 'Sent from your phone' }).waitFor({ timeout: 30000 });

  step('bob changes his own password on his Account page; a wrong current one is refused by the field');
  await bob.goto(`${url}/#account`);
  await bob.locator('#account-display').fill('Bob B.');
  await bob.locator('#account-current').fill('not it');
  await bob.locator('#account-password').fill('bob-new-password');
  await bob.locator('#account-repeat').fill('bob-new-password');
  await bob.getByRole('button', { name: 'Save' }).click();
  await bob.locator('#err-account-current_password', { hasText: 'wrong' }).waitFor();
  await bob.locator('#account-current').fill(password);
  await bob.locator('#account-password').fill('bob-new-password');
  await bob.locator('#account-repeat').fill('bob-new-password');
  await bob.getByRole('button', { name: 'Save' }).click();
  await bob.locator('#account-status', { hasText: 'password is changed' }).waitFor();
  await bob.locator('#who-name', { hasText: 'Bob B.' }).waitFor();
  // (Without credentials: the page's own session cookie stays.)
  const relogin = await bob.evaluate(async (pw) => (await fetch('/api/v1/session', {
    method: 'POST', credentials: 'omit', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'bob', password: pw }),
  })).status, 'bob-new-password');
  if (relogin !== 200) throw new Error(`bob's new password: ${relogin}`);
  await shot(bob, 'account');
  // And back, through the page again (the checks after this scenario sign bob in).
  await bob.locator('#account-current').fill('bob-new-password');
  await bob.locator('#account-password').fill(password);
  await bob.locator('#account-repeat').fill(password);
  await bob.getByRole('button', { name: 'Save' }).click();
  await bob.locator('#account-status', { hasText: 'password is changed' }).waitFor();
  console.log('ok');
  await browser.close();
} catch (e) {
  console.error(`failed: ${e.stack || e}`);
  await browser.close();
  process.exit(1);
}
