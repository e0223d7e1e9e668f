// Prompt page: the prompt bar (Enter sends, Shift+Enter adds a line), suggestions, a promptbook
// launcher, and the conversation of the current session with streamed answers.

import { get, streamPrompt } from '../api.js';
import { h, mount, notice } from '../dom.js';
import { currentSession, setCurrentSession, canWrite } from '../state.js';
import { turnView, renderTurn } from '../turn.js';

const SUGGESTIONS = [
  'Summarize incident 1',
  'Which devices talked to 185.220.101.4?',
  'What happened on the most targeted device in the last 7 days?',
  'Show failed sign-ins by user',
  'Write the weekly report for the CISO',
];

export async function render(main, { query }) {
  const controller = new AbortController();
  const conversation = h('section', { class: 'conversation', 'aria-label': 'Conversation' });
  const sessionLine = h('div', { class: 'session-line' });
  const input = h('textarea', {
    id: 'prompt-input', rows: '2', placeholder: 'Ask about incidents, devices, users, IPs… (press / to focus)',
    'aria-keyshortcuts': '/', 'aria-describedby': 'prompt-help', autocomplete: 'off',
  });
  const send = h('button', { type: 'submit', class: 'primary', id: 'prompt-send' }, 'Ask');
  let busy = false;

  let sessionName = null; // shown instead of the id once known
  const showSession = () => {
    const sid = currentSession();
    mount(sessionLine,
      h('span', { class: 'muted small' }, sid ? 'Continuing session ' : 'A new session starts with your next prompt.'),
      sid ? h('a', { href: `#/sessions/${encodeURIComponent(sid)}`, class: ['small', sessionName ? null : 'mono'] }, sessionName || sid) : null,
      sid ? h('button', {
        type: 'button', class: 'small', on: {
          click: () => {
            setCurrentSession(null);
            sessionName = null;
            mount(conversation);
            showSession();
            input.focus();
          },
        },
      }, 'New session') : null);
  };

  const ask = async (text) => {
    const prompt = text.trim();
    if (!prompt || busy) return;
    busy = true;
    send.disabled = true;
    input.value = '';
    const view = turnView(prompt, { sessionId: currentSession });
    conversation.appendChild(view.el);
    view.el.scrollIntoView({ block: 'start' });
    let finished = false;
    try {
      await streamPrompt({ prompt, session_id: currentSession() || undefined }, {
        session: (d) => {
          if (d.session_id) setCurrentSession(d.session_id);
          showSession();
        },
        process: (p) => view.process(p),
        token: (t) => view.token(t),
        answer: (a) => {
          if (a.session_id) setCurrentSession(a.session_id);
          finished = true;
          view.finish(a);
        },
        error: (e) => {
          finished = true;
          view.fail(e.message || 'unknown error');
        },
      }, controller.signal);
      if (!finished) view.fail('the answer stream ended early');
    } catch (e) {
      if (e.name !== 'AbortError') view.fail(e.message);
    } finally {
      busy = false;
      send.disabled = false;
      showSession();
    }
  };

  const form = h('form', {
    class: 'prompt-bar', role: 'search', 'aria-label': 'Prompt',
    on: { submit: (ev) => { ev.preventDefault(); ask(input.value); } },
  }, h('label', { for: 'prompt-input', class: 'visually-hidden' }, 'Prompt'), input, send);

  input.addEventListener('keydown', (ev) => {
    // Enter sends; Shift+Enter keeps a newline; IME composition must not send.
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });

  const suggestions = h('div', { class: 'suggestions', role: 'group', 'aria-label': 'Suggestions' },
    SUGGESTIONS.map((s) => h('button', {
      type: 'button', class: 'chip', on: {
        click: () => {
          input.value = s;
          input.focus();
        },
      },
    }, s)));

  const bookSelect = h('select', { id: 'promptbook-launch' }, h('option', { value: '' }, 'Choose a promptbook…'));
  const launcher = h('div', { class: 'row' },
    h('div', null, h('label', { for: 'promptbook-launch' }, 'Promptbooks'), bookSelect),
    h('button', {
      type: 'button', id: 'promptbook-open', on: {
        click: () => {
          if (bookSelect.value) location.hash = '#/promptbooks?name=' + encodeURIComponent(bookSelect.value);
          else bookSelect.focus();
        },
      },
    }, 'Open promptbook'));

  mount(main,
    h('h1', null, 'Ask Bulwark'),
    h('div', { class: 'panel' },
      sessionLine,
      canWrite() ? form : notice('Your role can read shared sessions but not send prompts.'),
      h('p', { id: 'prompt-help', class: 'muted small' }, 'Enter sends · Shift+Enter adds a line · / focuses this bar from anywhere.'),
      suggestions),
    h('div', { class: 'panel' }, launcher),
    conversation);
  showSession();

  // Fill the launcher and the earlier turns without blocking the page.
  get('/promptbooks').then((books) => {
    for (const b of books || []) bookSelect.appendChild(h('option', { value: b.name }, b.name));
  }).catch(() => { /* the launcher stays empty */ });
  const sid = currentSession();
  if (sid) {
    get(`/sessions/${encodeURIComponent(sid)}`).then((s) => {
      sessionName = s.name || null;
      showSession();
      // Earlier turns go before anything asked while they loaded.
      conversation.prepend(...(s.turns || []).map((t) => renderTurn(t, { sessionId: () => sid })));
    }).catch((e) => {
      if (e.status === 404) {
        setCurrentSession(null);
        showSession();
      }
    });
  }

  const preset = query.get('q');
  if (preset) input.value = preset;
  // The prompt bar is this page's primary control: focus it on arrival.
  sessionStorage.removeItem('bulwark.focusPrompt');
  input.focus();
  if (query.get('run') === '1' && preset) ask(preset);
  return () => controller.abort();
}
