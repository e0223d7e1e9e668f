// DOM helpers. Everything the app shows is built with createElement/textContent so that text
// coming from logs, prompts or answers can never be interpreted as HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

// Appends children: strings become text nodes, arrays are flattened, null/false are skipped.
function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// Sets attributes; `on` is an object of event handlers, `class` may be a string or array,
// boolean true sets an empty attribute, false/null omits it.
function applyAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k === 'class') {
      el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    } else if (k === 'text') {
      el.textContent = String(v);
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (k === 'checked' || k === 'selected' || k === 'disabled') {
      el[k] = Boolean(v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

/** Creates an HTML element: h('a', {href: '#/x'}, 'text', child, ...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Creates an SVG element (createElementNS, so it renders inside <svg>). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Removes every child of `el`. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

/** A cell value as display text: objects/arrays as compact JSON, null as empty. */
export function cellText(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** A table from column names and row arrays (or row objects keyed by column). */
export function table(columns, rows, opts = {}) {
  const head = h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, c))));
  const body = h('tbody', null, rows.map((r) =>
    h('tr', null, columns.map((c, i) => {
      const v = Array.isArray(r) ? r[i] : r[c];
      return h('td', { class: typeof v === 'number' ? 'num' : null }, cellText(v));
    }))));
  const t = h('table', { class: ['data', opts.class] }, opts.caption ? h('caption', null, opts.caption) : null, head, body);
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': opts.label || opts.caption || 'Table' }, t);
}

/** Short local date-time text for an ISO timestamp (the raw text when it does not parse). */
export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');
}

/** A status line (role=status) for loading and error messages. */
export function notice(text, kind = 'info') {
  return h('p', { class: ['notice', kind], role: kind === 'error' ? 'alert' : 'status' }, text);
}
