// Block intervals and difficulty over the last N blocks, drawn as SVG here
// (no chart library): one bar an interval, one line for the difficulty.
import { api, facts, fill, h, svg } from './dom.js';
import * as f from './format.js';

export const name = 'chart';

const CHOICES = [50, 100, 200, 500];
const PAGE = 100; // the most /blocks gives at once
const W = 800;
const H = 220;
const PAD = { left: 70, right: 10, top: 10, bottom: 30 };

// The newest n + 1 blocks (n intervals), oldest first.
async function fetchBlocks(n, signal) {
  const out = [];
  let from = null;
  while (out.length < n + 1) {
    const limit = Math.min(PAGE, n + 1 - out.length);
    const page = await api(`/blocks?limit=${limit}${from === null ? '' : `&from=${from}`}`, signal);
    out.push(...page.blocks);
    if (page.next === null || !page.blocks.length) break;
    from = page.next;
  }
  return out.reverse();
}

// A plot of points [{x, y}] (x ascending) as bars or a line, its y range
// labelled with fmt.
function plot(points, kind, label, fmt) {
  const ys = points.map((p) => p.y);
  let lo = kind === 'bars' ? Math.min(0, ...ys) : Math.min(...ys);
  let hi = Math.max(...ys);
  if (hi === lo) {
    hi += 1;
    lo = kind === 'bars' ? lo : lo - 1;
  }
  const x0 = points[0].x;
  const span = Math.max(1, points[points.length - 1].x - x0);
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const sx = (x) => PAD.left + ((x - x0) / span) * iw;
  const sy = (y) => PAD.top + (1 - (y - lo) / (hi - lo)) * ih;
  const marks = [];
  if (kind === 'bars') {
    const bw = Math.max(1, iw / points.length - 1);
    for (const p of points) {
      const top = Math.min(sy(p.y), sy(0));
      marks.push(svg('rect', {
        class: 'mark', x: sx(p.x) - bw / 2, y: top, width: bw, height: Math.max(1, Math.abs(sy(p.y) - sy(0))),
      }, svg('title', {}, `height ${p.x}: ${fmt(p.y)}`)));
    }
  } else {
    const d = points.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
    marks.push(svg('path', { class: 'line', d }));
    for (const p of points) {
      marks.push(svg('circle', { class: 'mark', cx: sx(p.x), cy: sy(p.y), r: 2 },
        svg('title', {}, `height ${p.x}: ${fmt(p.y)}`)));
    }
  }
  const text = (x, y, anchor, s) => svg('text', { x, y, 'text-anchor': anchor }, s);
  return svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'plot', role: 'img', 'aria-label': label },
    svg('line', { class: 'axis', x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }),
    svg('line', { class: 'axis', x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }),
    text(PAD.left - 6, PAD.top + 10, 'end', fmt(hi)),
    text(PAD.left - 6, H - PAD.bottom, 'end', fmt(lo)),
    text(PAD.left, H - 8, 'start', `height ${f.count(x0)}`),
    text(W - PAD.right, H - 8, 'end', `height ${f.count(x0 + span)}`),
    marks);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function draw(blocks) {
  if (blocks.length < 2) return h('p', { class: 'muted' }, 'The chart needs two blocks at least.');
  const intervals = blocks.slice(1).map((b, i) => ({ x: b.height, y: b.timestamp - blocks[i].timestamp }));
  const diff = blocks.map((b) => ({ x: b.height, y: b.difficulty }));
  const secs = intervals.map((p) => p.y);
  return [
    facts([
      ['Blocks', `${f.count(blocks[0].height)} to ${f.count(blocks[blocks.length - 1].height)}`],
      ['Mean interval', f.duration(secs.reduce((a, b) => a + b, 0) / secs.length)],
      ['Median interval', f.duration(median(secs))],
    ]),
    h('h3', {}, 'Interval between blocks'),
    plot(intervals, 'bars', 'block intervals', f.duration),
    h('h3', {}, 'Difficulty'),
    plot(diff, 'line', 'difficulty', f.difficulty),
  ];
}

export async function render(ctx) {
  const asked = Number.parseInt(ctx.query.get('n') || '100', 10);
  const n = CHOICES.includes(asked) ? asked : 100;
  ctx.title('Chart');
  const body = h('div', { id: 'chart' }, h('p', { class: 'muted' }, 'loading…'));
  fill(ctx.view, h('h1', {}, `The last ${n} blocks`),
    h('nav', { class: 'choices' }, 'Blocks: ', CHOICES.map((c) =>
      h('a', { href: `#/chart?n=${c}`, class: c === n ? 'active' : null }, String(c)))),
    body);
  const refresh = async () => fill(body, draw(await fetchBlocks(n, ctx.signal)));
  ctx.on(['block'], () => refresh().catch(() => {}), 2000);
  await refresh();
}
