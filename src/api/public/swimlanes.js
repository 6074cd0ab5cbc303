// A visual time axis, hand-written SVG: one lane per session (its bar from start to end), its processes
// as dots and its alerts as ticks (red for Block), in one window. Positions are percentages of the
// width, so the chart fills any screen (420 px to desktop) without a resize handler and marks keep their
// size; no library: a few shapes do not justify one.
import { svg } from './dom.js';

const laneHeight = 36;
const axisHeight = 28;

/** The kind of mark a runtime event gets: the same split as the timeline (src/timeline/assemble.ts). */
export function markKind(event) {
  if (event.kind === 'alert') return 'alert';
  return event.operation === 'Process' ? 'process' : undefined;
}

const isBlock = (event) => event.kind === 'alert' && /^block$/i.test(event.action ?? '');

/** Axis label for a time: the clock when the window is under a day, else the date and the minute. */
function tickLabel(ms, spanMs) {
  const iso = new Date(ms).toISOString();
  return spanMs < 86_400_000 ? iso.slice(11, 19) : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/**
 * lanes: [{ id, label, href, start, end (null: still open), denied, marks: [event] }], times as ISO text.
 * Returns a <figure class="swimlanes">; every lane is <g class="lane" data-session=id>, every mark has
 * data-mark (process, alert, denied) and data-event (the runtime event's key).
 */
export function swimlanes({ from, to, lanes, extraLane }) {
  const start = Date.parse(from);
  const span = Math.max(Date.parse(to) - start, 1);
  const pct = (iso) => `${(Math.min(Math.max((Date.parse(iso) - start) / span, 0), 1) * 100).toFixed(3)}%`;
  const all = extraLane && extraLane.marks.length ? [...lanes, extraLane] : lanes;
  const height = all.length * laneHeight + axisHeight;
  const markOf = (event, y) => {
    const title = svg('title', {}, `${event.time} ${event.kind === 'alert' ? `ALERT ${event.action ?? ''} ` : ''}${event.resource || event.processName || event.operation || ''}`);
    if (markKind(event) === 'alert') {
      return svg('line', { class: `mark alert${isBlock(event) ? ' block' : ''}`, 'data-mark': 'alert', 'data-event': event.eventKey, x1: pct(event.time), x2: pct(event.time), y1: y + 13, y2: y + 33 }, title);
    }
    return svg('circle', { class: 'mark process', 'data-mark': 'process', 'data-event': event.eventKey, cx: pct(event.time), cy: y + 23, r: 4 }, title);
  };
  const laneOf = (lane, index) => {
    const y = index * laneHeight;
    const label = svg('text', { class: 'lane-label', x: 0, y: y + 10 }, lane.label);
    const attrs = lane.id ? { class: `lane${lane.denied ? ' denied' : ''}${lane.current ? ' current' : ''}`, 'data-session': lane.id } : { class: 'lane unattributed', 'data-lane': 'none' };
    const body = [];
    if (lane.denied) body.push(svg('circle', { class: 'mark denied', 'data-mark': 'denied', cx: pct(lane.start), cy: y + 23, r: 5 }, svg('title', {}, `${lane.start} denied`)));
    else if (lane.start) {
      const left = pct(lane.start);
      const right = pct(lane.end ?? to);
      const width = `${Math.max(parseFloat(right) - parseFloat(left), 0.4).toFixed(3)}%`;
      body.push(svg('rect', { class: `bar${lane.end ? '' : ' open'}`, x: left, y: y + 17, width, height: 12, rx: 3 }, svg('title', {}, `${lane.start} – ${lane.end ?? 'still open'}`)));
    }
    body.push(...lane.marks.filter((event) => markKind(event)).map((event) => markOf(event, y)));
    return svg('g', attrs, lane.href ? svg('a', { href: lane.href }, label) : label, body);
  };
  const axisY = all.length * laneHeight + 4;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) =>
    svg(
      'g',
      { class: 'tick' },
      svg('line', { x1: `${f * 100}%`, x2: `${f * 100}%`, y1: 0, y2: axisY + 4 }),
      svg('text', { x: `${f * 100}%`, y: axisY + 18, 'text-anchor': f === 0 ? 'start' : f === 1 ? 'end' : 'middle' }, tickLabel(start + f * span, span)),
    ),
  );
  const processes = all.reduce((n, lane) => n + lane.marks.filter((e) => markKind(e) === 'process').length, 0);
  const alerts = all.reduce((n, lane) => n + lane.marks.filter((e) => markKind(e) === 'alert').length, 0);
  return svg(
    'svg',
    { class: 'swimlanes', width: '100%', height, role: 'img', 'aria-label': `${lanes.length} sessions over time: ${processes} processes, ${alerts} alerts` },
    ticks,
    all.map(laneOf),
  );
}
