// The admin console of Offhook's web client: the appliance's health, its live log, and the
// users (add, edit, delete, contact lists, phone lines), the settings that change while it runs
// (retention, quota, the LAN's address and DHCP server) and, to read, its network settings and HTTPS certificate; backup
// (a download) and restore (staged for the next start). Every form shows the server's error by its field.

import { $, el, api, session, upload } from './common.js';

let healthTimer = null;

// The last log line shown.
let logAfter = 0;
let logTimer = null;
const LOG_SHOWN = 500;

export async function loadAdmin() {
  await loadUsers();
  await Promise.all([loadHealth(), loadLog(), loadSettings()]);
  // Gateways and phones go up and down: kept current while the console is shown.
  clearInterval(healthTimer);
  healthTimer = setInterval(() => {
    if ($('admin').hidden) { clearInterval(healthTimer); return; }
    loadHealth().catch(() => {});
  }, 2000);
  clearInterval(logTimer);
  logTimer = setInterval(() => {
    if ($('admin').hidden) { clearInterval(logTimer); return; }
    loadLog().catch(() => {});
  }, 2000);
}

async function loadLog() {
  const page = await api('GET', `/api/v1/log?after=${logAfter}`);
  const list = $('log');
  const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  if (page.missed) list.append(el('li', { class: 'WARN' }, `… ${page.missed} line(s) no longer kept`));
  for (const l of page.lines) {
    const time = new Date(l.time_ms).toLocaleTimeString();
    list.append(el('li', { class: l.level, 'data-seq': String(l.seq) }, `${time} ${l.level} ${l.target}: ${l.message}`));
  }
  while (list.children.length > LOG_SHOWN) list.firstElementChild.remove();
  logAfter = page.next;
  // Follow the end unless the reader scrolled up to read.
  if (atEnd) list.scrollTop = list.scrollHeight;
}

async function loadHealth() {
  const h = await api('GET', '/api/v1/health');
  const parts = $('subsystems').tBodies[0];
  parts.replaceChildren();
  for (const p of h.subsystems || []) {
    parts.append(el('tr', { 'data-part': p.name },
      el('td', {}, p.name), el('td', { class: p.state === 'ok' ? 'up' : 'down' }, p.state), el('td', {}, p.detail)));
  }
  const gw = $('gateways').tBodies[0];
  gw.replaceChildren();
  for (const g of h.gateways || []) {
    gw.append(el('tr', { 'data-gateway': g.name },
      el('td', {}, g.name), el('td', {}, g.protocol), el('td', { class: g.up ? 'up' : 'down' }, g.up ? 'up' : 'down')));
  }
  const st = $('stations').tBodies[0];
  st.replaceChildren();
  // Each line: whose it is and what it does now (idle, ringing, recording…; "gateway down").
  const byId = new Map(users.map((u) => [u.id, u]));
  for (const l of h.lines || []) {
    const u = byId.get(l.user);
    const name = u ? u.username : (l.user === session.id ? session.username : l.user);
    st.append(el('tr', { 'data-line': l.line, 'data-user': name },
      el('td', {}, l.line), el('td', {}, name),
      el('td', { class: l.state === 'gateway down' ? 'down' : 'up' }, l.state),
      el('td', {}, l.waiting ? String(l.waiting) : '')));
  }
}

// The users as last loaded (for the phones' owners' names).
let users = [];

async function loadUsers() {
  const list = await api('GET', '/api/v1/users');
  users = list;
  const body = $('users').tBodies[0];
  body.replaceChildren();
  for (const u of list) {
    const remove = el('button', { type: 'button', 'aria-label': `Delete ${u.username}` }, 'Delete');
    remove.addEventListener('click', async () => {
      if (!confirm(`Delete ${u.username}? Their messages to others stay with the recipients.`)) return;
      try { await api('DELETE', `/api/v1/users/${encodeURIComponent(u.username)}`); loadUsers(); } catch (e) { $('err-form').textContent = e.message; }
    });
    const edit = el('button', { type: 'button', 'aria-label': `Edit ${u.username}` }, 'Edit');
    edit.addEventListener('click', () => editUser(u, list).catch((e) => { $('err-form').textContent = e.message; }));
    body.append(el('tr', { 'data-username': u.username },
      el('td', {}, u.username), el('td', {}, u.display), el('td', {}, (u.stations || []).join(', ')),
      el('td', {}, u.admin ? 'yes' : ''), el('td', {}, edit, ' ', u.id === session.id ? '' : remove)));
  }
}

// The user being edited, and their contact list as loaded.
let editing = null;

const EDIT_ERRORS = ['err-edit-display', 'err-edit-password', 'err-edit-admin', 'err-edit-contacts', 'err-edit-stations', 'err-edit-form'];

// The phone lines typed in the edit form: one per line, or separated by commas.
function typedLines() {
  return $('edit-stations').value.split(/[\n,]/).map((l) => l.trim()).filter((l) => l);
}

async function editUser(u, everyone) {
  const list = await api('GET', `/api/v1/users/${encodeURIComponent(u.username)}/contacts`);
  editing = { user: u, contacts: list };
  for (const id of EDIT_ERRORS) $(id).textContent = '';
  $('edit-title').textContent = `Edit ${u.username}`;
  $('edit-display').value = u.display;
  $('edit-password').value = '';
  $('edit-admin').checked = u.admin;
  $('edit-stations').value = (u.stations || []).join('\n');
  $('edit-everyone').checked = !list.explicit;
  const chosen = new Set(list.contacts);
  const ul = $('edit-contact-list');
  ul.replaceChildren();
  for (const other of everyone) {
    if (other.id === u.id) continue;
    const box = el('input', { type: 'checkbox', value: other.username, 'data-contact': other.username });
    box.checked = list.explicit && chosen.has(other.username);
    box.addEventListener('change', () => { if (box.checked) $('edit-everyone').checked = false; });
    ul.append(el('li', {}, el('label', { class: 'inline' }, box, ` ${other.display} (${other.username})`)));
  }
  $('edit-form').hidden = false;
  $('edit-display').focus();
}

$('edit-everyone').addEventListener('change', () => {
  if ($('edit-everyone').checked) {
    for (const box of $('edit-contact-list').querySelectorAll('input')) box.checked = false;
  }
});

$('edit-cancel').addEventListener('click', () => { $('edit-form').hidden = true; editing = null; });

$('edit-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (!editing) return;
  for (const id of [...EDIT_ERRORS, 'admin-status']) $(id).textContent = '';
  const u = editing.user;
  const path = `/api/v1/users/${encodeURIComponent(u.username)}`;
  // Only what changed is sent: the server checks each field and names the one at fault.
  const change = {};
  if ($('edit-display').value !== u.display) change.display = $('edit-display').value;
  if ($('edit-password').value) change.password = $('edit-password').value;
  if ($('edit-admin').checked !== u.admin) change.admin = $('edit-admin').checked;
  const picked = $('edit-everyone').checked ? []
    : [...$('edit-contact-list').querySelectorAll('input:checked')].map((b) => b.value);
  const before = editing.contacts.explicit ? editing.contacts.contacts : [];
  const contactsChanged = picked.length !== before.length || picked.some((n) => !before.includes(n));
  const lines = typedLines();
  const hadLines = u.stations || [];
  const linesChanged = lines.length !== hadLines.length || lines.some((l, i) => l !== hadLines[i]);
  try {
    if (Object.keys(change).length) await api('PATCH', path, change);
    if (contactsChanged) await api('PUT', `${path}/contacts`, { contacts: picked });
    if (linesChanged) await api('PUT', `${path}/stations`, { stations: lines });
    $('edit-form').hidden = true;
    editing = null;
    $('admin-status').textContent = `Saved ${u.username}.`;
    await loadUsers();
    loadHealth().catch(() => {});
  } catch (e) {
    const field = e.body && e.body.field;
    ($(`err-edit-${field}`) || $('err-edit-form')).textContent = e.message;
  }
});

$('user-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  for (const id of ['err-username', 'err-display', 'err-password', 'err-line', 'err-form', 'admin-status']) $(id).textContent = '';
  const body = {
    username: $('new-username').value.trim(),
    password: $('new-password').value,
    admin: $('new-admin').checked,
  };
  if ($('new-display').value.trim()) body.display = $('new-display').value.trim();
  if ($('new-line').value.trim()) body.line = $('new-line').value.trim();
  try {
    await api('POST', '/api/v1/users', body);
    ev.target.reset();
    $('admin-status').textContent = `Added ${body.username}.`;
    await loadUsers();
    loadHealth().catch(() => {});
  } catch (e) {
    // The server names the field at fault (`field`); the message goes next to it.
    const field = e.body && e.body.field;
    ($(`err-${field}`) || $('err-form')).textContent = e.message;
  }
});

// ---------------------------------------------------------------------------------------------
// Settings: each field by its key, with the config file's value and where the value comes from.

const SETTINGS = {
  'messages.retention': 'retention', 'messages.quota_per_user': 'quota',
  'lan.address': 'lan-address', 'lan.gateway': 'lan-gateway',
  'dhcp.server': 'dhcp-server', 'dhcp.pool': 'dhcp-pool',
};
let settingsShown = [];

function showSettings(body) {
  settingsShown = body.settings;
  for (const s of body.settings) {
    const id = SETTINGS[s.key];
    if (!id) continue;
    $(`set-${id}`).value = s.value;
    $(`hint-set-${id}`).textContent = s.source === 'console'
      ? `Set here (the config file says ${s.file || 'nothing'}).` : 'From the config file.';
  }
  const net = $('network').tBodies[0];
  net.replaceChildren();
  for (const n of body.network) net.append(el('tr', {}, el('td', {}, el('code', {}, n.key)), el('td', {}, n.value)));
}

async function loadSettings() {
  showSettings(await api('GET', '/api/v1/settings'));
  const tls = await api('GET', '/api/v1/tls');
  $('tls-info').textContent = tls.enabled
    ? `HTTPS certificate${tls.self_signed ? ' (self-signed)' : ''}, SHA-256 fingerprint ${tls.fingerprint_sha256}${tls.not_after ? `, valid until ${tls.not_after}` : ''}.`
    : 'HTTPS is off: [http] tls in the config file turns it on.';
}

async function saveSettings(change) {
  for (const id of [...Object.values(SETTINGS).map((k) => `err-set-${k}`), 'err-set-form', 'settings-status']) $(id).textContent = '';
  try {
    showSettings(await api('PATCH', '/api/v1/settings', change));
    $('settings-status').textContent = 'Settings saved.';
  } catch (e) {
    const id = e.body && SETTINGS[e.body.field];
    $(id ? `err-set-${id}` : 'err-set-form').textContent = e.message;
  }
}

$('settings-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  // Only what changed is sent.
  const change = {};
  for (const s of settingsShown) {
    const id = SETTINGS[s.key];
    if (id && $(`set-${id}`).value.trim() !== s.value) change[s.key] = $(`set-${id}`).value.trim();
  }
  saveSettings(change);
});

$('settings-reset').addEventListener('click', () => {
  const change = {};
  for (const s of settingsShown) if (s.source === 'console') change[s.key] = null;
  saveSettings(change);
});

// --- Backup and restore ------------------------------------------------------------------------

$('backup-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const pass = $('backup-passphrase').value;
  $('err-backup-passphrase').textContent = '';
  $('backup-status').textContent = '';
  if (pass.length < 8) { $('err-backup-passphrase').textContent = 'At least 8 characters.'; return; }
  if (pass !== $('backup-again').value) { $('err-backup-passphrase').textContent = 'The two passphrases differ.'; return; }
  $('backup-status').textContent = 'Taking the backup…';
  try {
    const headers = { 'content-type': 'application/json' };
    if (session.csrf) headers['x-csrf-token'] = session.csrf;
    const r = await fetch('/api/v1/admin/backup', { method: 'POST', headers, body: JSON.stringify({ passphrase: pass }), credentials: 'same-origin' });
    if (!r.ok) {
      const body = await r.json().catch(() => null);
      throw new Error((body && body.error) || `HTTP ${r.status}`);
    }
    const name = (/filename="([^"]+)"/.exec(r.headers.get('content-disposition') || '') || [])[1] || 'offhook.ohb';
    const blob = await r.blob();
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    $('backup-status').textContent = `Backup ${name} downloaded (${blob.size} bytes).`;
    $('backup-passphrase').value = '';
    $('backup-again').value = '';
  } catch (e) {
    $('backup-status').textContent = '';
    $('err-backup-passphrase').textContent = `The backup failed: ${e.message}`;
  }
});

$('restore-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('err-restore-file').textContent = '';
  $('restore-status').textContent = '';
  const file = $('restore-file').files[0];
  if (!file) { $('err-restore-file').textContent = 'Choose a backup file.'; return; }
  const form = new FormData();
  form.append('passphrase', $('restore-passphrase').value);
  form.append('file', file);
  try {
    const r = await upload('/api/v1/admin/restore', form, (f) => {
      $('restore-status').textContent = f < 1 ? `Uploading… ${Math.round(f * 100)} %` : 'Checking the backup…';
    });
    $('restore-status').textContent = `The backup checks out (${r.users} users, ${r.messages} messages). Restart the appliance to switch to it (front panel: restart services).`;
    $('restore-passphrase').value = '';
  } catch (e) {
    $('restore-status').textContent = '';
    $('err-restore-file').textContent = e.message;
  }
});
