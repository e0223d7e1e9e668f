// KQL page: an editor with line numbers, Run (button or Ctrl+Enter), diagnostics with
// line:column (click to jump), a results table and a chart when the query ends in `render`.
// `#/kql?q=<query>` pre-fills the editor (evidence panels link here).

import { post, ApiError } from '../api.js';
import { h, mount, notice, table } from '../dom.js';
import { chart } from '../chart.js';

const LAST_KEY = 'bulwark.kql.last';
const EXAMPLE = `SecurityIncident
| summarize Incidents = count() by Severity
| order by Incidents desc
| render columnchart`;

export async function render(main, { query }) {
  const preset = query.get('q');
  const editor = h('textarea', {
    id: 'kql-editor', class: 'code', spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off',
    'aria-describedby': 'kql-help', 'aria-keyshortcuts': 'Control+Enter', wrap: 'off',
  });
  editor.value = preset ?? sessionStorage.getItem(LAST_KEY) ?? EXAMPLE;
  const gutter = h('pre', { class: 'gutter mono', 'aria-hidden': 'true' });
  const diag = h('ul', { class: 'diagnostics', 'aria-live': 'polite' });
  const results = h('section', { id: 'kql-results', 'aria-label': 'Results', 'aria-live': 'polite' });
  const run = h('button', { type: 'button', class: 'primary', id: 'kql-run' }, 'Run');
  const question = h('input', { id: 'kql-question', placeholder: 'e.g. failed sign-ins per user in the last day' });

  // Line numbers follow the text and the textarea's scroll position.
  const renumber = () => {
    const n = editor.value.split('\n').length;
    gutter.textContent = Array.from({ length: n }, (_, i) => i + 1).join('\n');
    gutter.scrollTop = editor.scrollTop;
  };
  editor.addEventListener('input', renumber);

  // Check the query as the user types (debounced) so mistakes show before Run. A failed
  // check is silent: Run reports problems anyway.
  let checkTimer = null;
  let checkSeq = 0;
  editor.addEventListener('input', () => {
    clearTimeout(checkTimer);
    checkTimer = setTimeout(async () => {
      const seq = ++checkSeq;
      try {
        const r = await post('/kql/check', { query: editor.value });
        if (seq === checkSeq) showDiagnostics(r.diagnostics);
      } catch {
        /* keep the current diagnostics */
      }
    }, 700);
  });
  editor.addEventListener('scroll', () => { gutter.scrollTop = editor.scrollTop; });

  // Moves the caret to a 1-based line:column so diagnostics are actionable from the keyboard.
  const jump = (line, column) => {
    const lines = editor.value.split('\n');
    let pos = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i++) pos += lines[i].length + 1;
    pos += Math.max(0, (column || 1) - 1);
    editor.focus();
    editor.setSelectionRange(pos, pos);
  };

  const showDiagnostics = (list) => {
    mount(diag, (list || []).map((d) => h('li', { class: d.severity === 'warning' ? 'warning' : null },
      h('button', { type: 'button', on: { click: () => jump(d.line, d.column) }, 'aria-label': `Go to line ${d.line}, column ${d.column}` }, `${d.line}:${d.column}`),
      ' ', d.severity === 'warning' ? 'warning: ' : '', d.message)));
  };

  const execute = async () => {
    clearTimeout(checkTimer);
    checkSeq++; // a check still in flight must not overwrite Run's diagnostics
    const q = editor.value;
    if (!q.trim()) return;
    sessionStorage.setItem(LAST_KEY, q);
    run.disabled = true;
    showDiagnostics([]);
    mount(results, notice('Running…'));
    try {
      const r = await post('/kql/run', { query: q, max_rows: 1000 });
      const cols = r.columns || [];
      const rows = r.rows || [];
      const svg = chart(cols, rows, r.render);
      mount(results,
        h('p', { class: 'muted small', id: 'kql-meta' },
          `${r.row_count ?? rows.length} row${(r.row_count ?? rows.length) === 1 ? '' : 's'}`,
          r.truncated ? ` (showing ${rows.length})` : '', r.elapsed_ms !== undefined ? ` · ${r.elapsed_ms} ms` : ''),
        svg ? h('div', { class: 'panel' }, svg) : null,
        table(cols.map((c) => c.name), rows, { label: 'Query results', class: 'kql-table' }));
    } catch (e) {
      const diags = e instanceof ApiError && e.body && Array.isArray(e.body.diagnostics) ? e.body.diagnostics : [];
      showDiagnostics(diags);
      mount(results, notice(diags.length ? `The query has ${diags.length} problem${diags.length === 1 ? '' : 's'}.` : `Query failed: ${e.message}`, 'error'));
    } finally {
      run.disabled = false;
    }
  };
  run.addEventListener('click', execute);
  editor.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      execute();
    }
    // Tab is left alone on purpose: it moves focus on, so the editor is no keyboard trap.
  });

  const generate = h('form', {
    class: 'row', on: {
      submit: async (ev) => {
        ev.preventDefault();
        if (!question.value.trim()) return;
        try {
          const g = await post('/kql/generate', { question: question.value.trim() });
          editor.value = g.kql || '';
          renumber();
          showDiagnostics(g.diagnostics);
          editor.focus();
        } catch (e) {
          mount(results, notice(`Could not write a query: ${e.message}`, 'error'));
        }
      },
    },
  }, h('div', { class: 'grow' }, h('label', { for: 'kql-question' }, 'Describe a query in words'), question),
  h('button', { type: 'submit' }, 'Write KQL'));

  mount(main,
    h('h1', null, 'KQL'),
    h('div', { class: 'panel' }, generate),
    h('div', { class: 'panel' },
      h('label', { for: 'kql-editor' }, 'Query'),
      h('div', { class: 'editor' }, gutter, editor),
      h('div', { class: 'toolbar' }, run, h('span', { id: 'kql-help', class: 'muted small' }, 'Ctrl+Enter runs the query · Tab leaves the editor')),
      diag),
    results);
  renumber();
  if (preset) editor.focus();
}
