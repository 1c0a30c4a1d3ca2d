// Live charts of the node's own figures (equa_getFigures: one sample a second for the last five
// minutes, oldest first), drawn as plain SVG so that the page needs nothing from the network but
// its node. Loaded before app.js, which places them on the network page.
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';
/// How often the charts ask the node for its figures while they are shown.
const FIGURES_REFRESH_MS = 2000;
/// The block rate is averaged over this many seconds: one second's count is mostly 0 or 1.
const BLOCK_RATE_WINDOW_SECS = 10;
/// The time axis always spans the node's five minutes, so a young node's short history shows as such.
const FIGURES_SPAN_MS = 5 * 60 * 1000;
const CHART_HEIGHT_PX = 170;

function svg(tag, attributes, ...kids) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, String(value));
  for (const kid of kids) node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  return node;
}

/// Blocks per second at each sample: the blocks finalized in the trailing window, divided by its length.
function blockRates(samples) {
  const windowMs = BLOCK_RATE_WINDOW_SECS * 1000;
  let start = 0;
  let sum = 0;
  return samples.map((sample, index) => {
    sum += sample.blocks;
    while (samples[start].at_ms <= sample.at_ms - windowMs) sum -= samples[start++].blocks;
    return { at_ms: sample.at_ms, value: sum / BLOCK_RATE_WINDOW_SECS };
  });
}

const FIGURE_CHARTS = [
  {
    key: 'block-rate', title: 'Block rate', unit: 'blocks/s', axis: 'blocks per second', least: 1,
    about: `blocks finalized per second, averaged over ${BLOCK_RATE_WINDOW_SECS} seconds`,
    points: blockRates,
  },
  {
    key: 'finality', title: 'Finality latency', unit: 'ms', axis: 'milliseconds', least: 100,
    about: 'slowest time from a block\'s proposal to its finalization, each second',
    // A second in which no block was finalized has no latency: the line joins the seconds that do.
    points: samples => samples.filter(s => s.finality_ms !== null && s.finality_ms !== undefined)
      .map(s => ({ at_ms: s.at_ms, value: s.finality_ms })),
  },
  {
    key: 'mempool', title: 'Mempool size', unit: 'transactions', axis: 'transactions waiting', least: 10, whole: true,
    about: 'transactions waiting to be included in a block',
    points: samples => samples.map(s => ({ at_ms: s.at_ms, value: s.mempool_size })),
  },
  {
    key: 'peers', title: 'Peers', unit: 'peers', axis: 'connected peers', least: 4, step: true, whole: true,
    about: 'peers this node is connected to',
    points: samples => samples.map(s => ({ at_ms: s.at_ms, value: s.peers })),
  },
];

/// The smallest of 1, 2, 5 × 10^k that is at least `value` (and at least `least`).
function niceCeiling(value, least) {
  const target = Math.max(value, least);
  const power = Math.pow(10, Math.floor(Math.log10(target)));
  for (const step of [1, 2, 5, 10]) if (step * power >= target) return step * power;
  return 10 * power;
}

function figure(value) {
  if (value === null || value === undefined) return '–';
  if (Number.isInteger(value)) return String(value);
  return value < 10 ? value.toFixed(2).replace(/\.?0+$/, '') : value.toFixed(0);
}

/// Draws one chart's points into `plot`, sized to the width it is shown at.
function drawChart(plot, chart, points, nowMs) {
  const width = Math.max(plot.clientWidth || 320, 200);
  const height = CHART_HEIGHT_PX;
  const left = 52, right = 10, top = 10, bottom = 38;
  const innerWidth = width - left - right, innerHeight = height - top - bottom;
  const highest = niceCeiling(Math.max(0, ...points.map(p => p.value)), chart.least);
  const x = at => left + innerWidth * (1 - Math.min(Math.max((nowMs - at) / FIGURES_SPAN_MS, 0), 1));
  const y = value => top + innerHeight * (1 - value / highest);
  const kids = [];
  // Counts (mempool, peers) are whole numbers: a tick halfway between two would read oddly.
  for (const value of [0, highest / 2, highest].filter(v => !chart.whole || Number.isInteger(v))) {
    kids.push(svg('line', { class: 'gridline', x1: left, x2: width - right, y1: y(value), y2: y(value) }));
    kids.push(svg('text', { class: 'tick', x: left - 6, y: y(value) + 4, 'text-anchor': 'end' }, figure(value)));
  }
  // A phone-sized chart labels every other minute, so that the labels do not run together.
  const labelEvery = innerWidth < 360 ? 2 : 1;
  for (let minutes = 0; minutes <= 5; minutes++) {
    const px = x(nowMs - minutes * 60000);
    kids.push(svg('line', { class: 'gridline', x1: px, x2: px, y1: top + innerHeight, y2: top + innerHeight + 4 }));
    if (minutes % labelEvery === 0) {
      const anchor = minutes === 0 ? 'end' : minutes === 5 ? 'start' : 'middle';
      kids.push(svg('text', { class: 'tick', x: px, y: top + innerHeight + 16, 'text-anchor': anchor },
        minutes === 0 ? 'now' : `${minutes} min`));
    }
  }
  kids.push(svg('text', { class: 'axis-title', x: left + innerWidth / 2, y: height - 4, 'text-anchor': 'middle' },
    'time, minutes ago'));
  kids.push(svg('text', {
    class: 'axis-title', x: 0, y: 0, 'text-anchor': 'middle',
    transform: `translate(12 ${top + innerHeight / 2}) rotate(-90)`,
  }, chart.axis));
  const d = points.map((point, index) => {
    const px = x(point.at_ms).toFixed(1), py = y(point.value).toFixed(1);
    if (index === 0) return `M${px} ${py}`;
    return chart.step ? `H${px}V${py}` : `L${px} ${py}`;
  }).join('');
  const line = svg('path', { class: 'series', d, 'data-points': points.length });
  kids.push(svg('line', { class: 'axis', x1: left, x2: width - right, y1: top + innerHeight, y2: top + innerHeight }));
  kids.push(line);
  plot.replaceChildren(svg('svg', {
    width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `${chart.title}: ${chart.about}, over the last five minutes`,
  }, ...kids));
}

/// The network page's charts: a section that refreshes itself every two seconds until `stop`.
function figureCharts() {
  const note = el('p', { class: 'muted', id: 'figures-note' }, 'Loading figures…');
  const cards = FIGURE_CHARTS.map(chart => {
    const value = el('strong', { 'data-value': true }, '–');
    const plot = el('div', { class: 'plot' });
    const card = el('section', { class: 'card chart', 'data-chart': chart.key, 'aria-label': chart.title },
      el('div', { class: 'chart-head' }, el('h3', {}, chart.title),
        el('span', { class: 'chart-value' }, value, ` ${chart.unit}`)),
      el('p', { class: 'muted about' }, chart.about), plot);
    return { chart, card, value, plot };
  });
  const root = el('section', { class: 'figures', 'aria-label': 'The node\'s figures' },
    el('h2', {}, 'This node, live'), note, el('div', { class: 'charts' }, cards.map(c => c.card)));
  let figures = null;
  let stopped = false;
  let timer = null;

  function render() {
    const samples = figures ? figures.samples : [];
    if (samples.length === 0) {
      note.textContent = 'No figures yet: this node has not measured anything so far.';
      for (const c of cards) {
        c.value.textContent = '–';
        c.plot.replaceChildren(el('p', { class: 'muted empty' }, 'no figures yet'));
      }
      return;
    }
    note.textContent = `One sample a second, refreshed every ${FIGURES_REFRESH_MS / 1000} seconds.`;
    const nowMs = samples[samples.length - 1].at_ms;
    for (const c of cards) {
      const points = c.chart.points(samples);
      c.value.textContent = points.length ? figure(points[points.length - 1].value) : '–';
      if (points.length === 0) c.plot.replaceChildren(el('p', { class: 'muted empty' }, 'no figures yet'));
      else drawChart(c.plot, c.chart, points, nowMs);
    }
  }

  async function refresh() {
    timer = null;
    // A hidden tab has no one to show the charts to; the next visible tick catches up.
    if (!document.hidden) {
      try {
        figures = await q('equa_getFigures');
        render();
      } catch (error) {
        // The charts keep their last figures; a node without them is not an error of the page.
        if (!figures) render();
        note.textContent = `Figures are not available now (${error.message}).`;
      }
    }
    if (!stopped) timer = setTimeout(refresh, FIGURES_REFRESH_MS);
  }

  const redraw = () => { if (figures) render(); };
  window.addEventListener('resize', redraw);
  refresh();
  return {
    root,
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      window.removeEventListener('resize', redraw);
    },
  };
}
