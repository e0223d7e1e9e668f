// Pinboard: pinned answers of the current session (or of one named session), or of all sessions.

import { get } from '../api.js';
import { h, mount, notice, fmtTime } from '../dom.js';
import { currentSession } from '../state.js';
import { renderMarkdown } from '../markdown.js';

function pinCard(p, session) {
  return h('article', { class: 'panel pin-card' },
    h('h2', null, p.prompt || p.prompt_id),
    h('p', { class: 'muted small' },
      fmtTime(p.created), session ? ' · ' : null,
      session ? h('a', { href: `#/sessions/${encodeURIComponent(session.id)}` }, session.name || session.id) : null),
    p.note ? h('p', null, h('strong', null, 'Note: '), p.note) : null,
    renderMarkdown(p.answer || ''));
}

export async function render(main, { query }) {
  const named = query.get('session');
  const scope = query.get('scope') || (named || currentSession() ? 'session' : 'all');
  const sid = named || currentSession();
  const out = h('div', { id: 'pins' });
  const pick = (value, label) => h('a', {
    class: ['button', scope === value ? 'primary' : null],
    'aria-current': scope === value ? 'true' : null,
    href: `#/pins?scope=${value}${named ? '&session=' + encodeURIComponent(named) : ''}`,
  }, label);
  mount(main,
    h('h1', null, 'Pinboard'),
    h('div', { class: 'toolbar', role: 'group', 'aria-label': 'Which pins' }, pick('session', 'This session'), pick('all', 'All sessions')),
    out);

  if (scope === 'session') {
    if (!sid) {
      mount(out, notice('No current session. Ask something on the Prompt page, or show all sessions.'));
      return;
    }
    const [pins, sessions] = await Promise.all([
      get(`/sessions/${encodeURIComponent(sid)}/pins`),
      get('/sessions').catch(() => []), // only for the session's name
    ]);
    const session = (sessions || []).find((x) => x.id === sid) || { id: sid };
    mount(out, pins.length ? pins.map((p) => pinCard(p, session)) : notice('Nothing pinned in this session yet.'));
    return;
  }
  const sessions = await get('/sessions');
  const cards = [];
  // One request per session: the API has pins per session only.
  const all = await Promise.all((sessions || []).map((s) =>
    get(`/sessions/${encodeURIComponent(s.id)}/pins`).then((pins) => ({ s, pins })).catch(() => ({ s, pins: [] }))));
  for (const { s, pins } of all) for (const p of pins) cards.push(pinCard(p, s));
  mount(out, cards.length ? cards : notice('Nothing pinned yet.'));
}
