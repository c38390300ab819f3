// What every page of Offhook's web client shares: finding and making elements (text only, never
// HTML), the session, and the API calls that carry its CSRF token.

export const $ = (id) => document.getElementById(id);

/** Makes an element with text (never HTML) and attributes. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, '');
    else if (v !== false && v != null) e.setAttribute(k, String(v));
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// ---------------------------------------------------------------------------------------------
// The API

export const session = { id: null, username: null, display: null, admin: false, csrf: null };

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(method, path, body) {
  const headers = {};
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (method !== 'GET' && session.csrf) headers['x-csrf-token'] = session.csrf;
  const r = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  const type = r.headers.get('content-type') || '';
  const data = type.includes('json') ? await r.json().catch(() => null) : null;
  if (!r.ok) {
    const e = new ApiError(r.status, data);
    e.retryAfter = Number(r.headers.get('retry-after')) || 0;
    throw e;
  }
  return data;
}

/** A multipart POST with upload progress (fetch cannot report it). */
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', path);
    if (session.csrf) x.setRequestHeader('x-csrf-token', session.csrf);
    x.responseType = 'json';
    x.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    x.onload = () => (x.status < 300 ? resolve(x.response) : reject(new ApiError(x.status, x.response)));
    x.onerror = () => reject(new ApiError(0, { error: 'the appliance did not answer' }));
    x.send(form);
  });
}

export function banner(text) {
  const b = $('banner');
  b.textContent = text || '';
  b.hidden = !text;
}
