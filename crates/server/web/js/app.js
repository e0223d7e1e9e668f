// App shell: checks the browser session, wires the header (theme, sign-out), routes hash URLs
// (#/prompt, #/sessions/<id>, #/incidents/<n>, ...) to page modules and owns global keys.

import { get, post, setCsrf } from './api.js';
import { h, mount, notice } from './dom.js';
import { state } from './state.js';
import { themeToggle } from './theme.js';
import * as promptPage from './pages/prompt.js';
import * as sessionsPage from './pages/sessions.js';
import * as pinsPage from './pages/pins.js';
import * as incidentsPage from './pages/incidents.js';
import * as kqlPage from './pages/kql.js';
import * as scriptsPage from './pages/scripts.js';
import * as promptbooksPage from './pages/promptbooks.js';

const ROUTES = {
  prompt: { title: 'Prompt', page: promptPage },
  sessions: { title: 'Sessions', page: sessionsPage },
  pins: { title: 'Pinboard', page: pinsPage },
  incidents: { title: 'Incidents', page: incidentsPage },
  kql: { title: 'KQL', page: kqlPage },
  scripts: { title: 'Scripts', page: scriptsPage },
  promptbooks: { title: 'Promptbooks', page: promptbooksPage },
};

const main = document.getElementById('main');
let cleanup = null;
let firstRoute = true;

/** Parses `#/name/id?x=1` into {name, id, query}. */
export function parseHash(hash) {
  const raw = (hash || '').replace(/^#\/?/, '');
  const [path, q = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { name: parts[0] || 'prompt', id: parts[1] || null, query: new URLSearchParams(q) };
}

async function route() {
  const { name, id, query } = parseHash(location.hash);
  const r = ROUTES[name];
  if (cleanup) {
    try {
      cleanup();
    } catch {
      /* a page's cleanup failing must not block navigation */
    }
    cleanup = null;
  }
  for (const a of document.querySelectorAll('.nav a')) {
    if (a.dataset.route === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!r) {
    document.title = 'Not found · Bulwark';
    mount(main, h('h1', null, 'Not found'), h('p', null, 'No page here. ', h('a', { href: '#/prompt' }, 'Go to the prompt.')));
    return;
  }
  document.title = `${r.title} · Bulwark`;
  mount(main, notice('Loading…'));
  window.scrollTo(0, 0); // a new page starts at its top, not where the last one was scrolled
  try {
    cleanup = (await r.page.render(main, { id, query })) || null;
  } catch (e) {
    mount(main, h('h1', null, r.title), notice(`Could not load this page: ${e.message}`, 'error'));
  }
  // Move focus to the new page for keyboard and screen-reader users (not on first load,
  // where pages may focus their own primary control).
  if (!firstRoute && !main.contains(document.activeElement)) main.focus({ preventScroll: true });
  document.getElementById('route-announcer').textContent = `${r.title} page`;
  firstRoute = false;
}

function typingIn(el) {
  return el && (el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName));
}

// `/` focuses the prompt bar from anywhere (unless the user is typing in a field).
document.addEventListener('keydown', (ev) => {
  if (ev.key !== '/' || ev.ctrlKey || ev.metaKey || ev.altKey || typingIn(ev.target)) return;
  ev.preventDefault();
  const input = document.getElementById('prompt-input');
  if (input) input.focus();
  else {
    sessionStorage.setItem('bulwark.focusPrompt', '1');
    location.hash = '#/prompt';
  }
});

async function start() {
  themeToggle(document.getElementById('theme-toggle'));
  document.getElementById('skip-link').addEventListener('click', (ev) => {
    ev.preventDefault(); // the hash is the router's; focus main instead of navigating
    main.focus();
  });
  try {
    state.me = await get('/me');
  } catch (e) {
    if (e.status === 401) return; // api.js is already redirecting to /login
    mount(main, notice(`Cannot reach the Bulwark server: ${e.message}`, 'error'));
    return;
  }
  setCsrf(state.me.csrf_token);
  document.getElementById('user').textContent = `${state.me.user} · ${state.me.role} · ${state.me.workspace}`;
  document.getElementById('logout').addEventListener('click', async () => {
    try {
      await post('/auth/logout');
    } finally {
      setCsrf(null);
      location.assign('/login');
    }
  });
  window.addEventListener('hashchange', route);
  if (!location.hash) history.replaceState(null, '', '#/prompt');
  route();
}

start();
