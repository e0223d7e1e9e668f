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

/**
 * Builds the SVG for `entities` ({devices, users, ips}: arrays of names) around `label`.
 * Each kind shows at most `perKind` nodes (plus a "+N more" node) so every kind stays visible,
 * and kinds sit in neighbouring sectors of the ring so colours cluster.
 */
export function entityGraph(entities, label, perKind = 8) {
  const nodes = [];
  for (const [key, kind] of KINDS) {
    const list = (entities && entities[key]) || [];
    for (const v of list.slice(0, perKind)) {
      nodes.push({ kind, name: typeof v === 'object' && v !== null ? v.name || v.id || JSON.stringify(v) : String(v) });
    }
    if (list.length > perKind) nodes.push({ kind, name: `+${list.length - perKind} more ${key}`, more: true });
  }
  const W = 760;
  const H = 420;
  const cx = W / 2;
  const cy = H / 2;
  const rx = W / 2 - 180; // room for labels left and right
  const ry = H / 2 - 50;
  const svg = s('svg', {
    class: 'entity-graph', viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `Entity graph: ${nodes.length} entities linked to ${label}`,
  });
  const placed = nodes.map((n, i) => {
    const a = (2 * Math.PI * i) / Math.max(1, nodes.length) - Math.PI / 2;
    return { ...n, a, x: cx + rx * Math.cos(a), y: cy + ry * Math.sin(a) };
  });
  for (const n of placed) svg.appendChild(s('line', { class: 'edge', x1: cx, y1: cy, x2: n.x, y2: n.y }));
  svg.appendChild(s('g', null,
    s('title', null, label),
    s('circle', { class: 'node-incident', cx, cy, r: 18 }),
    s('text', { x: cx, y: cy + 34, 'text-anchor': 'middle' }, short(label, 30))));
  for (const n of placed) {
    const c = Math.cos(n.a);
    // Labels go outward: left of nodes on the left, right on the right, above/below near the axis.
    const vertical = Math.abs(c) < 0.1;
    const anchor = vertical ? 'middle' : c < 0 ? 'end' : 'start';
    const tx = vertical ? n.x : n.x + (c < 0 ? -14 : 14);
    const ty = vertical ? n.y + (Math.sin(n.a) < 0 ? -14 : 22) : n.y + 4;
    svg.appendChild(s('g', { class: n.more ? 'more' : null },
      s('title', null, `${n.kind}: ${n.name}`),
      s('circle', { class: `node-${n.kind}`, cx: n.x, cy: n.y, r: n.more ? 6 : 9 }),
      s('text', { x: tx, y: ty, 'text-anchor': anchor }, short(n.name, 20))));
  }
  return svg;
}
