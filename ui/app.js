// profgate's page. It reads profgate's own routes only: the merged profile as CodeGuru JSON
// (/_profgate/profile/{group}?...&format=json), the diff of two ranges (/_profgate/diff/{group}),
// and the group list (ListProfilingGroups, the AWS route, when profgate may call it). The flame
// graph is d3-flame-graph; everything else is plain DOM. State lives in the URL's hash, so a view
// can be linked: #group=g&period=PT24H[&counter=C], #group=g&start=S&end=E, or #group=g&base=S/E&head=S/E.
'use strict';

const $ = (id) => document.getElementById(id);
// Counts as integers with separators, rates with four significant digits (never exponents).
const fmt = (v) => (Math.abs(v) >= 1000 || Number.isInteger(v) ? d3.format(',.0f')(v) : d3.format(',.4~r')(v));
const pct = d3.format('.2~%');

const state = { group: '', range: null, counter: '', counters: [], chart: null, diff: null };

// ------------------------------------------------------------------ talking to profgate

// GET url; the body as JSON plus the headers. An error answer (AWS's wire format) throws its message.
async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: 'application/json' } });
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!r.ok) {
    const why = body && (body.message || body.Message);
    throw new Error(`${r.status} ${r.headers.get('x-amzn-ErrorType') || ''}: ${why || text.slice(0, 200)}`);
  }
  return { body, headers: r.headers };
}

async function loadGroups() {
  try {
    const names = [];
    let token = '';
    for (let page = 0; page < 20; page++) { // at most 2,000 names in the list; others can be typed
      const q = token ? `&nextToken=${encodeURIComponent(token)}` : '';
      const { body } = await getJSON(`/profilingGroups?maxResults=100${q}`);
      names.push(...(body.profilingGroupNames || []));
      token = body.nextToken;
      if (!token) break;
    }
    const list = $('groups');
    list.replaceChildren(...names.map((n) => Object.assign(document.createElement('option'), { value: n })));
    if (!$('group').value && names.length === 1) $('group').value = names[0];
  } catch (e) {
    // With tenants the page cannot sign ListProfilingGroups: the group is typed instead.
  }
}

// ------------------------------------------------------------------ ranges and the URL

// A datetime-local value (taken as UTC) -> ISO 8601, and back.
const toISO = (v) => (v.length === 16 ? `${v}:00Z` : `${v}Z`);
const fromISO = (s) => s.replace(/Z$/, '').slice(0, 16);

function rangeQuery(r) {
  return r.period ? `period=${r.period}` : `startTime=${encodeURIComponent(r.start)}&endTime=${encodeURIComponent(r.end)}`;
}

function writeHash(extra) {
  const p = new URLSearchParams({ group: state.group, ...extra });
  if (state.counter) p.set('counter', state.counter);
  history.replaceState(null, '', `#${p.toString()}`);
}

function profileURL(format) {
  const c = state.counter && format !== 'json' ? `&counter=${encodeURIComponent(state.counter)}` : '';
  return `/_profgate/profile/${encodeURIComponent(state.group)}?${rangeQuery(state.range)}&format=${format}${c}`;
}

function setStatus(text, isError) {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', !!isError);
}

// ------------------------------------------------------------------ the profile as a tree

// CodeGuru's callgraph -> d3-flame-graph's nodes: value is the self count of the chosen counter
// (selfValue mode: the library sums subtrees), counts and totals keep every counter for the tooltip.
function toTree(callgraph, counter) {
  const root = { name: 'all', value: 0, counts: {}, totals: {}, children: [] };
  const stack = [[callgraph, root]];
  const order = [];
  while (stack.length) {
    const [src, dst] = stack.pop();
    dst.counts = src.counts || {};
    dst.value = dst.counts[counter] || 0;
    order.push(dst);
    for (const [name, child] of Object.entries(src.children || {})) {
      const node = { name, value: 0, counts: {}, totals: {}, children: [] };
      dst.children.push(node);
      stack.push([child, node]);
    }
  }
  for (let i = order.length - 1; i >= 0; i--) { // children before parents
    const n = order[i];
    for (const [c, v] of Object.entries(n.counts)) n.totals[c] = (n.totals[c] || 0) + v;
    for (const ch of n.children)
      for (const [c, v] of Object.entries(ch.totals)) n.totals[c] = (n.totals[c] || 0) + v;
  }
  return root;
}

function countersOf(root) {
  return Object.entries(root.totals).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([c]) => c);
}

// Per function: self (its nodes' self counts) and total (counted once per path, so recursion
// does not count twice), for the chosen counter.
function topFunctions(root, counter) {
  const self = new Map();
  const total = new Map();
  const onPath = new Map();
  const walk = (n) => { // depth-first with an explicit stack of enter/leave steps
    const todo = [[n, true]];
    while (todo.length) {
      const [node, enter] = todo.pop();
      if (node === root) {
        if (enter) for (const c of node.children) todo.push([c, true]);
        continue;
      }
      const name = node.name;
      if (enter) {
        self.set(name, (self.get(name) || 0) + (node.counts[counter] || 0));
        const depth = onPath.get(name) || 0;
        if (depth === 0) total.set(name, (total.get(name) || 0) + (node.totals[counter] || 0));
        onPath.set(name, depth + 1);
        todo.push([node, false]);
        for (const c of node.children) todo.push([c, true]);
      } else {
        onPath.set(name, onPath.get(name) - 1);
      }
    }
  };
  walk(root);
  return [...self.entries()].map(([name, s]) => ({ name, self: s, total: total.get(name) || 0 }))
    .sort((a, b) => b.self - a.self || b.total - a.total).slice(0, 30);
}

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function renderTop(root, counter) {
  const all = root.totals[counter] || 0;
  const rows = topFunctions(root, counter).map((f) => {
    const tr = document.createElement('tr');
    tr.append(cell(f.name, 'name'), cell(fmt(f.self)), cell(all ? pct(f.self / all) : '-'),
      cell(fmt(f.total)), cell(all ? pct(f.total / all) : '-'));
    tr.addEventListener('click', () => { $('search').value = f.name; search(); });
    return tr;
  });
  $('top-table').tBodies[0].replaceChildren(...rows);
}

// ------------------------------------------------------------------ the flame graph

const escapeHTML = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function tooltipHTML(d) {
  const n = d.data;
  if (state.diff) {
    return `<b>${escapeHTML(n.name)}</b><br>head ${fmt(d.value)}/s (self ${fmt(n.value)}/s)` +
      `<br>change ${d.delta >= 0 ? '+' : ''}${fmt(d.delta || 0)}/s`;
  }
  const rows = state.counters.map((c) => `<tr${c === state.counter ? ' class="on"' : ''}><td>${escapeHTML(c)}</td>` +
    `<td>${fmt(n.counts[c] || 0)}</td><td>${fmt(n.totals[c] || 0)}</td></tr>`).join('');
  return `<b>${escapeHTML(n.name)}</b><table><tr><th></th><th>self</th><th>total</th></tr>${rows}</table>`;
}

// Search by substring, not the library's regular expressions: any frame name can be typed.
const substring = (d, term) => !!term && String(d.data.name).toLowerCase().includes(term.toLowerCase());

function render(tree, diff) {
  const el = $('chart');
  if (state.chart) state.chart.destroy();
  el.replaceChildren();
  const tip = flamegraph.tooltip.defaultFlamegraphTooltip().html(tooltipHTML);
  const chart = flamegraph.default()
    .width(Math.max(400, el.clientWidth))
    .cellHeight(18)
    .minFrameSize(2)
    .selfValue(true)
    .sort(true)
    .transitionDuration(250)
    .title('')
    .tooltip(tip)
    .setSearchMatch(substring)
    .setSearchHandler((results, sum, total) => {
      $('search-info').textContent = results.length
        ? `${results.length} frames match, ${pct(total ? sum / total : 0)} of the total` : 'no frame matches';
    });
  if (diff) chart.computeDelta(true).setColorMapper(flamegraph.colorMapper.differentialColorMapper);
  d3.select(el).datum(tree).call(chart);
  state.chart = chart;
  $('search').value = '';
  $('search-info').textContent = '';
}

function search() {
  if (!state.chart) return;
  const term = $('search').value.trim();
  if (term) state.chart.search(term);
  else { state.chart.clear(); $('search-info').textContent = ''; }
}

// ------------------------------------------------------------------ showing a range

function setLinks() {
  // speedscope titles the view with the file's name: the group and the covered range.
  const abs = new URL(profileURL('speedscope'), location.href).href;
  $('open-speedscope').href = `node_modules/speedscope/dist/release/index.html#profileURL=${encodeURIComponent(abs)}`;
  $('get-pprof').href = profileURL('pprof');
  $('get-pprof').download = `${state.group}.pb.gz`;
  $('get-collapsed').href = profileURL('collapsed');
  $('get-collapsed').download = `${state.group}.folded`;
}

function fillCounters(counters, chosen) {
  $('counter').replaceChildren(...counters.map((c) => Object.assign(document.createElement('option'),
    { value: c, textContent: c, selected: c === chosen })));
}

async function showProfile() {
  state.diff = null;
  $('changed').hidden = true;
  $('legend').hidden = true;
  $('top').hidden = false;
  setStatus('Loading…');
  try {
    const { body, headers } = await getJSON(profileURL('json'));
    const probe = toTree(body.callgraph || {}, '');
    state.counters = countersOf(probe);
    if (!state.counters.includes(state.counter)) state.counter = state.counters[0] || '';
    const tree = state.counter ? toTree(body.callgraph || {}, state.counter) : probe;
    fillCounters(state.counters, state.counter);
    render(tree, false);
    renderTop(tree, state.counter);
    setLinks();
    const range = headers.get('x-profgate-range') || '';
    state.covered = range;
    writeHash(state.range.period ? { period: state.range.period } : { start: state.range.start, end: state.range.end });
    setStatus(`${state.group}: ${range.replace('/', ' to ')} · ${state.counter || 'no counts'} total ` +
      `${fmt(tree.totals[state.counter] || 0)} · buckets ${headers.get('x-profgate-buckets') || ''}`);
  } catch (e) {
    setStatus(e.message, true);
  }
}

function show(range) {
  state.group = $('group').value.trim();
  if (!state.group) { setStatus('Type or pick a profiling group first.', true); return; }
  state.range = range;
  showProfile();
}

// ------------------------------------------------------------------ comparing two ranges

// The diff's stacks ("a;b;c" with both rates) -> a tree: value the head's rate, delta the change.
function diffTree(doc) {
  const root = { name: 'all', value: 0, delta: 0, children: [], kids: new Map() };
  for (const s of doc.stacks) {
    let node = root;
    for (const frame of s.stack.split(';')) {
      let next = node.kids.get(frame);
      if (!next) {
        next = { name: frame, value: 0, delta: 0, children: [], kids: new Map() };
        node.kids.set(frame, next);
        node.children.push(next);
      }
      node = next;
    }
    node.value += s.head;
    node.delta += s.head - s.base;
  }
  return root;
}

// Per leaf frame (where the time is spent): the summed rates of both ranges, largest change first.
function renderChanged(doc) {
  const by = new Map();
  for (const s of doc.stacks) {
    const leaf = s.stack.slice(s.stack.lastIndexOf(';') + 1);
    const e = by.get(leaf) || { base: 0, head: 0 };
    e.base += s.base;
    e.head += s.head;
    by.set(leaf, e);
  }
  const rows = [...by.entries()].map(([name, e]) => ({ name, ...e, change: e.head - e.base }))
    .sort((a, b) => Math.abs(b.change) - Math.abs(a.change)).slice(0, 25).map((f) => {
      const tr = document.createElement('tr');
      tr.append(cell(f.name, 'name'), cell(fmt(f.base)), cell(fmt(f.head)),
        cell(`${f.change >= 0 ? '+' : ''}${fmt(f.change)}`, f.change >= 0 ? 'grew' : 'shrank'));
      return tr;
    });
  $('changed-table').tBodies[0].replaceChildren(...rows);
}

async function compare() {
  state.group = $('group').value.trim();
  const base = `${toISO($('base-start').value)}/${toISO($('base-end').value)}`;
  const head = `${toISO($('head-start').value)}/${toISO($('head-end').value)}`;
  if (!state.group || !$('base-start').value || !$('base-end').value || !$('head-start').value || !$('head-end').value) {
    setStatus('A group and both ranges are needed.', true);
    return;
  }
  setStatus('Comparing…');
  const c = state.counter ? `&counter=${encodeURIComponent(state.counter)}` : '';
  try {
    const { body } = await getJSON(`/_profgate/diff/${encodeURIComponent(state.group)}?base=${encodeURIComponent(base)}` +
      `&head=${encodeURIComponent(head)}${c}`);
    state.diff = body;
    state.counter = body.counter;
    render(diffTree(body), true);
    renderChanged(body);
    $('top').hidden = true;
    $('changed').hidden = false;
    $('legend').hidden = false;
    writeHash({ base, head });
    setStatus(`${state.group}: ${body.counter} per second, base ${body.base.startTime} to ${body.base.endTime} ` +
      `(total ${fmt(body.base.total)}), head ${body.head.startTime} to ${body.head.endTime} (total ${fmt(body.head.total)}) · ` +
      `${body.stacks.length} stacks`);
  } catch (e) {
    setStatus(e.message, true);
  }
}

// head: the range shown (or typed), base: the same range one day earlier.
function dayBefore() {
  let [s, e] = (state.covered || '').split('/');
  if ($('start').value && $('end').value && !state.range?.period) [s, e] = [toISO($('start').value), toISO($('end').value)];
  if (!s || !e) { setStatus('Show a range first: it becomes the head.', true); return; }
  const shift = (iso) => new Date(Date.parse(iso) - 86400e3).toISOString().replace(/\.\d+Z$/, 'Z');
  $('head-start').value = fromISO(s);
  $('head-end').value = fromISO(e);
  $('base-start').value = fromISO(shift(s));
  $('base-end').value = fromISO(shift(e));
}

function mode(diff) {
  $('diff').hidden = !diff;
  $('mode-diff').classList.toggle('on', diff);
  $('mode-profile').classList.toggle('on', !diff);
}

// ------------------------------------------------------------------ wiring

for (const b of document.querySelectorAll('#periods button')) b.addEventListener('click', () => show({ period: b.dataset.period }));
$('custom').addEventListener('click', () => show({ start: toISO($('start').value), end: toISO($('end').value) }));
$('counter').addEventListener('change', () => {
  state.counter = $('counter').value;
  if (state.diff) compare(); else if (state.range) showProfile();
});
$('search').addEventListener('input', search);
$('reset-zoom').addEventListener('click', () => state.chart && state.chart.resetZoom());
$('mode-profile').addEventListener('click', () => { mode(false); if (state.range) showProfile(); });
$('mode-diff').addEventListener('click', () => { mode(true); if (!$('head-start').value) dayBefore(); });
$('day-before').addEventListener('click', dayBefore);
$('compare').addEventListener('click', compare);
$('pick').addEventListener('submit', (ev) => { ev.preventDefault(); show(state.range || { period: 'PT24H' }); });

(function start() {
  loadGroups();
  const p = new URLSearchParams(location.hash.slice(1));
  if (!p.get('group')) return;
  $('group').value = p.get('group');
  state.counter = p.get('counter') || '';
  if (p.get('base') && p.get('head')) {
    const [bs, be] = p.get('base').split('/');
    const [hs, he] = p.get('head').split('/');
    [$('base-start').value, $('base-end').value, $('head-start').value, $('head-end').value] =
      [fromISO(bs), fromISO(be), fromISO(hs), fromISO(he)];
    mode(true);
    compare();
  } else if (p.get('start') && p.get('end')) {
    $('start').value = fromISO(p.get('start'));
    $('end').value = fromISO(p.get('end'));
    show({ start: p.get('start'), end: p.get('end') });
  } else {
    show({ period: p.get('period') || 'PT24H' });
  }
})();
