// Promptbooks: list them, fill a promptbook's parameters, run it and show each step's answer.
// `#/promptbooks?name=X` opens X directly (the prompt page's launcher links here).

import { get, post } from '../api.js';
import { h, mount, notice } from '../dom.js';
import { currentSession, setCurrentSession, canWrite } from '../state.js';
import { renderTurn } from '../turn.js';

const stepCount = (b) => (Array.isArray(b.steps) ? b.steps.length : b.steps ?? '');

export async function render(main, { query }) {
  const books = (await get('/promptbooks')) || [];
  const chosen = query.get('name');
  const detail = h('div', { id: 'promptbook-detail' });
  const cards = h('div', { class: 'cards', role: 'list' }, books.map((b) => h('article', {
    class: 'card', role: 'listitem', 'aria-current': b.name === chosen ? 'true' : null,
  },
  h('h2', null, b.name),
  h('p', { class: 'small' }, b.description || ''),
  h('p', { class: 'muted small' }, `${stepCount(b)} step(s) · ${(b.parameters || []).length} parameter(s)`),
  h('a', { class: 'button', href: '#/promptbooks?name=' + encodeURIComponent(b.name) }, `Open ${b.name}`))));
  mount(main, h('h1', null, 'Promptbooks'), detail, books.length ? cards : notice('No promptbooks are installed.'));
  const book = books.find((b) => b.name === chosen);
  if (book) showBook(detail, book);
  else if (chosen) mount(detail, notice(`No promptbook named "${chosen}".`, 'error'));
}

function showBook(detail, book) {
  const params = book.parameters || [];
  const out = h('div', { id: 'promptbook-result', 'aria-live': 'polite' });
  const run = h('button', { type: 'submit', class: 'primary', id: 'promptbook-run' }, 'Run promptbook');
  const inputs = params.map((p, i) => {
    const id = `pb-param-${i}`;
    return h('div', { class: 'field' },
      h('label', { for: id }, p.name, p.required ? ' (required)' : ''),
      h('input', { id, name: p.name, required: p.required ? true : null, 'aria-describedby': `${id}-d` }),
      p.description ? h('p', { class: 'muted small', id: `${id}-d` }, p.description) : null);
  });
  const form = h('form', {
    'aria-label': `Run ${book.name}`, on: {
      submit: async (ev) => {
        ev.preventDefault();
        const values = {};
        for (const inp of form.querySelectorAll('input')) if (inp.value.trim()) values[inp.name] = inp.value.trim();
        const missing = params.filter((p) => p.required && !values[p.name]).map((p) => p.name);
        if (missing.length) {
          mount(out, notice(`Fill in: ${missing.join(', ')}`, 'error'));
          return;
        }
        run.disabled = true;
        mount(out, notice(`Running ${book.name}…`));
        try {
          const r = await post(`/promptbooks/${encodeURIComponent(book.name)}/run`, { params: values, session_id: currentSession() || undefined });
          if (r.session_id) setCurrentSession(r.session_id);
          const steps = r.steps || [];
          mount(out, h('h3', null, `Results (${steps.length} step${steps.length === 1 ? '' : 's'})`),
            steps.map((s) => renderTurn(s, { sessionId: () => r.session_id || currentSession() })));
        } catch (e) {
          mount(out, notice(`The promptbook failed: ${e.message}`, 'error'));
        } finally {
          run.disabled = false;
        }
      },
    },
  }, inputs, canWrite() ? run : notice('Your role cannot run promptbooks.'));
  mount(detail, h('section', { class: 'panel', 'aria-labelledby': 'pb-title' },
    h('h2', { id: 'pb-title' }, book.name), h('p', null, book.description || ''), form, out));
  const first = form.querySelector('input') || run;
  first.focus();
}
