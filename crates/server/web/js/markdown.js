// A small Markdown renderer for answers. Answers quote data from logs (command lines, file
// names, URLs), so this never produces HTML strings: every piece of text goes through
// createTextNode and only a fixed set of elements is created. Links are kept only for
// http(s), mailto, in-page (#) and same-origin (/) targets.
//
// Supported: ATX headings, paragraphs, emphasis/strong/strike, inline code, fenced code
// blocks, pipe tables (with alignment), ordered/unordered (nested) lists, block quotes,
// horizontal rules, links and evidence citations like [2].

import { h } from './dom.js';

// Nesting guard: lists and quotes recurse; hostile input must not blow the stack.
const MAX_DEPTH = 12;
const MAX_INLINE_DEPTH = 8;

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const HR = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}>\s?/;
const LIST = /^( *)([-*+]|\d{1,9}[.)])\s+/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

const SAFE_HREF = /^(https?:\/\/|mailto:|#|\/(?!\/))/i;

const INLINE = new RegExp(
  [
    '(`+)([^`]|[^`][\\s\\S]*?[^`])\\1(?!`)', // 1,2 code span
    '\\\\([\\\\`*_{}\\[\\]()#+\\-.!|>~])', // 3 escape
    '\\[([^\\]\\n]+)\\]\\(([^()\\s]+)\\)', // 4,5 link
    '\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*', // 6 strong
    '(?<![\\w])__(?=\\S)([\\s\\S]*?\\S)__(?![\\w])', // 7 strong (not inside snake_case words)
    '~~(?=\\S)([\\s\\S]*?\\S)~~', // 8 strike
    '\\*(?=[^\\s*])([\\s\\S]*?[^\\s*])\\*', // 9 em
    '(?<![\\w])_(?=[^\\s_])([\\s\\S]*?[^\\s_])_(?![\\w])', // 10 em
    '\\[(\\d{1,3})\\](?!\\()', // 11 citation
  ].join('|'),
  'g',
);

/** Renders inline Markdown of `text` into `parent`. */
function inline(text, parent, opts, depth = 0) {
  if (depth > MAX_INLINE_DEPTH) {
    parent.appendChild(document.createTextNode(text));
    return parent;
  }
  const re = new RegExp(INLINE.source, 'g');
  let last = 0;
  let m;
  while ((m = re.exec(text)) !== null) {
    if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
    last = re.lastIndex;
    if (m[1] !== undefined) {
      parent.appendChild(h('code', null, m[2].replace(/^ (.*) $/, '$1')));
    } else if (m[3] !== undefined) {
      parent.appendChild(document.createTextNode(m[3]));
    } else if (m[4] !== undefined) {
      const href = m[5];
      if (SAFE_HREF.test(href)) {
        const external = /^https?:/i.test(href);
        const a = h('a', { href, target: external ? '_blank' : null, rel: external ? 'noopener noreferrer' : null });
        inline(m[4], a, opts, depth + 1);
        parent.appendChild(a);
      } else {
        // Unsafe scheme (javascript:, data:, ...): show it as text, never as a link.
        parent.appendChild(document.createTextNode(`${m[4]} (${href})`));
      }
    } else if (m[6] !== undefined || m[7] !== undefined) {
      parent.appendChild(inline(m[6] ?? m[7], h('strong'), opts, depth + 1));
    } else if (m[8] !== undefined) {
      parent.appendChild(inline(m[8], h('del'), opts, depth + 1));
    } else if (m[9] !== undefined || m[10] !== undefined) {
      parent.appendChild(inline(m[9] ?? m[10], h('em'), opts, depth + 1));
    } else if (m[11] !== undefined) {
      const n = Number(m[11]);
      if (opts.onCite) {
        parent.appendChild(h('button', {
          type: 'button', class: 'cite', 'aria-label': `Evidence ${n}`,
          on: { click: () => opts.onCite(n) },
        }, `[${n}]`));
      } else {
        parent.appendChild(h('sup', { class: 'cite' }, `[${n}]`));
      }
    }
  }
  if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  return parent;
}

/** Splits a table row on unescaped pipes outside code spans. */
function splitRow(line) {
  let t = line.trim();
  if (t.startsWith('|')) t = t.slice(1);
  if (t.endsWith('|') && !t.endsWith('\\|')) t = t.slice(0, -1);
  const cells = [];
  let cur = '';
  let inCode = false;
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (c === '\\' && t[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (c === '`') {
      inCode = !inCode;
      cur += c;
    } else if (c === '|' && !inCode) {
      cells.push(cur.trim());
      cur = '';
    } else {
      cur += c;
    }
  }
  cells.push(cur.trim());
  return cells;
}

function isBlank(line) {
  return line.trim() === '';
}

// True when a line starts a block other than a paragraph (so a paragraph stops there).
function startsBlock(lines, i) {
  const l = lines[i];
  return FENCE.test(l) || HEADING.test(l) || HR.test(l) || QUOTE.test(l) || LIST.test(l) ||
    (l.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]));
}

function leading(line) {
  return line.length - line.trimStart().length;
}

function renderTable(lines, i, opts) {
  const head = splitRow(lines[i]);
  const aligns = splitRow(lines[i + 1]).map((c) =>
    c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : c.startsWith(':') ? 'left' : null);
  const rows = [];
  let j = i + 2;
  while (j < lines.length && !isBlank(lines[j]) && lines[j].includes('|')) {
    rows.push(splitRow(lines[j]));
    j++;
  }
  const cls = (k) => (aligns[k] ? `al-${aligns[k]}` : null);
  const table = h('table', { class: 'md-table' },
    h('thead', null, h('tr', null, head.map((c, k) => inline(c, h('th', { scope: 'col', class: cls(k) }), opts)))),
    h('tbody', null, rows.map((r) => h('tr', null, head.map((_, k) => inline(r[k] ?? '', h('td', { class: cls(k) }), opts))))));
  return [h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Table' }, table), j];
}

function renderList(lines, i, opts, depth) {
  const first = LIST.exec(lines[i]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const start = ordered ? parseInt(first[2], 10) : 1;
  const list = h(ordered ? 'ol' : 'ul', { start: ordered && start !== 1 ? String(start) : null });
  while (i < lines.length) {
    const m = LIST.exec(lines[i]);
    if (!m || m[1].length !== indent || /\d/.test(m[2]) !== ordered) break;
    const contentIndent = m[0].length;
    const item = [lines[i].slice(contentIndent)];
    i++;
    while (i < lines.length) {
      const l = lines[i];
      if (isBlank(l)) {
        // A blank line continues the item only if more-indented text follows.
        let k = i + 1;
        while (k < lines.length && isBlank(lines[k])) k++;
        if (k < lines.length && leading(lines[k]) > indent) {
          item.push('');
          i++;
          continue;
        }
        break;
      }
      const lead = leading(l);
      if (lead > indent) {
        item.push(l.slice(Math.min(lead, contentIndent)));
        i++;
      } else if (!startsBlock(lines, i)) {
        item.push(l.trim()); // lazy continuation of the item's paragraph
        i++;
      } else {
        break;
      }
    }
    const li = h('li');
    const blocks = renderBlocks(item, opts, depth + 1);
    // Tight items: the first paragraph's content goes straight into the <li>.
    if (blocks.length && blocks[0].tagName === 'P') {
      const p = blocks.shift();
      while (p.firstChild) li.appendChild(p.firstChild);
    }
    for (const b of blocks) li.appendChild(b);
    list.appendChild(li);
    // Items of one list may be separated by blank lines.
    let k = i;
    while (k < lines.length && isBlank(lines[k])) k++;
    if (k < lines.length && k > i) {
      const n = LIST.exec(lines[k]);
      if (n && n[1].length === indent && /\d/.test(n[2]) === ordered) i = k;
    }
  }
  return [list, i];
}

/** Renders a list of lines into block elements. */
function renderBlocks(lines, opts, depth) {
  const out = [];
  if (depth > MAX_DEPTH) {
    out.push(h('p', null, lines.join('\n')));
    return out;
  }
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) {
      i++;
      continue;
    }
    let m;
    if ((m = FENCE.exec(line))) {
      const fence = m[1];
      const lang = m[2];
      const body = [];
      i++;
      while (i < lines.length && !(lines[i].trim().startsWith(fence[0].repeat(fence.length)) && lines[i].trim().replace(/[`~]/g, '') === '')) {
        body.push(lines[i]);
        i++;
      }
      i++; // closing fence (or end of input)
      const code = h('code', { class: lang ? `language-${lang}` : null }, body.join('\n'));
      out.push(h('pre', { class: 'code', tabindex: '0' }, code));
    } else if ((m = HEADING.exec(line))) {
      const level = Math.min(6, m[1].length + (opts.headingOffset ?? 2));
      out.push(inline(m[2], h(`h${level}`), opts));
      i++;
    } else if (HR.test(line)) {
      out.push(h('hr'));
      i++;
    } else if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1])) {
      const [t, next] = renderTable(lines, i, opts);
      out.push(t);
      i = next;
    } else if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && QUOTE.test(lines[i])) {
        body.push(lines[i].replace(QUOTE, ''));
        i++;
      }
      const q = h('blockquote');
      for (const b of renderBlocks(body, opts, depth + 1)) q.appendChild(b);
      out.push(q);
    } else if (LIST.test(line)) {
      const [l, next] = renderList(lines, i, opts, depth);
      out.push(l);
      i = next;
    } else {
      const para = [];
      while (i < lines.length && !isBlank(lines[i]) && (para.length === 0 || !startsBlock(lines, i))) {
        para.push(lines[i].trim());
        i++;
      }
      const p = h('p');
      para.forEach((t, k) => {
        // Two trailing spaces or a backslash in the source mean a hard line break.
        const hard = /( {2,}|\\)$/.test(lines[i - para.length + k]);
        inline(t.replace(/\\$/, ''), p, opts);
        if (k < para.length - 1) p.appendChild(hard ? h('br') : document.createTextNode(' '));
      });
      out.push(p);
    }
  }
  return out;
}

/**
 * Renders Markdown `text` into a new `<div class="md">`.
 * opts.headingOffset: added to heading levels (default 2: `#` becomes h3 inside a page).
 * opts.onCite(n): makes `[n]` citations buttons that call it.
 */
export function renderMarkdown(text, opts = {}) {
  const lines = String(text ?? '').replace(/\r\n?/g, '\n').replace(/\t/g, '    ').split('\n');
  const div = h('div', { class: 'md' });
  for (const b of renderBlocks(lines, opts, 0)) div.appendChild(b);
  return div;
}
