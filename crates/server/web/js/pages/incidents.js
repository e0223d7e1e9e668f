// Incidents: the queue (#/incidents, filter by status and severity) and one incident
// (#/incidents/<n>): details, status/owner form, one-click Summary / Impact / Guided response,
// timeline, entity graph and alerts.

import { get, patch, post, qs, streamPrompt } from '../api.js';
import { h, mount, notice, fmtTime, table } from '../dom.js';
import { renderMarkdown } from '../markdown.js';
import { entityGraph } from '../graph.js';
import { canWrite, currentSession, setCurrentSession } from '../state.js';
import { turnView } from '../turn.js';

const STATUSES = ['New', 'Active', 'Closed'];
const SEVERITIES = ['High', 'Medium', 'Low', 'Informational'];
const CLASSIFICATIONS = ['', 'TruePositive', 'BenignPositive', 'FalsePositive', 'Undetermined'];

const count = (v) => (Array.isArray(v) ? v.length : v ?? '');

/** Severity badge; the class comes from a fixed list so data cannot pick arbitrary classes. */
export function sevBadge(sev) {
  const k = String(sev || 'unknown').toLowerCase();
  const cls = ['high', 'medium', 'low', 'informational'].includes(k) ? k : 'unknown';
  return h('span', { class: `sev sev-${cls}` }, sev || 'Unknown');
}

function select(id, label, options, value, empty = '(none)') {
  return h('div', null, h('label', { for: id }, label),
    h('select', { id }, options.map((o) => h('option', { value: o, selected: o === value }, o || empty))));
}

export async function render(main, { id, query }) {
  if (id) return renderIncident(main, id);
  const status = query.get('status') || '';
  const severity = query.get('severity') || '';
  const owner = query.get('owner') || '';
  const list = await get('/incidents' + qs({ status, severity, owner }));
  const filters = h('form', {
    class: 'row panel', 'aria-label': 'Filter incidents', on: {
      submit: (ev) => {
        ev.preventDefault();
        location.hash = '#/incidents' + qs({
          status: document.getElementById('f-status').value,
          severity: document.getElementById('f-severity').value,
          owner: document.getElementById('f-owner').value.trim(),
        });
      },
    },
  },
  select('f-status', 'Status', ['', ...STATUSES], status, 'All'),
  select('f-severity', 'Severity', ['', ...SEVERITIES], severity, 'All'),
  h('div', null, h('label', { for: 'f-owner' }, 'Owner'), h('input', { id: 'f-owner', value: owner, placeholder: 'anyone' })),
  h('button', { type: 'submit' }, 'Filter'),
  h('span', { class: 'muted small' }, `${list.length} incident${list.length === 1 ? '' : 's'}`));
  // Changing a filter applies it at once (the button remains for keyboard users who expect one).
  for (const sel of filters.querySelectorAll('select')) sel.addEventListener('change', () => filters.requestSubmit());

  const rows = list.map((i) => h('tr', null,
    h('td', { class: 'num' }, h('a', { href: `#/incidents/${encodeURIComponent(i.number)}` }, String(i.number))),
    h('td', null, h('a', { href: `#/incidents/${encodeURIComponent(i.number)}` }, i.title || '')),
    h('td', null, sevBadge(i.severity)),
    h('td', null, i.status || ''),
    h('td', null, i.owner || h('span', { class: 'muted' }, 'unassigned')),
    h('td', { class: 'num' }, String(count(i.alerts))),
    h('td', null, fmtTime(i.created))));
  mount(main,
    h('h1', null, 'Incidents'),
    filters,
    list.length
      ? h('div', { class: 'table-wrap panel' }, h('table', { class: 'data', id: 'incident-table' },
        h('thead', null, h('tr', null, ['#', 'Title', 'Severity', 'Status', 'Owner', 'Alerts', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', null, rows)))
      : notice('No incidents match these filters.'));
}

async function renderIncident(main, number) {
  const inc = await get(`/incidents/${encodeURIComponent(number)}`);
  const label = `Incident ${inc.number}`;
  const msg = h('p', { class: 'status', role: 'status' });
  const statusLine = h('p', { class: 'muted' });
  const showStatus = () => mount(statusLine, sevBadge(inc.severity), ` · ${inc.status || ''}`,
    inc.classification ? ` · ${inc.classification}` : '', ` · owner: ${inc.owner || 'unassigned'}`, ` · created ${fmtTime(inc.created)}`);
  showStatus();

  const form = h('form', {
    class: 'row', 'aria-label': 'Update incident', on: {
      submit: async (ev) => {
        ev.preventDefault();
        const body = {
          status: document.getElementById('u-status').value,
          classification: document.getElementById('u-class').value || undefined,
          owner: document.getElementById('u-owner').value.trim(),
        };
        try {
          const updated = await patch(`/incidents/${encodeURIComponent(inc.number)}`, body);
          Object.assign(inc, updated && typeof updated === 'object' ? updated : body);
          showStatus();
          msg.textContent = 'Incident updated.';
        } catch (e) {
          msg.textContent = `Update failed: ${e.message}`;
        }
      },
    },
  },
  select('u-status', 'Status', STATUSES.includes(inc.status) ? STATUSES : [inc.status, ...STATUSES], inc.status),
  select('u-class', 'Classification', CLASSIFICATIONS.includes(inc.classification || '') ? CLASSIFICATIONS : [inc.classification, ...CLASSIFICATIONS], inc.classification || ''),
  h('div', null, h('label', { for: 'u-owner' }, 'Owner'), h('input', { id: 'u-owner', value: inc.owner || '', placeholder: 'analyst@contoso.com' })),
  h('button', { type: 'submit', class: 'primary' }, 'Save'));

  // One-click copilot actions. Summary and guided response have single-call endpoints; impact
  // goes through the prompt stream so it lands in the session like any other prompt.
  const output = h('div', { id: 'incident-ai', 'aria-live': 'polite' });
  const embed = (endpoint, heading) => async () => {
    mount(output, notice(`${heading}: working…`));
    try {
      const r = await post(`/embed/${endpoint}`, { incident: Number(inc.number) });
      mount(output, h('section', { class: 'panel', 'aria-label': heading }, h('h2', null, heading),
        renderMarkdown(r.markdown || ''),
        Array.isArray(r.evidence) && r.evidence.length ? h('p', { class: 'muted small' }, `${r.evidence.length} evidence item(s)`) : null));
    } catch (e) {
      mount(output, notice(`${heading} failed: ${e.message}`, 'error'));
    }
  };
  const impact = async () => {
    const view = turnView(`What is the impact of incident ${inc.number}?`, { sessionId: currentSession });
    mount(output, h('section', { class: 'panel', 'aria-label': 'Impact' }, h('h2', null, 'Impact'), view.el));
    let done = false;
    try {
      await streamPrompt({ prompt: `What is the impact of incident ${inc.number}?`, session_id: currentSession() || undefined }, {
        session: (d) => d.session_id && setCurrentSession(d.session_id),
        process: view.process, token: view.token,
        answer: (a) => { done = true; view.finish(a); },
        error: (e) => { done = true; view.fail(e.message); },
      });
      if (!done) view.fail('the answer stream ended early');
    } catch (e) {
      view.fail(e.message);
    }
  };
  const aiBar = h('div', { class: 'toolbar', role: 'group', 'aria-label': 'Copilot actions' },
    h('button', { type: 'button', class: 'primary', id: 'btn-summary', on: { click: embed('incident-summary', 'Summary') } }, 'Summary'),
    canWrite() ? h('button', { type: 'button', id: 'btn-impact', on: { click: impact } }, 'Impact') : null,
    h('button', { type: 'button', id: 'btn-guided', on: { click: embed('guided-response', 'Guided response') } }, 'Guided response'));

  const timeline = Array.isArray(inc.timeline) ? inc.timeline : [];
  const entities = inc.entities || { devices: inc.devices, users: inc.users, ips: [] };
  const alerts = Array.isArray(inc.alerts) ? inc.alerts : [];
  const alertCols = alertColumns(alerts);
  const entityList = (key, title, dot) => h('div', null, h('h3', null, h('span', { class: `dot ${dot}`, 'aria-hidden': 'true' }), title),
    (entities[key] || []).length ? h('ul', null, entities[key].map((e) => h('li', null, typeof e === 'object' ? JSON.stringify(e) : String(e)))) : h('p', { class: 'muted small' }, 'none'));

  mount(main,
    h('p', { class: 'small' }, h('a', { href: '#/incidents' }, '← Incidents')),
    h('h1', null, `${label}: ${inc.title || ''}`),
    statusLine,
    inc.description ? h('p', { class: 'incident-description' }, inc.description) : null,
    canWrite() ? h('div', { class: 'panel' }, form, msg) : null,
    h('div', { class: 'panel' }, aiBar, output),
    h('div', { class: 'grid-2' },
      h('section', { class: 'panel', 'aria-labelledby': 'h-timeline' }, h('h2', { id: 'h-timeline' }, 'Timeline'),
        timeline.length ? h('ol', { class: 'timeline' }, timeline.map((t) => h('li', null,
          h('time', { datetime: t.time || '' }, fmtTime(t.time)), t.title || '', t.entity ? h('span', { class: 'muted' }, ` — ${t.entity}`) : null)))
          : h('p', { class: 'muted' }, 'No timeline events.')),
      h('section', { class: 'panel', 'aria-labelledby': 'h-entities' }, h('h2', { id: 'h-entities' }, 'Entities'),
        entityGraph(entities, label),
        h('div', { class: 'legend', 'aria-hidden': 'true' },
          h('span', null, h('span', { class: 'dot incident' }), 'incident'), h('span', null, h('span', { class: 'dot device' }), 'device'),
          h('span', null, h('span', { class: 'dot user' }), 'user'), h('span', null, h('span', { class: 'dot ip' }), 'IP')),
        h('div', { class: 'entity-lists' }, entityList('devices', 'Devices', 'device'), entityList('users', 'Users', 'user'), entityList('ips', 'IPs', 'ip')))),
    h('section', { class: 'panel', 'aria-labelledby': 'h-alerts' }, h('h2', { id: 'h-alerts' }, `Alerts (${alerts.length})`),
      alerts.length ? table(alertCols, alerts, { label: 'Alerts' }) : h('p', { class: 'muted' }, 'No alerts.')));
}

// Alerts come as objects whose keys depend on the source table: show the useful ones first.
function alertColumns(alerts) {
  const preferred = ['time', 'TimeGenerated', 'Timestamp', 'title', 'AlertName', 'Title', 'severity', 'AlertSeverity', 'Severity', 'category', 'Category', 'source', 'ProviderName', 'id', 'AlertId'];
  const keys = [];
  for (const a of alerts.slice(0, 20)) for (const k of Object.keys(a || {})) if (!keys.includes(k)) keys.push(k);
  const ordered = preferred.filter((k) => keys.includes(k));
  for (const k of keys) if (ordered.length < 7 && !ordered.includes(k) && alerts.every((a) => a == null || typeof a[k] !== 'object' || a[k] === null)) ordered.push(k);
  return ordered.slice(0, 7);
}
