// One prompt and its answer: streamed tokens while running, then the rendered Markdown, the
// evidence behind it (source, rows, KQL, samples), the process log, and pin/feedback actions.
// Used by the prompt page, the session view and promptbook runs.

import { post } from './api.js';
import { h, s, mount, table, fmtTime } from './dom.js';
import { renderMarkdown } from './markdown.js';
import { canWrite } from './state.js';

let turnCounter = 0;

/** Link to the KQL page with `query` pre-filled. */
export function kqlLink(query, text = 'Open in KQL editor') {
  return h('a', { class: 'button small', href: '#/kql?q=' + encodeURIComponent(query) }, text);
}

/** Sample rows (objects) as a table over the union of their keys (first-seen order). */
export function rowsTable(rows, label) {
  const cols = [];
  for (const r of rows) for (const k of Object.keys(r || {})) if (!cols.includes(k)) cols.push(k);
  return table(cols, rows, { label });
}

function evidenceItem(ev, n, idPrefix) {
  const meta = [
    `${ev.row_count ?? 0} row${ev.row_count === 1 ? '' : 's'}${ev.truncated ? ' (capped)' : ''}`,
    ev.elapsed_ms !== undefined ? `${ev.elapsed_ms} ms` : null,
    Array.isArray(ev.time_range) ? `${fmtTime(ev.time_range[0])} → ${fmtTime(ev.time_range[1])}` : null,
  ].filter(Boolean).join(' · ');
  const rows = Array.isArray(ev.sample_rows) ? ev.sample_rows : [];
  return h('section', { class: 'evidence-item', id: `${idPrefix}-ev-${n}`, tabindex: '-1', 'aria-label': `Evidence ${n}` },
    h('div', { class: 'evidence-head' },
      h('strong', null, `[${n}] ${ev.source || 'analysis'}`),
      ev.skill ? h('span', { class: 'tag' }, ev.skill) : null,
      h('span', { class: 'muted small' }, meta)),
    ev.query ? [h('pre', { class: 'code', tabindex: '0' }, h('code', null, ev.query)), h('div', { class: 'toolbar' }, kqlLink(ev.query))] : null,
    rows.length ? rowsTable(rows, `Evidence ${n} sample rows`) : null);
}

function processItem(p) {
  return h('li', { class: p.ok === false ? 'fail' : null },
    h('span', { class: 'step' }, p.step || ''),
    h('span', { class: 'detail' }, p.detail || ''),
    h('span', { class: 'ms' }, p.elapsed_ms !== undefined ? `${p.elapsed_ms} ms` : ''),
    p.ok === false ? h('span', { class: 'visually-hidden' }, ' (failed)') : null);
}

/**
 * Creates the view for one turn. Returns {el, process(entry), token({text}), finish(answer),
 * fail(message)} so a stream can fill it in as events arrive.
 * opts.sessionId() gives the session to pin into (it may be learnt during the stream).
 */
export function turnView(prompt, opts = {}) {
  const idPrefix = `turn${++turnCounter}`;
  const sessionId = opts.sessionId || (() => null);
  const status = h('p', { class: 'status', role: 'status' });
  const streamText = h('p', { class: 'streaming' });
  // aria-live on the answer: screen readers hear the answer as it streams, once, politely.
  const answer = h('div', { class: 'answer', 'aria-live': 'polite', 'aria-busy': 'true', id: `${idPrefix}-answer` }, streamText);
  const procList = h('ol', { class: 'process-log' });
  const procPanel = h('details', { class: 'panel process' }, h('summary', null, 'Process log'), procList);
  const evPanel = h('details', { class: 'panel evidence', open: true }, h('summary', null, 'Evidence'));
  evPanel.hidden = true;
  const actions = h('div', { class: 'actions' });
  const el = h('article', { class: 'turn', 'aria-labelledby': `${idPrefix}-q` },
    prompt !== null && prompt !== undefined ? h('div', { class: 'you', id: `${idPrefix}-q` }, h('span', { class: 'visually-hidden' }, 'You asked: '), prompt) : null,
    status, answer, actions, evPanel, procPanel);
  let tokens = '';

  const cite = (n) => {
    const target = document.getElementById(`${idPrefix}-ev-${n}`);
    if (!target) return;
    evPanel.open = true;
    target.classList.add('flash');
    target.scrollIntoView({ block: 'nearest' });
    target.focus();
    setTimeout(() => target.classList.remove('flash'), 1500);
  };

  const view = {
    el,
    process(p) {
      procList.appendChild(processItem(p));
      status.textContent = `${p.step}: ${p.detail}`;
    },
    token(t) {
      tokens += t.text || '';
      streamText.textContent = tokens;
    },
    finish(a) {
      status.textContent = '';
      mount(answer, renderMarkdown(a.answer ?? a.markdown ?? tokens, { onCite: cite }));
      answer.setAttribute('aria-busy', 'false');
      const evidence = Array.isArray(a.evidence) ? a.evidence : [];
      if (evidence.length) {
        mount(evPanel, h('summary', null, `Evidence (${evidence.length})`), evidence.map((e, i) => evidenceItem(e, i + 1, idPrefix)));
        evPanel.hidden = false;
      }
      if (Array.isArray(a.process_log)) {
        mount(procList, a.process_log.map(processItem));
      }
      procPanel.firstChild.textContent = `Process log (${procList.children.length} steps)`;
      mount(actions, answerActions(a, sessionId));
    },
    fail(message) {
      status.textContent = '';
      answer.setAttribute('aria-busy', 'false');
      mount(answer, h('p', { class: 'notice error', role: 'alert' }, `The answer failed: ${message}`));
    },
  };
  return view;
}

// Icons as inline SVG paths (Material icons, Apache-2.0) rather than emoji, which many
// systems (and headless browsers) cannot draw.
const ICONS = {
  pin: 'M16 9V4h1c.55 0 1-.45 1-1s-.45-1-1-1H7c-.55 0-1 .45-1 1s.45 1 1 1h1v5c0 1.66-1.34 3-3 3v2h5.97v7l1 1 1-1v-7H19v-2c-1.66 0-3-1.34-3-3z',
  up: 'M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z',
};

/** A decorative icon (hidden from screen readers: the button has a text label). */
export function icon(name, flip = false) {
  return s('svg', { class: 'icon', viewBox: '0 0 24 24', 'aria-hidden': 'true', focusable: 'false' },
    s('path', { d: ICONS[name], transform: flip ? 'rotate(180 12 12)' : null }));
}

/** Pin and feedback buttons plus the skills that ran. */
function answerActions(a, sessionId) {
  const out = [];
  const pid = a.prompt_id;
  if (Array.isArray(a.skills) && a.skills.length) {
    out.push(h('span', { class: 'skills', 'aria-label': 'Skills used' }, a.skills.map((s) => h('span', { class: 'tag' }, s))));
  }
  if (!pid || !canWrite()) return out;
  const msg = h('span', { class: 'status', role: 'status' });
  const pin = h('button', {
    type: 'button', class: 'pin', 'aria-pressed': a.pinned ? 'true' : 'false',
    on: {
      click: async () => {
        const sid = a.session_id || sessionId();
        if (!sid) return;
        pin.disabled = true;
        try {
          await post(`/sessions/${encodeURIComponent(sid)}/pins`, { prompt_id: pid, note: '' });
          pin.setAttribute('aria-pressed', 'true');
          pin.lastChild.textContent = 'Pinned';
          msg.textContent = 'Pinned to the session pinboard.';
        } catch (e) {
          pin.disabled = false;
          msg.textContent = `Pin failed: ${e.message}`;
        }
      },
    },
  }, icon('pin'), h('span', null, a.pinned ? 'Pinned' : 'Pin'));
  const feedback = (kind, label, flip) => {
    const b = h('button', {
      type: 'button', class: `fb fb-${kind}`, 'aria-label': label, 'aria-pressed': 'false', title: label,
      on: {
        click: async () => {
          try {
            await post('/feedback', { prompt_id: pid, kind, comment: '' });
            for (const o of b.parentNode.querySelectorAll('.fb')) o.setAttribute('aria-pressed', 'false');
            b.setAttribute('aria-pressed', 'true');
            msg.textContent = 'Thanks for the feedback.';
          } catch (e) {
            msg.textContent = `Feedback failed: ${e.message}`;
          }
        },
      },
    }, icon('up', flip));
    return b;
  };
  out.push(pin, feedback('up', 'Helpful', false), feedback('down', 'Not helpful', true), msg);
  return out;
}

/** A finished turn (from a session, a pin or a promptbook step). */
export function renderTurn(t, opts = {}) {
  const v = turnView(t.prompt, opts);
  v.finish(t);
  if (t.created) v.el.insertBefore(h('p', { class: 'muted small' }, fmtTime(t.created)), v.el.firstChild);
  return v.el;
}
