// Bar and line charts in plain SVG for KQL results with a `render` operator.
// timechart/linechart/areachart/scatterchart → line; columnchart/barchart/piechart → bars
// (a pie is shown as bars: same numbers, easier to read and to label).

import { s } from './dom.js';

const LINE_KINDS = ['timechart', 'linechart', 'areachart', 'scatterchart', 'anomalychart'];
const NUMERIC = ['int', 'long', 'real', 'double', 'decimal', 'float', 'int64', 'int32'];
const MAX_SERIES = 3;
const MAX_POINTS = 500;

function isNumericType(t) {
  return NUMERIC.includes(String(t || '').toLowerCase());
}

function fmtNum(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
  if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(2)));
}

// A 1/2/5 × 10^k step giving about four grid intervals (whole numbers for counts).
function niceStep(span, integers) {
  const raw = span / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  return integers ? Math.max(1, Math.round(step)) : step;
}

function shortLabel(v) {
  const t = v === null || v === undefined ? '' : String(v);
  // ISO timestamps: keep date and hh:mm.
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})/.exec(t);
  if (m) return m[2] === '00:00' ? m[1] : `${m[1].slice(5)} ${m[2]}`;
  return t.length > 14 ? t.slice(0, 13) + '…' : t;
}

/** Returns the render kind as 'bar' | 'line' | null (not chartable). */
export function chartKind(render) {
  // The server sends {chart, properties}; a bare string is accepted too.
  const kind = String((render && typeof render === 'object' ? render.chart || render.kind : render) || '').toLowerCase();
  if (!kind || kind === 'table' || kind === 'card') return null;
  return LINE_KINDS.includes(kind) ? 'line' : 'bar';
}

/**
 * Builds an SVG chart from KQL result columns/rows. x = the first non-numeric column (or the row
 * index), y = up to three numeric columns. Returns null when there is nothing to plot.
 */
export function chart(columns, rows, render) {
  const kind = chartKind(render);
  if (!kind || !rows.length) return null;
  let xi = columns.findIndex((c) => !isNumericType(c.type));
  const ys = columns.map((c, i) => i).filter((i) => i !== xi && isNumericType(columns[i].type)).slice(0, MAX_SERIES);
  if (!ys.length) return null;
  const data = rows.slice(0, MAX_POINTS);
  const xs = data.map((r, i) => (xi >= 0 ? r[xi] : i + 1));
  const vals = ys.map((y) => data.map((r) => Number(r[y]) || 0));
  const all = vals.flat();
  const integers = all.every(Number.isInteger);
  const step0 = niceStep(Math.max(0, ...all) - Math.min(0, ...all) || 1, integers);
  // Round the axis out to whole steps so grid lines fall on readable values.
  const max = Math.ceil(Math.max(0, ...all) / step0) * step0 || step0;
  const min = Math.floor(Math.min(0, ...all) / step0) * step0;
  const span = max - min || 1;

  const W = 800;
  const H = 300;
  const L = 56;
  const R = 16;
  const T = 28;
  const B = 48;
  const pw = W - L - R;
  const ph = H - T - B;
  const yPos = (v) => T + ph - ((v - min) / span) * ph;
  const title = `${kind === 'line' ? 'Line' : 'Bar'} chart of ${ys.map((y) => columns[y].name).join(', ')} by ${xi >= 0 ? columns[xi].name : 'row'}`;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title });
  svg.appendChild(s('title', null, title));

  // Horizontal grid lines with value labels.
  for (let v = min; v <= max + step0 / 2; v += step0) {
    const y = yPos(v);
    svg.appendChild(s('line', { class: 'grid', x1: L, x2: W - R, y1: y, y2: y }));
    svg.appendChild(s('text', { x: L - 6, y: y + 4, 'text-anchor': 'end' }, fmtNum(v)));
  }
  svg.appendChild(s('line', { class: 'axis', x1: L, x2: W - R, y1: yPos(0), y2: yPos(0) }));
  svg.appendChild(s('line', { class: 'axis', x1: L, x2: L, y1: T, y2: T + ph }));

  const n = data.length;
  const step = pw / n;
  // Label at most ~10 x positions so text does not overlap.
  const every = Math.max(1, Math.ceil(n / 10));
  for (let i = 0; i < n; i += every) {
    svg.appendChild(s('text', { x: L + step * (i + 0.5), y: H - B + 16, 'text-anchor': 'middle' }, shortLabel(xs[i])));
  }

  if (kind === 'bar') {
    const bw = Math.max(1, (step * 0.8) / ys.length);
    vals.forEach((series, si) => {
      series.forEach((v, i) => {
        const x = L + step * i + step * 0.1 + bw * si;
        const y0 = yPos(0);
        const y1 = yPos(v);
        svg.appendChild(s('rect', { class: `s${si}`, x, y: Math.min(y0, y1), width: bw, height: Math.max(0.5, Math.abs(y0 - y1)) },
          s('title', null, `${shortLabel(xs[i])}: ${columns[ys[si]].name} = ${v}`)));
      });
    });
  } else {
    vals.forEach((series, si) => {
      const pts = series.map((v, i) => `${(L + step * (i + 0.5)).toFixed(1)},${yPos(v).toFixed(1)}`).join(' ');
      svg.appendChild(s('polyline', { class: `s${si}`, points: pts }));
      if (n <= 60) {
        series.forEach((v, i) => svg.appendChild(s('circle', { class: `s${si}`, cx: L + step * (i + 0.5), cy: yPos(v), r: 3 },
          s('title', null, `${shortLabel(xs[i])}: ${columns[ys[si]].name} = ${v}`))));
      }
    });
  }
  // Legend.
  ys.forEach((y, si) => {
    const x = L + si * 160;
    svg.appendChild(s('rect', { class: `s${si}`, x, y: 8, width: 12, height: 12 }));
    svg.appendChild(s('text', { class: 'legend-text', x: x + 16, y: 18 }, columns[y].name));
  });
  return svg;
}
