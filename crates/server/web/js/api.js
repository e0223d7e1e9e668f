// API client: cookie auth plus the CSRF header on unsafe methods, JSON errors turned into
// ApiError, and the SSE reader for the streaming prompt endpoint.

const CSRF_KEY = 'bulwark.csrf';
const BASE = '/api/v1';

/** An API failure with the server's error code and message (and the raw body, e.g. diagnostics). */
export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || 'internal';
    this.body = body || null;
  }
}

/** Remembers the CSRF token for this tab (sessionStorage: gone when the tab closes). */
export function setCsrf(token) {
  if (token) sessionStorage.setItem(CSRF_KEY, token);
  else sessionStorage.removeItem(CSRF_KEY);
}

function csrf() {
  return sessionStorage.getItem(CSRF_KEY) || '';
}

function headers(method, json) {
  const hd = { Accept: 'application/json' };
  if (json) hd['Content-Type'] = 'application/json';
  if (!['GET', 'HEAD', 'OPTIONS'].includes(method)) hd['X-CSRF-Token'] = csrf();
  return hd;
}

// A 401 on any call but login means the browser session ended: go to the sign-in page.
function onUnauthorized(path) {
  if (path !== '/auth/login' && !location.pathname.startsWith('/login')) {
    location.assign('/login?next=' + encodeURIComponent(location.hash || ''));
  }
}

async function errorFrom(res, path) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (res.status === 401) onUnauthorized(path);
  const err = body && body.error ? body.error : {};
  return new ApiError(res.status, err.code, err.message || res.statusText, body);
}

/** Calls the API and returns the parsed JSON (or text for non-JSON answers). */
export async function api(method, path, body) {
  const res = await fetch(BASE + path, {
    method,
    credentials: 'same-origin',
    headers: headers(method, body !== undefined),
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw await errorFrom(res, path);
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  return type.includes('json') ? res.json() : res.text();
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
export const patch = (path, body) => api('PATCH', path, body ?? {});
export const del = (path) => api('DELETE', path);

/** Query string from an object, skipping empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) p.set(k, v);
  const t = p.toString();
  return t ? '?' + t : '';
}

/**
 * Parses a text/event-stream body incrementally. Events are separated by a blank line; `data:`
 * lines are joined with newlines (the SSE rule), and each event's data is parsed as JSON.
 * `onEvent(name, data)` is called in order.
 */
export async function readSse(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  const flush = (block) => {
    let name = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue; // comment / keep-alive
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') name = value;
      else if (field === 'data') data.push(value);
    }
    if (!data.length) return;
    let parsed;
    try {
      parsed = JSON.parse(data.join('\n'));
    } catch {
      parsed = { text: data.join('\n') };
    }
    onEvent(name, parsed);
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      flush(buf.slice(0, cut));
      buf = buf.slice(cut + 2);
    }
  }
  buf += decoder.decode();
  if (buf.trim()) flush(buf.replace(/\r\n?/g, '\n'));
}

/**
 * POST /prompts/stream with fetch (EventSource cannot POST) and dispatch its events to
 * `handlers.{session,process,token,answer,done,error}`.
 */
export async function streamPrompt(body, handlers, signal) {
  const path = '/prompts/stream';
  const res = await fetch(BASE + path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { ...headers('POST', true), Accept: 'text/event-stream' },
    body: JSON.stringify(body),
    signal,
  });
  if (!res.ok) throw await errorFrom(res, path);
  if (!res.body) throw new ApiError(500, 'internal', 'The browser gave no response stream');
  await readSse(res.body, (name, data) => {
    const fn = handlers[name];
    if (fn) fn(data);
  });
}

/** Downloads an API resource (e.g. a session export) as a file named `filename`. */
export async function download(path, filename) {
  const res = await fetch(BASE + path, { credentials: 'same-origin' });
  if (!res.ok) throw await errorFrom(res, path);
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Revoke later: revoking at once can cancel the download in some browsers.
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
