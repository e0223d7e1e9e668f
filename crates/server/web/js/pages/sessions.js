// Sessions: the list (#/sessions) and one session (#/sessions/<id>) with rename, delete,
// export (Markdown / HTML download) and "continue in the prompt page".

import { get, patch, post, del, download } from '../api.js';
import { h, mount, notice, fmtTime } from '../dom.js';
import { setCurrentSession, currentSession, canWrite } from '../state.js';
import { renderTurn } from '../turn.js';

export async function render(main, { id }) {
  if (id) return renderSession(main, id);
  const sessions = await get('/sessions');
  const list = Array.isArray(sessions) ? sessions : [];
  const rows = list.map((s) => h('tr', null,
    h('td', null, h('a', { href: `#/sessions/${encodeURIComponent(s.id)}` }, s.name || s.id),
      s.id === currentSession() ? h('span', { class: 'tag' }, 'current') : null),
    h('td', null, fmtTime(s.created)),
    h('td', { class: 'num' }, String(s.prompts ?? '')),
    h('td', null, s.owner || ''),
    h('td', null, Array.isArray(s.shared) ? s.shared.join(', ') : s.shared ? 'yes' : '')));
  mount(main,
    h('h1', null, 'Sessions'),
    list.length
      ? h('div', { class: 'table-wrap panel' }, h('table', { class: 'data' },
        h('thead', null, h('tr', null, ['Name', 'Created', 'Prompts', 'Owner', 'Shared'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, rows)))
      : notice('No sessions yet. Ask something on the Prompt page to start one.'));
}

async function renderSession(main, id) {
  const s = await get(`/sessions/${encodeURIComponent(id)}`);
  const path = `/sessions/${encodeURIComponent(id)}`;
  const msg = h('p', { class: 'status', role: 'status' });
  const title = h('h1', null, s.name || id);
  const nameInput = h('input', { id: 'session-name', value: s.name || '', 'aria-describedby': 'session-id' });
  const safeName = (s.name || id).replace(/[^\w.-]+/g, '_').slice(0, 80) || 'session';

  const rename = h('form', {
    class: 'row', on: {
      submit: async (ev) => {
        ev.preventDefault();
        try {
          await patch(path, { name: nameInput.value.trim() });
          title.textContent = nameInput.value.trim() || id;
          msg.textContent = 'Renamed.';
        } catch (e) {
          msg.textContent = `Rename failed: ${e.message}`;
        }
      },
    },
  }, h('div', { class: 'grow' }, h('label', { for: 'session-name' }, 'Name'), nameInput), h('button', { type: 'submit' }, 'Rename'));

  const shareUser = h('input', { id: 'share-user', placeholder: 'user name' });
  const share = h('form', {
    class: 'row', on: {
      submit: async (ev) => {
        ev.preventDefault();
        const user = shareUser.value.trim();
        if (!user) return;
        try {
          await post(`${path}/share`, { user });
          msg.textContent = `Shared with ${user}.`;
          shareUser.value = '';
        } catch (e) {
          msg.textContent = `Share failed: ${e.message}`;
        }
      },
    },
  }, h('div', { class: 'grow' }, h('label', { for: 'share-user' }, 'Share with (read-only)'), shareUser), h('button', { type: 'submit' }, 'Share'));

  const exportBtn = (format, label) => h('button', {
    type: 'button', on: {
      click: async () => {
        try {
          await download(`${path}/export?format=${format}`, `${safeName}.${format}`);
          msg.textContent = `Exported as ${label}.`;
        } catch (e) {
          msg.textContent = `Export failed: ${e.message}`;
        }
      },
    },
  }, `Export ${label}`);

  const toolbar = h('div', { class: 'toolbar' },
    canWrite() ? h('button', {
      type: 'button', class: 'primary', on: {
        click: () => {
          setCurrentSession(id);
          location.hash = '#/prompt';
        },
      },
    }, 'Continue in Prompt') : null,
    h('a', { class: 'button', href: `#/pins?session=${encodeURIComponent(id)}` }, 'Pinboard'),
    exportBtn('md', 'Markdown'), exportBtn('html', 'HTML'),
    canWrite() ? h('button', {
      type: 'button', class: 'danger', on: {
        click: async () => {
          if (!window.confirm(`Delete session "${s.name || id}"? This cannot be undone.`)) return;
          try {
            await del(path);
            if (currentSession() === id) setCurrentSession(null);
            location.hash = '#/sessions';
          } catch (e) {
            msg.textContent = `Delete failed: ${e.message}`;
          }
        },
      },
    }, 'Delete') : null);

  const turns = Array.isArray(s.turns) ? s.turns : [];
  mount(main,
    h('p', { class: 'small' }, h('a', { href: '#/sessions' }, '← Sessions')),
    title,
    h('p', { class: 'muted small mono', id: 'session-id' }, id),
    h('div', { class: 'panel' }, canWrite() ? h('div', { class: 'grid-2' }, rename, share) : null, toolbar, msg),
    h('h2', null, `Turns (${turns.length})`),
    turns.length ? turns.map((t) => renderTurn(t, { sessionId: () => id })) : notice('This session has no prompts yet.'));
}
