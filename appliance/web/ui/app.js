// Offhook's web client: sign-in, the messaging client and the account page; the admin console
// is `admin.js`, what they share `common.js`.
//
// No framework and no build step. Every text that comes from the server is put on the page with
// `textContent` or as an attribute value, never parsed as HTML, so a display name such as
// `<script>` shows as text. Requests go to the same origin with the session cookie; state-changing
// ones carry the session's CSRF token in `X-CSRF-Token`.

import { $, el, session, api, upload, banner } from './common.js';
import { loadAdmin } from './admin.js';

// ---------------------------------------------------------------------------------------------
// Signing in and out

async function whoAmI() {
  try {
    Object.assign(session, await api('GET', '/api/v1/session'));
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    throw e;
  }
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const error = $('signin-error');
  error.textContent = '';
  unlockAudio();
  try {
    const r = await api('POST', '/api/v1/session', {
      username: $('signin-user').value.trim(),
      password: $('signin-password').value,
    });
    session.csrf = r.csrf || null;
    $('signin-password').value = '';
    await whoAmI();
    start();
  } catch (e) {
    error.textContent =
      e.status === 401 ? 'Wrong user name or password.'
        : e.status === 429 ? `Too many tries. Try again in ${e.retryAfter || 'a few'} seconds.`
          : e.message;
  }
});

$('signout').addEventListener('click', async () => {
  try { await api('DELETE', '/api/v1/session'); } catch { /* signed out anyway */ }
  location.hash = '';
  location.reload();
});

function showSignIn() {
  for (const id of ['messages', 'account', 'admin', 'nav', 'who']) $(id).hidden = true;
  $('signin').hidden = false;
  $('signin-user').focus();
}

// ---------------------------------------------------------------------------------------------
// Sections

function route() {
  if (!session.id) return;
  const shown = location.hash === '#admin' && session.admin ? 'admin'
    : location.hash === '#account' ? 'account' : 'messages';
  for (const section of ['messages', 'account', 'admin']) {
    $(section).hidden = section !== shown;
    const link = $(`nav-${section}`);
    if (section === shown) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  if (shown === 'admin') loadAdmin();
  if (shown === 'account') showAccount();
}

const ACCOUNT_FIELDS = ['display', 'current_password', 'password', 'repeat', 'form'];

function showAccount() {
  $('account-display').value = session.display || session.username;
  for (const f of ACCOUNT_FIELDS) $(`err-account-${f}`).textContent = '';
}

$('account-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  for (const f of ACCOUNT_FIELDS) $(`err-account-${f}`).textContent = '';
  $('account-status').textContent = '';
  const change = {};
  const display = $('account-display').value;
  if (display !== (session.display || session.username)) change.display = display;
  if ($('account-password').value || $('account-current').value) {
    if ($('account-password').value !== $('account-repeat').value) {
      $('err-account-repeat').textContent = 'The two new passwords differ.';
      return;
    }
    change.password = $('account-password').value;
    change.current_password = $('account-current').value;
  }
  if (!Object.keys(change).length) { $('account-status').textContent = 'Nothing to change.'; return; }
  try {
    const me = await api('PATCH', `/api/v1/users/${encodeURIComponent(session.username)}`, change);
    session.display = me.display;
    $('who-name').textContent = `Signed in as ${session.display || session.username}`;
    for (const id of ['account-current', 'account-password', 'account-repeat']) $(id).value = '';
    $('account-status').textContent = change.password ? 'Saved; your password is changed.' : 'Saved.';
  } catch (e) {
    const field = e.body && e.body.field;
    ($(`err-account-${field}`) || $('err-account-form')).textContent = e.message;
  }
});
window.addEventListener('hashchange', route);

$('notify').addEventListener('click', async () => {
  await Notification.requestPermission();
  $('notify').hidden = Notification.permission !== 'default';
});

async function start() {
  $('notify').hidden = !('Notification' in window) || Notification.permission !== 'default';
  $('signin').hidden = true;
  $('nav').hidden = false;
  $('who').hidden = false;
  $('who-name').textContent = `Signed in as ${session.display || session.username}`;
  $('nav-admin').hidden = !session.admin;
  route();
  await Promise.all([loadContacts(), loadInbox()]);
  connect();
}

// ---------------------------------------------------------------------------------------------
// The WebSocket: presence, arrivals, live audio

let ws = null;
let wsBackoff = 1000;

function wsSend(action, object) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify({
    action, id: crypto.randomUUID(), source: session.id,
    destination: '00000000-0000-0000-0000-000000000000', object,
  }));
  return true;
}

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  ws = new WebSocket(`${scheme}://${location.host}/api/v1/ws`);
  ws.onopen = () => {
    wsBackoff = 1000;
    banner('');
    wsSend('subscribe', {});
    wsSend('control_params', {});
    loadContacts();
    loadInbox();
  };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch { return; }
    onObject(m);
  };
  ws.onclose = (ev) => {
    ws = null;
    if (ev.code === 4001) { banner('Your session ended. Sign in again.'); setTimeout(() => location.reload(), 1500); return; }
    banner('Connection to the appliance lost; reconnecting…');
    setTimeout(connect, wsBackoff);
    wsBackoff = Math.min(wsBackoff * 2, 30000);
  };
}

function onObject(m) {
  const o = m.object || {};
  switch (m.action) {
    case 'set_status': if (o.user) setPresence(o.user, o.online, o.status); break;
    case 'post': if (o.id) arrived(o); break;
    case 'send': onSend(o); break;
    case 'control_params': $('phone').hidden = !o.has_phone; break;
    case 'phone_command': onPhoneAnswer(o); break;
    case 'server_down': banner('The appliance is restarting…'); break;
    default: break;
  }
}

// ---------------------------------------------------------------------------------------------
// Contacts and recipients

const contacts = new Map(); // id -> {id, username, display, online, status}
const chosen = new Set(); // usernames
let intercomTouched = false;

async function loadContacts() {
  const list = await api('GET', '/api/v1/contacts');
  contacts.clear();
  for (const c of list) contacts.set(c.id, c);
  renderContacts();
}

function setPresence(id, online, status) {
  const c = contacts.get(id);
  if (!c) { loadContacts(); return; }
  c.online = online;
  c.status = status;
  renderContacts();
}

function renderContacts() {
  const ul = $('contacts');
  ul.replaceChildren();
  const sorted = [...contacts.values()].sort((a, b) => (a.display || a.username).localeCompare(b.display || b.username));
  for (const c of sorted) {
    const id = `contact-${c.username}`;
    const box = el('input', { type: 'checkbox', id, 'data-username': c.username, checked: chosen.has(c.username) });
    box.addEventListener('change', () => {
      if (box.checked) chosen.add(c.username); else chosen.delete(c.username);
      recipientsChanged();
    });
    const state = c.online ? 'online' : 'offline';
    ul.append(el('li', { 'data-online': c.online ? 'true' : 'false', 'data-username': c.username },
      box,
      el('span', { class: `presence ${state}`, 'aria-hidden': 'true' }),
      el('label', { for: id, class: 'inline' }, c.display || c.username),
      el('span', { class: 'state' }, c.status ? `${state}, ${c.status}` : state)));
  }
  recipientsChanged();
}

function recipientsChanged() {
  const names = [...chosen].map((u) => {
    const c = [...contacts.values()].find((x) => x.username === u);
    return c ? c.display || c.username : u;
  });
  $('compose-to').textContent = names.length ? `To: ${names.join(', ')}` : 'To: nobody yet';
  if (!intercomTouched) {
    const all = [...chosen].every((u) => [...contacts.values()].some((c) => c.username === u && c.online));
    $('intercom').checked = chosen.size > 0 && all;
  }
  updateComposeButtons();
}

$('intercom').addEventListener('change', () => { intercomTouched = true; updateComposeButtons(); });

// ---------------------------------------------------------------------------------------------
// Recording from the microphone

const RATE = 16000; // what messages are recorded at
let recorder = null; // the capture in progress
let recorded = null; // {blob, url, ms} ready to send
const attachments = [];

class Capture {
  constructor(onBlock) { this.onBlock = onBlock; this.blocks = []; this.samples = 0; }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
    });
    try { this.ctx = new AudioContext({ sampleRate: RATE }); } catch { this.ctx = new AudioContext(); }
    await this.ctx.audioWorklet.addModule('/ui/capture-worklet.js');
    const source = this.ctx.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.ctx, 'offhook-capture');
    const mute = this.ctx.createGain();
    mute.gain.value = 0;
    source.connect(this.node).connect(mute).connect(this.ctx.destination);
    this.node.port.onmessage = (e) => {
      const block = resample(e.data, this.ctx.sampleRate, RATE);
      this.blocks.push(block);
      this.samples += block.length;
      this.onBlock(block);
    };
  }

  async stop() {
    if (this.node) this.node.port.onmessage = null;
    for (const t of this.stream ? this.stream.getTracks() : []) t.stop();
    if (this.ctx) await this.ctx.close();
  }

  pcm() {
    const out = new Float32Array(this.samples);
    let at = 0;
    for (const b of this.blocks) { out.set(b, at); at += b.length; }
    return out;
  }
}

/** Float samples from `from` Hz to `to` Hz: averaging then linear interpolation. */
function resample(x, from, to) {
  if (from === to) return x;
  const ratio = from / to;
  const n = Math.floor(x.length / ratio);
  const out = new Float32Array(n);
  const span = Math.max(1, Math.floor(ratio));
  for (let i = 0; i < n; i++) {
    const start = Math.floor(i * ratio);
    let s = 0;
    for (let k = 0; k < span && start + k < x.length; k++) s += x[start + k];
    out[i] = s / span;
  }
  return out;
}

function toInt16(x) {
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(x[i] * 32767)));
  return out;
}

function wav(samples, rate) {
  const pcm = toInt16(samples);
  const buf = new ArrayBuffer(44 + pcm.length * 2);
  const v = new DataView(buf);
  const text = (at, s) => { for (let i = 0; i < s.length; i++) v.setUint8(at + i, s.charCodeAt(i)); };
  text(0, 'RIFF'); v.setUint32(4, 36 + pcm.length * 2, true); text(8, 'WAVE');
  text(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  text(36, 'data'); v.setUint32(40, pcm.length * 2, true);
  new Int16Array(buf, 44).set(pcm);
  return new Blob([buf], { type: 'audio/wav' });
}

function base64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function clock(ms) {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Live intercom: 8 kHz PCM buffers of 200 ms over the WebSocket while recording. */
class Intercom {
  constructor(to) {
    this.to = to;
    this.stream = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, '0')).join('');
    this.seq = 0;
    this.pending = [];
    this.pendingLen = 0;
  }

  push(block16k) {
    const b = resample(block16k, RATE, 8000);
    this.pending.push(b);
    this.pendingLen += b.length;
    if (this.pendingLen >= 1600) this.flush(false);
  }

  flush(end) {
    const all = new Float32Array(this.pendingLen);
    let at = 0;
    for (const b of this.pending) { all.set(b, at); at += b.length; }
    this.pending = [];
    this.pendingLen = 0;
    const pcm = toInt16(all);
    const object = { stream: this.stream, seq: this.seq, pcm: base64(new Uint8Array(pcm.buffer)), end };
    if (this.seq === 0) object.to = this.to;
    this.seq += 1;
    wsSend('send', object);
  }
}

async function startRecording() {
  $('compose-error').textContent = '';
  discard();
  const silenceMs = Number($('silence').value);
  const live = $('intercom').checked ? new Intercom([...chosen]) : null;
  let heard = false;
  let quietMs = 0;
  const c = new Capture((block) => {
    let sum = 0;
    for (const s of block) sum += s * s;
    const rms = Math.sqrt(sum / Math.max(1, block.length));
    $('level').value = Math.min(1, rms * 4);
    $('elapsed').textContent = clock((c.samples / RATE) * 1000);
    if (live) live.push(block);
    const ms = (block.length / RATE) * 1000;
    if (rms > 0.02) { heard = true; quietMs = 0; } else if (heard) quietMs += ms;
    if (silenceMs && heard && quietMs >= silenceMs) stopRecording();
  });
  recorder = { capture: c, live };
  try {
    await c.start();
  } catch (e) {
    recorder = null;
    $('compose-error').textContent = `The microphone could not be opened: ${e.message}`;
    return;
  }
  $('record-state').textContent = live ? 'Speaking live…' : 'Recording…';
  updateComposeButtons();
}

async function stopRecording() {
  if (!recorder) return;
  const { capture, live } = recorder;
  recorder = null;
  await capture.stop();
  $('level').value = 0;
  if (live) {
    live.flush(true);
    $('record-state').textContent = 'Sent live; storing…';
  } else {
    const samples = capture.pcm();
    if (samples.length < RATE / 4) {
      $('record-state').textContent = 'Nothing was recorded.';
    } else {
      const blob = wav(samples, RATE);
      recorded = { blob, url: URL.createObjectURL(blob), ms: (samples.length / RATE) * 1000 };
      $('review-audio').src = recorded.url;
      $('review').hidden = false;
      $('record-state').textContent = `Recorded ${clock(recorded.ms)}. Listen, then send.`;
    }
  }
  updateComposeButtons();
}

function discard() {
  if (recorded) URL.revokeObjectURL(recorded.url);
  recorded = null;
  $('review').hidden = true;
  $('review-audio').removeAttribute('src');
  $('elapsed').textContent = '0:00';
  $('record-state').textContent = '';
  updateComposeButtons();
}

function updateComposeButtons() {
  const busy = !!recorder;
  $('record').disabled = busy || chosen.size === 0;
  $('stop').disabled = !busy;
  $('send').disabled = busy || !recorded || chosen.size === 0;
  $('ring').disabled = chosen.size === 0;
}

$('record').addEventListener('click', () => { unlockAudio(); startRecording(); });
$('stop').addEventListener('click', stopRecording);
$('rerecord').addEventListener('click', startRecording);
$('discard').addEventListener('click', discard);

function attach(files) {
  for (const f of files) attachments.push(f);
  renderAttachments();
}

function renderAttachments() {
  const ul = $('attached');
  ul.replaceChildren();
  attachments.forEach((f, i) => {
    ul.append(el('li', {}, `${f.name} (${bytes(f.size)}) `,
      el('button', { type: 'button', 'aria-label': `Remove ${f.name}`, onclick: () => { attachments.splice(i, 1); renderAttachments(); } }, 'Remove')));
  });
}

$('files').addEventListener('change', (e) => { attach(e.target.files); e.target.value = ''; });
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); attach(e.dataTransfer.files); });

$('send').addEventListener('click', async () => {
  if (!recorded || chosen.size === 0) return;
  const form = new FormData();
  for (const u of chosen) form.append('to', u);
  form.append('audio', recorded.blob, 'message.wav');
  for (const f of attachments) form.append('attachment', f, f.name);
  const progress = $('upload');
  progress.hidden = false;
  progress.value = 0;
  $('send').disabled = true;
  $('send-state').textContent = 'Sending…';
  $('compose-error').textContent = '';
  try {
    await upload('/api/v1/messages', form, (p) => { progress.value = p; });
    $('send-state').textContent = 'Sent.';
    attachments.length = 0;
    renderAttachments();
    discard();
    loadInbox();
  } catch (e) {
    $('send-state').textContent = '';
    $('compose-error').textContent = `Not sent: ${e.message}`;
  } finally {
    progress.hidden = true;
    updateComposeButtons();
  }
});

// ---------------------------------------------------------------------------------------------
// Ring my phone to record

let ringRequest = null;

$('ring').addEventListener('click', () => {
  $('ring-state').textContent = 'Asking…';
  wsSend('phone_command', { command: 'record', to: [...chosen] });
});

async function onPhoneAnswer(o) {
  if (o.error) { $('ring-state').textContent = `Cannot ring your phone: ${o.error}`; return; }
  if (o.request === undefined || o.status !== 'pending' || ringRequest === o.request) return;
  ringRequest = o.request;
  // Each wait returns once the request is past the stage shown: ringing, recording, then sent.
  let stage = 'ringing';
  $('ring-state').textContent = 'Ringing your phone: pick up and speak, then hang up or press #.';
  while (ringRequest === o.request) {
    let s;
    try { s = await api('GET', `/api/v1/record/${o.request}?wait=30&stage=${stage}`); } catch (e) { $('ring-state').textContent = e.message; break; }
    if (s.status === 'stored') { $('ring-state').textContent = 'Sent from your phone.'; loadInbox(); break; }
    if (s.status === 'failed') { $('ring-state').textContent = `Not sent: ${s.reason}`; break; }
    if (s.stage === 'recording' && stage !== 'recording') {
      stage = 'recording';
      $('ring-state').textContent = 'Recording from your phone: hang up or press # to send.';
    }
  }
  ringRequest = null;
}

// ---------------------------------------------------------------------------------------------
// Playing: the notification sound and live audio

let player = null; // the AudioContext for sounds and live audio

function unlockAudio() {
  if (!player) player = new AudioContext();
  if (player.state === 'suspended') player.resume();
}

function chime() {
  if (!player) return;
  const o = player.createOscillator();
  const g = player.createGain();
  o.frequency.value = 880;
  g.gain.setValueAtTime(0.2, player.currentTime);
  g.gain.exponentialRampToValueAtTime(0.001, player.currentTime + 0.4);
  o.connect(g).connect(player.destination);
  o.start();
  o.stop(player.currentTime + 0.4);
}

const liveStreams = new Map(); // stream -> {next, from, ms}
const playedLive = new Set();

function onSend(o) {
  if (o.error) {
    $('compose-error').textContent = `Live audio refused: ${o.error}`;
    return;
  }
  if (o.stored) { // our own stream was stored as a message
    $('record-state').textContent = `Sent live (${clock(o.ms || 0)}).`;
    loadInbox();
    return;
  }
  if (!o.stream) return;
  unlockAudio();
  let s = liveStreams.get(o.stream);
  if (!s) {
    s = { next: 0, from: o.from, ms: 0 };
    liveStreams.set(o.stream, s);
    playedLive.add(o.stream);
  }
  $('live').hidden = false;
  if (o.pcm) {
    const bytes = Uint8Array.from(atob(o.pcm), (ch) => ch.charCodeAt(0));
    const pcm = new Int16Array(bytes.buffer, 0, bytes.length >> 1);
    if (pcm.length) {
      const buffer = player.createBuffer(1, pcm.length, 8000);
      const data = buffer.getChannelData(0);
      for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 32768;
      const src = player.createBufferSource();
      src.buffer = buffer;
      src.connect(player.destination);
      const at = Math.max(player.currentTime + 0.05, s.next);
      src.start(at);
      s.next = at + buffer.duration;
      s.ms += buffer.duration * 1000;
    }
  }
  document.body.dataset.liveMs = String(Math.round(s.ms));
  $('live-state').textContent = o.end
    ? `${o.from} spoke live for ${clock(s.ms)}${o.cut ? ' (cut off)' : ''}.`
    : `Live from ${o.from}… ${clock(s.ms)}`;
  if (o.end) liveStreams.delete(o.stream);
}

// ---------------------------------------------------------------------------------------------
// The inbox

const messages = new Map(); // id -> message
let unread = 0;

async function loadInbox() {
  const list = await api('GET', '/api/v1/messages');
  const seen = new Set();
  for (const m of list) {
    seen.add(m.id);
    const old = messages.get(m.id);
    messages.set(m.id, old ? Object.assign(old, m) : m);
  }
  for (const id of [...messages.keys()]) if (!seen.has(id)) messages.delete(id);
  renderInbox();
}

function arrived(m) {
  wsSend('checkin', { message: m.id });
  if (messages.has(m.id)) return;
  m.fresh = !(m.stream && playedLive.has(m.stream));
  messages.set(m.id, m);
  if (m.fresh) unread += 1;
  renderInbox();
  if (!m.fresh) return;
  chime();
  if ('Notification' in window && Notification.permission === 'granted' && document.hidden) {
    new Notification(`Voice message from ${m.from}`, { body: clock(m.duration_ms || 0) });
  }
}

const items = new Map(); // id -> its <li>, kept so that re-rendering never stops a playback

function renderInbox() {
  const list = [...messages.values()].sort((a, b) => Date.parse(b.created) - Date.parse(a.created) || (a.id < b.id ? 1 : -1));
  for (const id of [...items.keys()]) if (!messages.has(id)) items.delete(id);
  const lis = list.map((m) => {
    let li = items.get(m.id);
    if (!li || li.dataset.status !== (m.status || 'ready')) {
      li = messageItem(m);
      items.set(m.id, li);
    }
    li.classList.toggle('new', !!m.fresh);
    if (m.played) li.dataset.played = 'true';
    return li;
  });
  $('inbox').replaceChildren(...lis);
  $('inbox-empty').hidden = list.length > 0;
  const badge = $('unread');
  badge.hidden = unread === 0;
  badge.textContent = `${unread} new`;
}

function messageItem(m) {
  const mine = m.from === session.username;
  const who = mine ? `To ${(m.to || []).join(', ')}`
    : m.from_deleted ? `From ${m.from} (deleted user)` : `From ${m.from}`;
  const when = new Date(m.created).toLocaleString();
  const li = el('li', { class: m.fresh ? 'new' : '', 'data-id': m.id, 'data-from': m.from, 'data-status': m.status || 'ready' });
  const meta = el('span', { class: 'meta' });
  const showMeta = () => { meta.textContent = `${when} · ${clock(m.duration_ms || 0)}${m.played || mine ? '' : ' · not played'}`; };
  showMeta();
  li.append(el('div', { class: 'head' }, el('span', { class: 'from' }, who), meta));
  if (m.status && m.status !== 'ready') {
    li.append(el('p', { class: 'hint' }, m.status === 'processing' ? 'Processing…' : 'Could not be processed.'));
    return li;
  }
  const canvas = el('canvas', { width: 576, height: 48, role: 'img', 'aria-label': 'Waveform; click to seek' });
  const audio = el('audio', { preload: 'none', class: 'visually-hidden' });
  const play = el('button', { type: 'button', class: 'play' }, 'Play');
  const speed = el('select', { 'aria-label': 'Speed' },
    el('option', { value: '1' }, '1×'), el('option', { value: '1.5' }, '1.5×'), el('option', { value: '2' }, '2×'));
  const time = el('span', { class: 'meta time' }, `0:00 / ${clock(m.duration_ms || 0)}`);
  let loaded = null;
  const load = async () => {
    if (!loaded) {
      loaded = (async () => {
        const r = await fetch(`/api/v1/messages/${m.id}/audio?format=wav`, { credentials: 'same-origin' });
        if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => null));
        const bytes = await r.arrayBuffer();
        audio.src = URL.createObjectURL(new Blob([bytes], { type: 'audio/wav' }));
      })();
    }
    return loaded;
  };
  play.addEventListener('click', async () => {
    unlockAudio();
    if (!audio.paused) { audio.pause(); return; }
    try { await load(); } catch (e) { time.textContent = e.message; return; }
    audio.playbackRate = Number(speed.value);
    await audio.play();
  });
  speed.addEventListener('change', () => { audio.playbackRate = Number(speed.value); });
  audio.addEventListener('play', () => { play.textContent = 'Pause'; li.dataset.playing = 'true'; });
  audio.addEventListener('pause', () => { play.textContent = 'Play'; });
  audio.addEventListener('timeupdate', () => {
    time.textContent = `${clock(audio.currentTime * 1000)} / ${clock(m.duration_ms || 0)}`;
    drawCursor(canvas, audio.currentTime / (audio.duration || 1));
  });
  audio.addEventListener('ended', () => {
    li.dataset.played = 'true';
    if (!mine && !m.played) { wsSend('post', { played: m.id }); m.played = true; showMeta(); }
    if (m.fresh) { m.fresh = false; unread = Math.max(0, unread - 1); renderInbox(); }
  });
  canvas.addEventListener('click', async (e) => {
    try { await load(); } catch { return; }
    const frac = e.offsetX / canvas.clientWidth;
    const seek = () => { audio.currentTime = frac * audio.duration; };
    if (Number.isFinite(audio.duration)) seek(); else audio.addEventListener('loadedmetadata', seek, { once: true });
  });
  const actions = el('div', { class: 'row' }, play, speed, time);
  if (!mine && !m.from_deleted) {
    actions.append(el('button', {
      type: 'button',
      onclick: () => {
        chosen.clear();
        chosen.add(m.from);
        renderContacts();
        $('record').focus();
      },
    }, 'Reply'));
  }
  actions.append(el('button', {
    type: 'button',
    onclick: async () => {
      try { await api('DELETE', `/api/v1/messages/${m.id}`); if (m.fresh) unread = Math.max(0, unread - 1); messages.delete(m.id); renderInbox(); } catch (e) { time.textContent = e.message; }
    },
  }, 'Delete'));
  li.append(canvas, audio, actions);
  showWave(m.id, canvas);
  if (m.attachments && m.attachments.length) {
    const files = el('ul', { class: 'files' });
    for (const a of m.attachments) {
      files.append(el('li', {}, el('a', { href: `/api/v1/messages/${m.id}/attachments/${a.n}`, download: a.name }, a.name),
        ` (${bytes(a.size || 0)})`));
    }
    li.append(files);
  }
  return li;
}

/** A size for people: 27 B, 3 kB, 1.2 MB. */
function bytes(n) {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${Math.round(n / 1e3)} kB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}

// Each message's waveform, fetched once (the appliance decodes it; fetching it does not count as
// playing the message): message id → a promise of its peaks.
const waves = new Map();

async function showWave(id, canvas) {
  if (!waves.has(id)) {
    waves.set(id, api('GET', `/api/v1/messages/${id}/waveform?points=${canvas.width}`)
      .then((w) => Float32Array.from(w.peaks, (p) => p / 255)));
  }
  try {
    canvas.peaks = await waves.get(id);
    canvas.dataset.drawn = 'true';
    drawCursor(canvas, 0);
  } catch {
    waves.delete(id); // a nicety: playing still works; tried again on the next render
  }
}

function drawCursor(canvas, frac) {
  const ctx = canvas.getContext('2d');
  const { width: w, height: h } = canvas;
  ctx.clearRect(0, 0, w, h);
  const peaks = canvas.peaks || new Float32Array(w);
  for (let x = 0; x < w; x++) {
    ctx.fillStyle = x / w <= frac ? '#0b57a4' : '#8aa9c9';
    const ph = Math.max(1, peaks[x] * h);
    ctx.fillRect(x, (h - ph) / 2, 1, ph);
  }
}

// ---------------------------------------------------------------------------------------------

(async () => {
  try {
    if (await whoAmI()) start(); else showSignIn();
  } catch (e) {
    banner(`The appliance did not answer: ${e.message}`);
    showSignIn();
  }
})();
