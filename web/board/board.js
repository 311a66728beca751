// The live order board: shows GET {apiUrl}/board and follows the live channel at {liveUrl}.
// Every row goes through boardState.js's one rule (newer revision wins), whether it comes from a push
// or from the snapshot fetched after every (re)connect, so the board never goes back in time and
// resumes after a dropped connection without reloading the page. Data only ever reaches the DOM
// through textContent / dataset, never as HTML.
import {
  applyRow,
  backoffMs,
  columns,
  counts,
  emptyBoard,
  formatDuration,
  medianTimeToServeMs,
  mergeSnapshot,
  parsePush,
  parseSnapshot,
  STATUSES,
  ticket,
  waitMs,
} from './boardState.js';

const $ = (selector, root = document) => {
  const element = root.querySelector(selector);
  if (!element) throw new Error(`the page has no ${selector}`);
  return element;
};

const ui = {
  connection: $('#connection'),
  connectionText: $('#connection-text'),
  notice: $('#notice'),
  updated: $('#updated'),
  median: $('#median-serve'),
  template: $('#card-template'),
  shopName: $('#shop-name'),
};

/** @type {import('./boardState').Board} */
let board = emptyBoard();
/** orderId → its card element (kept while the card is on screen). */
const cards = new Map();
let lastChangeAt = 0;
let money = new Intl.NumberFormat(undefined, { style: 'currency', currency: 'USD' });

// ---------------------------------------------------------------- config

async function loadConfig() {
  const response = await fetch('config.json', { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json answered ${response.status}`);
  const raw = await response.json();
  const problems = [];
  const url = (key, protocols) => {
    try {
      const value = new URL(String(raw?.[key]));
      if (!protocols.includes(value.protocol)) problems.push(`${key} must be a ${protocols.join(' or ')} URL`);
      return value.href.replace(/\/+$/, '');
    } catch {
      problems.push(`${key} is missing or not a URL`);
      return '';
    }
  };
  const config = {
    apiUrl: url('apiUrl', ['http:', 'https:']),
    liveUrl: url('liveUrl', ['ws:', 'wss:']),
    shopName: typeof raw?.shopName === 'string' && raw.shopName.trim() ? raw.shopName.trim() : undefined,
    currency: typeof raw?.currency === 'string' && /^[A-Z]{3}$/.test(raw.currency) ? raw.currency : 'USD',
  };
  if (problems.length > 0) throw new Error(`config.json: ${problems.join('; ')}`);
  return config;
}

// ---------------------------------------------------------------- rendering

function cardFor(row) {
  let card = cards.get(row.orderId);
  if (!card) {
    const fragment = ui.template.content.cloneNode(true);
    card = /** @type {HTMLLIElement} */ (fragment.firstElementChild);
    card.addEventListener('animationend', () => card.classList.remove('moved'));
    cards.set(row.orderId, card);
  }
  return card;
}

function waitText(row, now) {
  const waited = waitMs(row, now);
  if (row.status === 'cancelled') return 'cancelled';
  if (waited === undefined) return '';
  const duration = formatDuration(waited);
  switch (row.status) {
    case 'served':
      return `served in ${duration}`;
    case 'ready':
      return `ready · waited ${duration}`;
    default:
      return `waiting for ${duration}`;
  }
}

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

function fillCard(card, row, now) {
  card.dataset.orderId = row.orderId;
  card.dataset.status = row.status;
  card.dataset.overdue = String(row.overdue);
  card.dataset.revision = String(row.revision);
  card.title = `Order ${row.orderId}`;
  setText($('.ticket', card), `#${ticket(row.orderId)}`);
  setText($('.summary', card), row.summary);
  setText($('.price', card), money.format(row.totalCents / 100));
  setText($('.wait', card), waitText(row, now));
  $('.badge-overdue', card).hidden = !(row.overdue && row.status !== 'served' && row.status !== 'cancelled');
}

function render(moved = new Set()) {
  const now = Date.now();
  const shown = columns(board);
  const onScreen = new Set();
  for (const status of STATUSES) {
    const list = $(`[data-column="${status}"] .cards`);
    const elements = shown[status].map((row) => {
      const card = cardFor(row);
      fillCard(card, row, now);
      if (moved.has(row.orderId)) card.classList.add('moved');
      onScreen.add(row.orderId);
      return card;
    });
    const current = Array.from(list.children);
    if (current.length !== elements.length || current.some((element, i) => element !== elements[i])) list.replaceChildren(...elements);
  }
  for (const orderId of cards.keys()) if (!onScreen.has(orderId)) cards.delete(orderId);
  renderCounts();
}

function renderCounts() {
  const n = counts(board);
  for (const status of STATUSES) {
    const text = String(n[status]);
    const stat = document.getElementById(`count-${status}`);
    if (stat) setText(stat, text);
    setText($(`[data-count="${status}"]`), text);
  }
  setText($('#count-overdue'), String(n.overdue));
  const median = medianTimeToServeMs(board);
  setText(ui.median, median === undefined ? '–' : formatDuration(median));
  const waiting = n.queued + n.brewing + n.ready;
  document.title = `${waiting > 0 ? `(${waiting}) ` : ''}${ui.shopName.textContent}`;
}

function tick() {
  const now = Date.now();
  for (const row of board.rows.values()) {
    const card = cards.get(row.orderId);
    if (card) setText($('.wait', card), waitText(row, now));
  }
  const since = now - lastChangeAt;
  setText(ui.updated, lastChangeAt === 0 ? 'not yet' : since < 5_000 ? 'last change just now' : `last change ${formatDuration(since)} ago`);
}

function showNotice(message) {
  setText(ui.notice, message ?? '');
  ui.notice.hidden = !message;
}

// ---------------------------------------------------------------- state changes

function applyPush(row) {
  const previous = board.rows.get(row.orderId);
  const result = applyRow(board, row);
  if (!result.applied) return; // a duplicate or an older state than the one shown
  board = result.board;
  lastChangeAt = Date.now();
  render(previous?.status === row.status ? new Set() : new Set([row.orderId]));
}

function applySnapshot(rows) {
  const before = board;
  const result = mergeSnapshot(board, rows);
  board = result.board;
  const moved = new Set(result.changed.filter((id) => before.rows.get(id)?.status !== board.rows.get(id)?.status && before.rows.size > 0));
  if (result.changed.length > 0) lastChangeAt = Date.now();
  render(moved);
}

// ---------------------------------------------------------------- network

let config;
let snapshotRun = 0;

/** GET /board and merge; retries with backoff until it succeeds or a newer refresh replaces it. */
async function refreshSnapshot() {
  const run = ++snapshotRun;
  for (let attempt = 0; run === snapshotRun; attempt++) {
    try {
      // The board comes a page at a time: follow each page's cursor until the last.
      const snapshot = { rows: [], rejected: 0 };
      let cursor;
      do {
        const url = `${config.apiUrl}/board${cursor === undefined ? '' : `?cursor=${encodeURIComponent(cursor)}`}`;
        const response = await fetch(url, { cache: 'no-store', headers: { accept: 'application/json' } });
        if (!response.ok) throw new Error(`GET /board answered ${response.status}`);
        const body = await response.json();
        const page = parseSnapshot(body);
        if (!page) throw new Error('GET /board answered something that is not a board');
        snapshot.rows.push(...page.rows);
        snapshot.rejected += page.rejected;
        cursor = typeof body.cursor === 'string' && body.cursor.length > 0 ? body.cursor : undefined;
      } while (cursor !== undefined && run === snapshotRun);
      if (snapshot.rejected > 0) console.warn(`board: ignored ${snapshot.rejected} malformed row(s) in the snapshot`);
      if (run !== snapshotRun) return;
      applySnapshot(snapshot.rows);
      showNotice(undefined);
      return;
    } catch (error) {
      console.warn('board: could not load the board', error);
      showNotice('The board cannot reach the shop right now; trying again…');
      await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt, Math.random())));
    }
  }
}

let socket;
let attempts = 0;
let reconnectTimer;

function setConnection(state) {
  ui.connection.dataset.connection = state;
  setText(ui.connectionText, { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…' }[state]);
}

function connect() {
  clearTimeout(reconnectTimer);
  reconnectTimer = undefined;
  const ws = new WebSocket(config.liveUrl);
  socket = ws;
  ws.addEventListener('open', () => {
    if (socket !== ws) return;
    attempts = 0;
    setConnection('live');
    // Pushes sent while we were away are lost: the snapshot (taken now that we are subscribed) fills the gap.
    void refreshSnapshot();
  });
  ws.addEventListener('message', (event) => {
    if (socket !== ws || typeof event.data !== 'string') return;
    const row = parsePush(event.data);
    if (row) applyPush(row);
    else console.warn('board: ignored a live message that is not a board row');
  });
  ws.addEventListener('close', () => {
    if (socket !== ws) return;
    socket = undefined;
    setConnection('reconnecting');
    reconnectTimer = setTimeout(connect, backoffMs(attempts++, Math.random()));
  });
}

/** Back online or back in view: try now instead of waiting out the backoff. */
function reconnectNow() {
  if (socket === undefined && reconnectTimer !== undefined) connect();
}

// ---------------------------------------------------------------- start

try {
  config = await loadConfig();
} catch (error) {
  setConnection('reconnecting');
  setText(ui.connectionText, 'Offline');
  showNotice(`This board is not set up: ${error instanceof Error ? error.message : String(error)}`);
  throw error;
}
money = new Intl.NumberFormat(undefined, { style: 'currency', currency: config.currency });
if (config.shopName) setText(ui.shopName, config.shopName);
render();
setConnection('connecting');
void refreshSnapshot();
connect();
setInterval(tick, 1000);
window.addEventListener('online', reconnectNow);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') reconnectNow();
});
