// A hand-written SVG (no chart library): latency CDF per path, and events applied per second over time.

export interface ChartSeries {
  name: string;
  color: string;
  /** Latencies in ms (any order). */
  latencies: readonly number[];
  /** Events applied per second since the run started. */
  perSecond: readonly number[];
}

const W = 900;
const PANEL_H = 300;
const M = { left: 70, right: 170, top: 40, bottom: 45 };

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(n >= 10_000 ? 0 : 1)} s` : `${Math.round(n)} ms`);

function cdfPanel(series: readonly ChartSeries[], top: number): string {
  const plotW = W - M.left - M.right;
  const plotH = PANEL_H - M.top - M.bottom;
  const all = series.flatMap((s) => s.latencies).filter((v) => v > 0);
  const lo = Math.max(1, Math.min(...all, 10));
  const hi = Math.max(...all, lo * 10);
  const [logLo, logHi] = [Math.log10(lo), Math.log10(hi)];
  const x = (ms: number) => M.left + ((Math.log10(Math.max(ms, lo)) - logLo) / (logHi - logLo)) * plotW;
  const y = (q: number) => top + M.top + (1 - q) * plotH;
  const parts: string[] = [`<text x="${M.left}" y="${top + 22}" class="title">End-to-end latency, commit → effect (CDF, log scale)</text>`];
  for (let decade = Math.ceil(logLo); decade <= Math.floor(logHi); decade++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** decade;
      if (v < lo || v > hi) continue;
      parts.push(`<line x1="${x(v).toFixed(1)}" y1="${y(0)}" x2="${x(v).toFixed(1)}" y2="${y(1)}" class="grid"/><text x="${x(v).toFixed(1)}" y="${y(0) + 16}" class="tick" text-anchor="middle">${fmt(v)}</text>`);
    }
  }
  for (const q of [0, 0.5, 0.95, 0.99, 1]) {
    parts.push(`<line x1="${M.left}" y1="${y(q).toFixed(1)}" x2="${M.left + plotW}" y2="${y(q).toFixed(1)}" class="grid"/><text x="${M.left - 6}" y="${(y(q) + 4).toFixed(1)}" class="tick" text-anchor="end">p${Math.round(q * 100)}</text>`);
  }
  series.forEach((s, i) => {
    const sorted = [...s.latencies].sort((a, b) => a - b);
    if (sorted.length === 0) return;
    const step = Math.max(1, Math.floor(sorted.length / 400));
    const points: string[] = [];
    for (let k = 0; k < sorted.length; k += step) points.push(`${x(sorted[k]!).toFixed(1)},${y((k + 1) / sorted.length).toFixed(1)}`);
    points.push(`${x(sorted[sorted.length - 1]!).toFixed(1)},${y(1).toFixed(1)}`);
    parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    parts.push(`<line x1="${W - M.right + 15}" y1="${top + M.top + 10 + i * 20}" x2="${W - M.right + 35}" y2="${top + M.top + 10 + i * 20}" stroke="${s.color}" stroke-width="3"/><text x="${W - M.right + 40}" y="${top + M.top + 14 + i * 20}" class="legend">${esc(s.name)}</text>`);
  });
  return parts.join('\n');
}

function throughputPanel(series: readonly ChartSeries[], top: number): string {
  const plotW = W - M.left - M.right;
  const plotH = PANEL_H - M.top - M.bottom;
  const seconds = Math.max(1, ...series.map((s) => s.perSecond.length));
  const peak = Math.max(1, ...series.flatMap((s) => s.perSecond));
  const x = (t: number) => M.left + (t / seconds) * plotW;
  const y = (v: number) => top + M.top + (1 - v / peak) * plotH;
  const parts: string[] = [`<text x="${M.left}" y="${top + 22}" class="title">Throughput: events applied per second, over the run</text>`];
  const tickEvery = Math.max(10, Math.ceil(seconds / 10 / 10) * 10);
  for (let t = 0; t <= seconds; t += tickEvery) parts.push(`<line x1="${x(t).toFixed(1)}" y1="${y(0)}" x2="${x(t).toFixed(1)}" y2="${y(peak)}" class="grid"/><text x="${x(t).toFixed(1)}" y="${y(0) + 16}" class="tick" text-anchor="middle">${t} s</text>`);
  for (const v of [0, peak / 2, peak]) parts.push(`<line x1="${M.left}" y1="${y(v).toFixed(1)}" x2="${M.left + plotW}" y2="${y(v).toFixed(1)}" class="grid"/><text x="${M.left - 6}" y="${(y(v) + 4).toFixed(1)}" class="tick" text-anchor="end">${Math.round(v)}/s</text>`);
  series.forEach((s, i) => {
    const points = s.perSecond.map((v, t) => `${x(t + 0.5).toFixed(1)},${y(v).toFixed(1)}`);
    if (points.length) parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="1.5" opacity="0.85"/>`);
    parts.push(`<line x1="${W - M.right + 15}" y1="${top + M.top + 10 + i * 20}" x2="${W - M.right + 35}" y2="${top + M.top + 10 + i * 20}" stroke="${s.color}" stroke-width="3"/><text x="${W - M.right + 40}" y="${top + M.top + 14 + i * 20}" class="legend">${esc(s.name)}</text>`);
  });
  return parts.join('\n');
}

export function renderChart(series: readonly ChartSeries[], caption: string): string {
  const H = PANEL_H * 2 + 30;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif">
<style>.title{font-size:15px;font-weight:600}.tick{font-size:11px;fill:#555}.legend{font-size:12px}.grid{stroke:#e3e3e3;stroke-width:1}.caption{font-size:11px;fill:#777}</style>
<rect width="100%" height="100%" fill="#fff"/>
${cdfPanel(series, 0)}
${throughputPanel(series, PANEL_H)}
<text x="${M.left}" y="${H - 8}" class="caption">${esc(caption)}</text>
</svg>
`;
}
