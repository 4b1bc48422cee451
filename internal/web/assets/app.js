// The respawn dashboard. Everything it shows comes from the API of the
// supervisor that served it, with the token the person typed in (kept for
// this tab only). Text from the supervisor (names, reasons, log lines) is
// only ever set as text, never as markup.
'use strict';

const tokenKey = 'respawn-token';
const maxLogLines = 500;
const maxTimeline = 200;
// The table follows the event stream; CPU and memory change without events,
// so they are asked for again this often while the page is in view: for the
// rows on screen only, when there are many (measuring a thousand services
// costs the supervisor tens of milliseconds).
const usageEvery = 15000;
const fewServices = 40;

let token = sessionStorage.getItem(tokenKey) || '';
let services = [];
let supervisor = null;
let refreshing = false;
let refreshAgain = false;
let eventsAbort = null;
let logAbort = null;
let usageTimer = null;
let current = null; // the service whose page is shown

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function say(text, isError) {
  const m = $('message');
  m.textContent = text || '';
  m.className = isError ? 'error' : 'muted';
}

class Unauthorized extends Error {}

// api calls the supervisor with the token; a refused token logs out.
async function api(path, opts) {
  const o = Object.assign({cache: 'no-store'}, opts || {});
  o.headers = Object.assign({'Authorization': 'Bearer ' + token}, o.headers || {});
  const r = await fetch(path, o);
  if (r.status === 401) {
    logout('That token was refused.');
    throw new Unauthorized();
  }
  if (r.status === 429) {
    const wait = r.headers.get('Retry-After') || 'a few';
    logout('Too many refused tokens from here: wait ' + wait + ' s.');
    throw new Unauthorized();
  }
  if (!r.ok) {
    let msg = r.status + ' ' + r.statusText;
    try {
      const body = await r.json();
      if (body && body.error) msg = body.error.message;
    } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return r;
}

// ndjson reads a streamed answer line by line until it ends.
async function ndjson(resp, onItem) {
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buf += dec.decode(value, {stream: true});
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim() === '') continue;
      let item;
      try { item = JSON.parse(line); } catch (e) { continue; }
      onItem(item);
    }
  }
}

function showLogin(msg) {
  stopAll();
  $('login').hidden = false;
  $('list').hidden = true;
  $('detail').hidden = true;
  $('logout').hidden = true;
  $('live').hidden = true;
  $('supervisor').textContent = '';
  $('login-msg').textContent = msg || '';
  $('token').focus();
}

function logout(msg) {
  token = '';
  sessionStorage.removeItem(tokenKey);
  services = [];
  supervisor = null;
  current = null;
  $('services').tBodies[0].replaceChildren();
  for (const tr of rows.values()) observer.unobserve(tr);
  rows.clear();
  onScreen.clear();
  for (const id of ['timeline', 'detail-actions']) $(id).replaceChildren();
  for (const id of ['log', 'detail-name', 'detail-state', 'detail-why', 'counts', 'message']) $(id).textContent = '';
  if (location.hash) history.replaceState(null, '', location.pathname);
  showLogin(msg);
}

function stopAll() {
  if (eventsAbort) eventsAbort.abort();
  if (logAbort) logAbort.abort();
  eventsAbort = logAbort = null;
  clearInterval(usageTimer);
  usageTimer = null;
}

async function start() {
  try {
    await refresh();
  } catch (e) {
    if (!(e instanceof Unauthorized)) showLogin('The supervisor did not answer: ' + e.message);
    return;
  }
  $('login').hidden = true;
  $('login-msg').textContent = '';
  $('logout').hidden = false;
  follow();
  usageTimer = setInterval(() => { if (document.visibilityState === 'visible') refreshUsage().catch(() => {}); }, usageEvery);
  route();
}

// refresh asks for the status once at a time; a call while one is under
// way makes one more follow it.
async function refresh() {
  if (refreshing) { refreshAgain = true; return; }
  refreshing = true;
  try {
    do {
      refreshAgain = false;
      const r = await api('/v1/status');
      const st = await r.json();
      supervisor = st.supervisor;
      services = st.services || [];
      render();
    } while (refreshAgain);
  } finally {
    refreshing = false;
  }
}

// follow keeps the event stream open, and comes back after it breaks.
async function follow() {
  let wait = 1000;
  while (token) {
    eventsAbort = new AbortController();
    try {
      const r = await api('/v1/events?n=1&follow=1', {signal: eventsAbort.signal});
      $('live').hidden = false;
      wait = 1000;
      let first = true;
      await ndjson(r, (ev) => {
        // The first is the last event before now: the table is asked for
        // again, the timeline has it already.
        onEvent(ev, !first);
        first = false;
      });
    } catch (e) {
      if (e instanceof Unauthorized || (e && e.name === 'AbortError')) return;
    }
    $('live').hidden = true;
    await new Promise((res) => setTimeout(res, wait));
    wait = Math.min(wait * 2, 10000);
    refresh().catch(() => {});
  }
}

// onScreen holds the names of the table rows in view.
const onScreen = new Set();
const observer = new IntersectionObserver((entries) => {
  for (const e of entries) {
    if (e.isIntersecting) onScreen.add(e.target.dataset.name);
    else onScreen.delete(e.target.dataset.name);
  }
});

// refreshUsage asks again for what changes without events: everything
// when there are few services, else the rows in view (or the service whose
// page is shown).
async function refreshUsage() {
  const names = current ? [current] : [...onScreen];
  if (services.length <= fewServices || (!current && names.length === 0)) {
    if (services.length <= fewServices) await refresh();
    return;
  }
  const q = names.slice(0, 100).map((n) => 'name=' + encodeURIComponent(n)).join('&');
  const r = await api('/v1/status?' + q);
  const st = await r.json();
  const fresh = new Map((st.services || []).map((x) => [x.name, x]));
  supervisor = st.supervisor;
  services = services.map((x) => fresh.get(x.name) || x);
  render();
}

function onEvent(ev, isNew) {
  refresh().catch(() => {});
  if (isNew && current && ev.service === current) addTimeline(ev, true);
}

function fmtDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm' + (s % 60 ? (s % 60) + 's' : '');
  const h = Math.floor(m / 60);
  if (h < 24) return h + 'h' + (m % 60 ? (m % 60) + 'm' : '');
  return Math.floor(h / 24) + 'd' + (h % 24 ? (h % 24) + 'h' : '');
}

function fmtBytes(n) {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}

function uptime(s) {
  if (!s.pid || !s.started_at) return '-';
  return fmtDuration(Date.now() - Date.parse(s.started_at));
}

function renderSupervisor() {
  const box = $('supervisor');
  if (!supervisor) { box.textContent = ''; return; }
  const parts = [
    supervisor.config,
    'pid ' + supervisor.pid,
    'up ' + fmtDuration(Date.now() - Date.parse(supervisor.started_at)),
    'core restarts ' + supervisor.core_restarts,
    supervisor.version,
  ];
  if (supervisor.log_dropped) parts.push('log lines dropped ' + supervisor.log_dropped);
  if (supervisor.journal_dropped) parts.push('events dropped ' + supervisor.journal_dropped);
  box.textContent = parts.join(' · ');
}

function actionButtons(name) {
  const span = el('span', null, 'actions');
  for (const a of ['start', 'stop', 'restart']) {
    const b = el('button', a);
    b.type = 'button';
    b.dataset.action = a;
    b.dataset.name = name;
    span.append(b);
  }
  return span;
}

// rowOf returns the table row of a service, made once and then updated in
// place: a click or a selection is not lost to a refresh.
const rows = new Map();
function rowOf(name) {
  let tr = rows.get(name);
  if (tr) return tr;
  tr = el('tr');
  tr.dataset.name = name;
  const cell = el('td');
  const a = el('a', name);
  a.href = '#/service/' + encodeURIComponent(name);
  cell.append(a);
  tr.append(cell);
  for (const cls of ['state', 'num', 'num', 'num', 'num', 'num', 'health']) tr.append(el('td', '', cls));
  const act = el('td');
  act.append(actionButtons(name));
  tr.append(act);
  rows.set(name, tr);
  observer.observe(tr);
  return tr;
}

function setCell(td, text, cls, title) {
  if (td.textContent !== text) td.textContent = text;
  if (cls !== undefined && td.className !== cls) td.className = cls;
  if ((td.title || '') !== (title || '')) td.title = title || '';
}

function render() {
  renderSupervisor();
  if (current) { renderDetail(); return; }
  const filter = $('filter').value.trim().toLowerCase();
  const body = $('services').tBodies[0];
  const shown = [];
  const count = {};
  const names = new Set();
  for (const s of services) {
    names.add(s.name);
    count[s.state] = (count[s.state] || 0) + 1;
    if (filter && !s.name.toLowerCase().includes(filter)) continue;
    const tr = rowOf(s.name);
    const td = tr.children;
    const health = s.health === 'unknown' ? '-' : s.health;
    setCell(td[1], s.state, 'state state-' + s.state, s.error);
    setCell(td[2], String(s.pid || '-'));
    setCell(td[3], uptime(s));
    setCell(td[4], String(s.restarts));
    setCell(td[5], s.cpu_percent === null || s.cpu_percent === undefined ? '-' : s.cpu_percent.toFixed(1) + '%');
    setCell(td[6], fmtBytes(s.memory_bytes));
    setCell(td[7], health, 'health health-' + health);
    shown.push(tr);
  }
  for (const [name, tr] of rows) {
    if (!names.has(name)) {
      observer.unobserve(tr);
      onScreen.delete(name);
      rows.delete(name);
    }
  }
  // Reorder only when the rows shown changed.
  const same = shown.length === body.children.length && shown.every((tr, i) => body.children[i] === tr);
  if (!same) body.replaceChildren(...shown);
  $('counts').textContent = services.length + ' services: ' +
    Object.keys(count).sort().map((k) => count[k] + ' ' + k).join(', ');
  $('list').hidden = false;
  $('detail').hidden = true;
}

function renderDetail() {
  const s = services.find((x) => x.name === current);
  $('list').hidden = true;
  $('detail').hidden = false;
  $('detail-name').textContent = current;
  const st = $('detail-state');
  if (!s) {
    st.textContent = 'no such service';
    st.className = 'error';
    $('detail-actions').replaceChildren();
    return;
  }
  const bits = [s.state];
  if (s.pid) bits.push('pid ' + s.pid, 'up ' + uptime(s));
  bits.push('restarts ' + s.restarts);
  if (s.error) bits.push(s.error);
  st.textContent = bits.join(' · ');
  st.className = 'state state-' + s.state;
  if (!$('detail-actions').firstChild) $('detail-actions').append(actionButtons(s.name));
}

function describe(ev) {
  switch (ev.type) {
    case 'state': return ev.from + ' → ' + ev.to + (ev.reason ? ': ' + ev.reason : '');
    case 'exit': {
      let how = ev.signal ? 'killed by ' + ev.signal : 'exit ' + ev.exit_code;
      if (ev.oom) how += ' (out of memory)';
      return 'pid ' + ev.pid + ' ' + how + (ev.reason ? ': ' + ev.reason : '');
    }
    case 'respawn': {
      let t = ev.reason || 'respawn';
      if (ev.delay_ms) t += ', next start in ' + (ev.delay_ms < 1000 ? ev.delay_ms + ' ms' : fmtDuration(ev.delay_ms));
      if (ev.attempt) t += ', attempt ' + ev.attempt;
      return t;
    }
    default: return ev.message || ev.reason || ev.command || ev.type;
  }
}

function addTimeline(ev, live) {
  const list = $('timeline');
  const li = el('li', null, 'ev-' + ev.type);
  li.append(el('time', new Date(ev.time).toLocaleTimeString()), ' ', el('span', ev.type, 'tag'), ' ', describe(ev));
  list.prepend(li);
  while (list.children.length > maxTimeline) list.lastChild.remove();
  if (live) li.classList.add('new');
}

async function openDetail(name) {
  current = name;
  $('timeline').replaceChildren();
  $('log').textContent = '';
  $('detail-why').textContent = '';
  $('detail-actions').replaceChildren();
  render();
  if (logAbort) logAbort.abort();
  logAbort = new AbortController();
  const mine = logAbort;
  try {
    const w = await (await api('/v1/why?name=' + encodeURIComponent(name))).json();
    if (current === name) $('detail-why').textContent = w.summary || '';
  } catch (e) { /* shown by the state line */ }
  try {
    const r = await api('/v1/events?n=1000');
    const past = [];
    await ndjson(r, (ev) => { if (ev.service === name) past.push(ev); });
    if (current === name) for (const ev of past.slice(-maxTimeline)) addTimeline(ev, false);
  } catch (e) { /* the live part still comes */ }
  followLog(name, mine);
}

async function followLog(name, ctl) {
  const pre = $('log');
  try {
    const r = await api('/v1/logs?n=100&follow=1&name=' + encodeURIComponent(name), {signal: ctl.signal});
    await ndjson(r, (l) => {
      if (current !== name || typeof l.line !== 'string') return;
      const line = el('span', l.line + '\n', l.stream === 'stderr' ? 'stderr' : '');
      pre.append(line);
      while (pre.childNodes.length > maxLogLines) pre.firstChild.remove();
      pre.scrollTop = pre.scrollHeight;
    });
  } catch (e) { /* aborted, or the supervisor went away */ }
}

function route() {
  if (!token) return;
  const m = location.hash.match(/^#\/service\/(.+)$/);
  if (m) {
    openDetail(decodeURIComponent(m[1]));
    return;
  }
  current = null;
  if (logAbort) { logAbort.abort(); logAbort = null; }
  render();
}

async function act(action, name, button) {
  button.disabled = true;
  say(action + ' ' + name + '…');
  try {
    const r = await api('/v1/' + action, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({names: [name]}),
    });
    const res = await r.json();
    const out = (res.results || []).map((x) => x.name + ': ' + x.state + (x.error ? ' (' + x.error + ')' : ''));
    say(action + ': ' + out.join(', '), (res.results || []).some((x) => x.error));
  } catch (e) {
    if (!(e instanceof Unauthorized)) say(action + ' ' + name + ': ' + e.message, true);
  } finally {
    button.disabled = false;
    refresh().catch(() => {});
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    token = $('token').value.trim();
    $('token').value = '';
    if (!token) { showLogin('Type the token first.'); return; }
    sessionStorage.setItem(tokenKey, token);
    start();
  });
  $('logout').addEventListener('click', () => logout(''));
  $('filter').addEventListener('input', render);
  document.body.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-action]');
    if (b) act(b.dataset.action, b.dataset.name, b);
  });
  window.addEventListener('hashchange', route);
  if (token) start(); else showLogin('');
});
