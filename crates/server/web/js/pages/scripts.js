// Scripts page: paste a script, get its deobfuscation layers, indicators, behaviours, verdict
// and where its indicators were seen in this environment.

import { post } from '../api.js';
import { h, mount, notice, table } from '../dom.js';
import { kqlLink } from '../turn.js';

const LANGUAGES = ['', 'powershell', 'bash', 'javascript', 'vbscript', 'batch', 'python'];

function verdictView(v, family) {
  const level = String((v && v.level) || 'unknown').toLowerCase();
  const cls = ['malicious', 'suspicious', 'benign'].includes(level) ? level : 'unknown';
  return h('div', null,
    h('p', { class: `verdict verdict-${cls}`, id: 'script-verdict' }, `Verdict: ${level}`, v && v.score !== undefined ? ` (${v.score}/100)` : '', family ? ` · ${family}` : ''),
    v && Array.isArray(v.reasons) && v.reasons.length ? h('ul', null, v.reasons.map((r) => h('li', null, r))) : null);
}

function layerView(l) {
  return h('details', { class: 'layer' },
    h('summary', null, `Layer ${l.depth}: ${l.technique}`, l.language ? ` (${l.language})` : '', l.truncated ? ' — cut' : ''),
    h('pre', { class: 'code', tabindex: '0' }, h('code', null, l.text || '')));
}

// Links come as a list (with `links_not_seen` beside it) or as the linker's whole object.
function linksView(links, notSeenList) {
  const hits = Array.isArray(links) ? links : (links && links.links) || [];
  const notSeen = notSeenList || (links && !Array.isArray(links) && links.not_seen) || [];
  return h('section', { class: 'panel', 'aria-labelledby': 'h-links' },
    h('h2', { id: 'h-links' }, 'Seen in this environment'),
    hits.length
      ? hits.map((l) => h('div', { class: 'evidence-item' },
        h('div', { class: 'evidence-head' }, h('strong', null, l.indicator), h('span', { class: 'tag' }, l.kind), h('span', null, `${l.rows} row(s) in ${l.table}`),
          l.first_seen ? h('span', { class: 'muted small' }, `${l.first_seen} → ${l.last_seen || ''}`) : null),
        (l.devices || []).length ? h('p', { class: 'small' }, 'Devices: ', l.devices.join(', ')) : null,
        (l.accounts || []).length ? h('p', { class: 'small' }, 'Accounts: ', l.accounts.join(', ')) : null,
        h('div', { class: 'toolbar' }, kqlLink(l.sample_query || l.query))))
      : h('p', { class: 'muted' }, 'None of the indicators appear in the data.'),
    notSeen.length ? h('p', { class: 'muted small' }, `Not seen: ${notSeen.map((n) => n.indicator).join(', ')}`) : null);
}

export async function render(main) {
  const text = h('textarea', { id: 'script-input', class: 'code', rows: '10', spellcheck: 'false', placeholder: 'Paste a PowerShell, Bash, JavaScript… script. It is analysed, never run.' });
  const lang = h('select', { id: 'script-lang' }, LANGUAGES.map((l) => h('option', { value: l }, l || 'detect')));
  const out = h('div', { id: 'script-result', 'aria-live': 'polite' });
  const btn = h('button', { type: 'submit', class: 'primary' }, 'Analyze');
  const form = h('form', {
    on: {
      submit: async (ev) => {
        ev.preventDefault();
        if (!text.value.trim()) return;
        btn.disabled = true;
        mount(out, notice('Analyzing…'));
        try {
          const a = await post('/scripts/analyze', { script: text.value, language: lang.value || undefined });
          mount(out, analysisView(a));
        } catch (e) {
          mount(out, notice(`Analysis failed: ${e.message}`, 'error'));
        } finally {
          btn.disabled = false;
        }
      },
    },
  },
  h('label', { for: 'script-input' }, 'Script'), text,
  h('div', { class: 'toolbar' }, h('label', { for: 'script-lang', class: 'visually-hidden' }, 'Language'), lang, btn));
  mount(main, h('h1', null, 'Script analysis'), h('div', { class: 'panel' }, form), out);
}

function analysisView(a) {
  const layers = [...(a.layers || []), ...(a.payloads || []).flatMap((p) => p.layers || [])];
  const iocs = a.iocs || [];
  const behaviours = a.behaviours || [];
  return h('div', null,
    h('section', { class: 'panel' }, verdictView(a.verdict, a.family),
      Array.isArray(a.explanation) && a.explanation.length ? h('ol', null, a.explanation.map((e) => h('li', null, e))) : null,
      (a.limits_hit || []).length ? h('p', { class: 'muted small' }, 'Limits: ', a.limits_hit.join('; ')) : null),
    h('section', { class: 'panel', 'aria-labelledby': 'h-iocs' }, h('h2', { id: 'h-iocs' }, `Indicators (${iocs.length})`),
      iocs.length ? table(['Kind', 'Value', 'Written as', 'Layer', 'Line'],
        iocs.map((i) => [i.kind, i.value, i.defanged_from || '', i.layer, i.line]), { label: 'Indicators' }) : h('p', { class: 'muted' }, 'None.')),
    behaviours.length ? h('section', { class: 'panel', 'aria-labelledby': 'h-beh' }, h('h2', { id: 'h-beh' }, `Behaviours (${behaviours.length})`),
      table(['Behaviour', 'ATT&CK', 'Tactic', 'Evidence'],
        behaviours.map((b) => [b.name, b.attack_technique, b.tactic, b.evidence_line]), { label: 'Behaviours' })) : null,
    a.links ? linksView(a.links, a.links_not_seen) : null,
    h('section', { class: 'panel', 'aria-labelledby': 'h-layers' }, h('h2', { id: 'h-layers' }, `Layers (${layers.length})`), layers.map(layerView),
      a.final_script ? h('details', { open: true }, h('summary', null, 'Final script'), h('pre', { class: 'code', tabindex: '0' }, h('code', null, a.final_script))) : null));
}
