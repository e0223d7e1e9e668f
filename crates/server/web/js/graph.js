// Entity graph for an incident: the incident in the middle, its devices, users and IPs on a
// ring around it. Plain SVG built with createElementNS; labels are text nodes.

import { s } from './dom.js';

const KINDS = [
  ['devices', 'device'],
  ['users', 'user'],
  ['ips', 'ip'],
];

// Shortens long labels so they fit; the full value stays in the node's <title>.
function short(text, n = 22) {
  const t = String(text);
  return t.length > n ? t.slice(0, n - 1) + '…' : t;
}

/** Builds the SVG for `entities` ({devices, users, ips}: arrays of names) around `label`. */
export function entityGraph(entities, label, maxNodes = 24) {
  const nodes = [];
  for (const [key, kind] of KINDS) {
    for (const v of (entities && entities[key]) || []) {
      if (nodes.length >= maxNodes) break;
      nodes.push({ kind, name: typeof v === 'object' ? v.name || v.id || JSON.stringify(v) : String(v) });
    }
  }
  const W = 760;
  const H = 380;
  const cx = W / 2;
  const cy = H / 2;
  const rx = W / 2 - 120;
  const ry = H / 2 - 50;
  const svg = s('svg', {
    class: 'entity-graph', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `Entity graph: ${nodes.length} entities linked to ${label}`,
  });
  const placed = nodes.map((n, i) => {
    const a = (2 * Math.PI * i) / Math.max(1, nodes.length) - Math.PI / 2;
    return { ...n, x: cx + rx * Math.cos(a), y: cy + ry * Math.sin(a) };
  });
  for (const n of placed) svg.appendChild(s('line', { class: 'edge', x1: cx, y1: cy, x2: n.x, y2: n.y }));
  svg.appendChild(s('g', null,
    s('title', null, label),
    s('circle', { class: 'node-incident', cx, cy, r: 18 }),
    s('text', { x: cx, y: cy + 34, 'text-anchor': 'middle' }, short(label, 30))));
  for (const n of placed) {
    const left = n.x < cx - 5;
    svg.appendChild(s('g', null,
      s('title', null, `${n.kind}: ${n.name}`),
      s('circle', { class: `node-${n.kind}`, cx: n.x, cy: n.y, r: 9 }),
      s('text', { x: n.x + (left ? -14 : 14), y: n.y + 4, 'text-anchor': left ? 'end' : 'start' }, short(n.name))));
  }
  return svg;
}
