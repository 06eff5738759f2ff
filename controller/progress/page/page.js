// dvm progress page: plain JS, no framework, no build step. Reads the websocket schema documented in
// the README (snapshot, update, summary) and renders one row per PVC plus the total.
'use strict';

(function main() {
  const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  const rowsBody = document.getElementById('pvc-rows');
  const totalRow = document.getElementById('total-row');
  const connection = document.getElementById('connection');
  const finalBox = document.getElementById('final');
  const elapsed = document.getElementById('elapsed');
  const rows = new Map();
  let finished = false;
  let lastTotals = null;
  let totalsReceivedAt = 0;
  let retryDelayMs = 1000;

  // The token comes as ?token= or #token=; keep it in memory only and take it out of the address bar.
  const token = takeToken();

  function takeToken() {
    const url = new URL(window.location.href);
    const fromHash = new URLSearchParams(url.hash.replace(/^#/, '')).get('token');
    const value = url.searchParams.get('token') || fromHash;
    if (value) {
      url.searchParams.delete('token');
      url.hash = '';
      window.history.replaceState(null, '', url.pathname + url.search);
    }
    return value;
  }

  function formatBytes(bytes) {
    let value = Math.max(0, bytes || 0);
    let unit = 0;
    while (value >= 1024 && unit < UNITS.length - 1) {
      value /= 1024;
      unit++;
    }
    return unit === 0 ? value + ' B' : value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0) + ' ' + UNITS[unit];
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return '–';
    const total = Math.max(0, Math.round(seconds));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, '0');
    return h > 0 ? h + ':' + String(m).padStart(2, '0') + ':' + s : m + ':' + s;
  }

  function cell(tag, className) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    return el;
  }

  function createRow(pvc) {
    const tr = cell('tr', 'pvc');
    tr.dataset.pvc = pvc.pvc;
    const name = cell('th');
    name.scope = 'row';
    if (pvc.namespace) {
      const ns = cell('span', 'namespace');
      ns.textContent = pvc.namespace + '/';
      name.append(ns);
    }
    const pvcName = cell('span', 'name');
    pvcName.textContent = pvc.name;
    name.append(pvcName);
    const progress = cell('td', 'progress-col');
    const bar = cell('div', 'bar');
    bar.setAttribute('role', 'progressbar');
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.setAttribute('aria-label', pvc.pvc);
    bar.append(cell('div', 'fill'), cell('span', 'pct'));
    progress.append(bar);
    const state = cell('td', 'state');
    state.append(cell('span', 'badge'), cell('div', 'message'));
    tr.append(
      name,
      progress,
      cell('td', 'num bytes'),
      cell('td', 'num rate'),
      cell('td', 'num eta'),
      cell('td', 'num files'),
      cell('td', 'num attempts'),
      state,
    );
    rowsBody.append(tr);
    rows.set(pvc.pvc, tr);
    return tr;
  }

  // Fills a PVC row or the total row; both carry the same fields.
  function fill(tr, s, attemptsText) {
    const percent = Math.max(0, Math.min(100, s.percent || 0));
    tr.dataset.state = s.state;
    tr.dataset.percent = String(percent);
    const bar = tr.querySelector('.bar');
    bar.setAttribute('aria-valuenow', percent.toFixed(1));
    bar.querySelector('.fill').style.width = percent + '%';
    bar.querySelector('.pct').textContent = percent.toFixed(1) + '%';
    tr.querySelector('.bytes').textContent = s.totalBytes > 0 ? formatBytes(s.bytes) + ' / ' + formatBytes(s.totalBytes) : formatBytes(s.bytes);
    tr.querySelector('.rate').textContent = s.rateBps > 0 ? formatBytes(s.rateBps) + '/s' : '–';
    tr.querySelector('.eta').textContent = s.state === 'Succeeded' ? 'done' : formatDuration(s.etaSeconds);
    tr.querySelector('.files').textContent = s.filesTotal > 0 ? s.files + ' / ' + s.filesTotal : String(s.files || 0);
    tr.querySelector('.attempts').textContent = attemptsText;
    tr.querySelector('.badge').textContent = s.state;
  }

  function renderPvc(pvc) {
    const tr = rows.get(pvc.pvc) || createRow(pvc);
    fill(tr, pvc, String(pvc.attempts || 0));
    const message = tr.querySelector('.message');
    let text = pvc.message || '';
    if (pvc.state === 'Retrying' && pvc.retryInMs !== null) text += ' — retry in ' + formatDuration(pvc.retryInMs / 1000);
    if (pvc.state === 'Succeeded' && pvc.verified !== null) text = (pvc.verified ? 'verified' : 'verify failed') + (text ? '; ' + text : '');
    message.textContent = text;
    message.hidden = text === '';
    message.className = 'message' + (pvc.state === 'Failed' || pvc.state === 'Retrying' ? ' problem' : '');
  }

  function renderTotals(totals) {
    lastTotals = totals;
    totalsReceivedAt = Date.now();
    fill(totalRow, totals, String(totals.attempts));
    renderElapsed();
  }

  function renderElapsed() {
    if (!lastTotals) return;
    const running = !finished && lastTotals.finishedAt === null;
    const ms = lastTotals.elapsedMs + (running ? Date.now() - totalsReceivedAt : 0);
    elapsed.textContent = 'elapsed ' + formatDuration(ms / 1000);
  }

  function renderAll(message) {
    const seen = new Set();
    for (const pvc of message.pvcs) {
      renderPvc(pvc);
      seen.add(pvc.pvc);
    }
    for (const [id, tr] of rows) {
      if (!seen.has(id)) {
        tr.remove();
        rows.delete(id);
      }
    }
    const empty = document.getElementById('empty');
    empty.hidden = message.pvcs.length > 0;
    empty.textContent = message.finished ? 'No PVCs in this migration.' : 'Waiting for the first progress event…';
    renderTotals(message.totals);
  }

  function renderFinal(summary) {
    finished = true;
    const t = summary.totals;
    const outcome = t.state === 'Succeeded' || t.state === 'Failed' ? t.state : 'Incomplete';
    finalBox.hidden = false;
    finalBox.dataset.outcome = outcome;
    document.body.dataset.finished = outcome;
    document.getElementById('final-title').textContent =
      outcome === 'Succeeded' ? 'Migration succeeded' : outcome === 'Failed' ? 'Migration failed' : 'Migration ended incomplete';
    let detail = t.succeeded + ' of ' + t.pvcs + ' PVC' + (t.pvcs === 1 ? '' : 's') + ' succeeded';
    if (t.failed > 0) detail += ', ' + t.failed + ' failed';
    detail += ' · ' + formatBytes(t.bytes) + ' sent · ' + t.files + ' files · ' + formatDuration(t.elapsedMs / 1000);
    if (summary.message) detail += ' · ' + summary.message;
    document.getElementById('final-detail').textContent = detail;
  }

  function setConnection(state, text) {
    connection.dataset.connection = state;
    connection.textContent = text;
  }

  function handle(message) {
    switch (message.type) {
      case 'snapshot':
        renderAll(message);
        if (message.finished) finished = true;
        break;
      case 'update':
        renderPvc(message.pvc);
        document.getElementById('empty').hidden = true;
        renderTotals(message.totals);
        break;
      case 'summary':
        renderAll(message);
        renderFinal(message);
        break;
    }
  }

  function connect() {
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    let url = scheme + '//' + window.location.host + '/progress';
    if (token) url += '?token=' + encodeURIComponent(token);
    const ws = new WebSocket(url);
    ws.onopen = function () {
      retryDelayMs = 1000;
      setConnection('live', 'live');
    };
    ws.onmessage = function (event) {
      try {
        handle(JSON.parse(event.data));
      } catch (error) {
        console.error('bad progress message', error);
      }
    };
    ws.onclose = function (event) {
      if (finished) {
        setConnection('closed', 'finished');
        return;
      }
      setConnection('reconnecting', event.code === 1006 ? 'disconnected, retrying…' : 'closed (' + event.code + '), retrying…');
      setTimeout(connect, retryDelayMs);
      retryDelayMs = Math.min(retryDelayMs * 2, 10000);
    };
  }

  setInterval(renderElapsed, 1000);
  connect();
})();
