// The web chat page (issue #4). Plain JS, no build step, nothing from elsewhere (CSP: default-src 'self').
// It uploads videos with tus 1.0.0 (by hand, below), posts the instruction with the upload ids, and renders the bot's
// replies from the SSE log: `user`/`message` bubbles kept by id, `edit` replaces one in place, `result` shows the
// download (and a before/after comparison). Server text only ever goes in through textContent.
/* global document, window, location, fetch, EventSource, XMLHttpRequest, TextEncoder, btoa, setTimeout, URL */

const TUS_VERSION = '1.0.0';
/** tus PATCH size: big enough to be fast, small enough that a dropped connection loses little. */
const CHUNK_BYTES = 8 * 1024 * 1024;
/** Consecutive failures (network errors, 5xx, 409) before an upload gives up; each waits longer. */
const MAX_RETRIES = 5;
/** The server takes at most 20 uploads per message. */
const MAX_FILES = 20;
const VIDEO_EXT = /\.(mp4|m4v|mov|qt|mkv|webm|avi|3gp|3g2|mts|m2ts|ts|mpg|mpeg|wmv|flv|hevc|h264|vob|ogv)$/iu;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const ui = {
  app: $('app'),
  chat: $('chat'),
  messages: $('messages'),
  uploads: $('uploads'),
  composer: /** @type {HTMLFormElement} */ ($('composer')),
  text: /** @type {HTMLTextAreaElement} */ ($('text')),
  send: /** @type {HTMLButtonElement} */ ($('send')),
  pick: $('pick'),
  fileInput: /** @type {HTMLInputElement} */ ($('file-input')),
  conn: $('conn'),
  overlay: $('drop-overlay'),
};

const state = {
  /** @type {Promise<{uploadUrl: string, maxBytes: number}> | null} */
  session: null,
  /** @type {Upload[]} files in the tray: uploading, uploaded, or waiting for a send to finish */
  uploads: [],
  /** sends waiting for their uploads */
  outbox: 0,
  /** seq of the last SSE event seen (for a manual reconnect; EventSource itself sends Last-Event-ID) */
  lastSeq: 0,
  /** @type {Map<string, HTMLLIElement>} bubbles by message id */
  bubbles: new Map(),
};

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

/** Bytes the way the bot writes them: MB = 1,000,000 bytes, "3.1 MB". */
function formatBytes(bytes) {
  const units = [
    [1e12, 'TB'],
    [1e9, 'GB'],
    [1e6, 'MB'],
    [1e3, 'KB'],
  ];
  for (const [size, name] of units) {
    if (bytes >= size) {
      const x = bytes / size;
      return `${Number(x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2))} ${name}`;
    }
  }
  return `${Math.round(bytes)} B`;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** 0.5 s, 1 s, 2 s, 4 s, 8 s, with a little jitter so many tabs do not retry in step. */
const backoff = (n) => sleep(Math.min(8000, 500 * 2 ** n) * (0.8 + Math.random() * 0.4));

/**
 * The page may only talk to its own origin (CSP connect-src/media-src 'self'). Links the server signs carry its
 * configured public address; when the page was opened under another name for the same server (localhost vs
 * 127.0.0.1), the same path on this origin is used.
 */
function local(url) {
  const u = new URL(url, location.href);
  return u.origin === location.origin ? u.href : `${location.origin}${u.pathname}${u.search}${u.hash}`;
}

function scrollToEnd(force) {
  const c = ui.chat;
  const near = c.scrollHeight - c.scrollTop - c.clientHeight < 120;
  if (force || near) window.requestAnimationFrame(() => c.scrollTo({ top: c.scrollHeight }));
}

/** A page-side notice (not from the bot): shown in the conversation, announced, not kept after a reload. */
function note(text) {
  const li = el('li', 'msg note');
  const bubble = el('div', 'bubble');
  bubble.append(el('p', 'text', text));
  li.append(bubble);
  ui.messages.append(li);
  scrollToEnd(true);
}

function errorText(e) {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------------------------------
// Session

function loadSession(refresh = false) {
  if (!state.session || refresh) {
    const p = fetch('api/session', { headers: { Accept: 'application/json' }, cache: 'no-store' }).then(
      (r) => {
        if (!r.ok) throw new Error(`the server did not start a session (HTTP ${r.status})`);
        return r.json();
      },
    );
    state.session = p;
    p.catch(() => {
      if (state.session === p) state.session = null;
    });
  }
  return state.session;
}

// ---------------------------------------------------------------------------------------------------------------
// tus 1.0.0 upload (creation + core protocol), one file at a time per Upload, resumable after network errors.

class UploadError extends Error {}

/** @typedef {{status: number, header: (name: string) => string | null}} XhrResult */

/** One HTTP request with XHR (fetch has no upload progress). Rejects only on network errors and aborts. */
function request(up, method, url, headers, body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    up.xhr = xhr;
    xhr.open(method, url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    if (onProgress) xhr.upload.addEventListener('progress', (e) => onProgress(e.loaded));
    xhr.addEventListener('load', () => {
      up.xhr = null;
      resolve({ status: xhr.status, header: (name) => xhr.getResponseHeader(name) });
    });
    xhr.addEventListener('error', () => {
      up.xhr = null;
      reject(new Error('network error'));
    });
    xhr.addEventListener('timeout', () => {
      up.xhr = null;
      reject(new Error('timed out'));
    });
    xhr.addEventListener('abort', () => {
      up.xhr = null;
      reject(new UploadError('cancelled'));
    });
    xhr.send(body ?? null);
  });
}

function b64(text) {
  let bin = '';
  for (const byte of new TextEncoder().encode(text)) bin += String.fromCharCode(byte);
  return btoa(bin);
}

const retriable = (status) => status === 0 || status === 408 || status === 429 || status >= 500;

function refusal(status, what) {
  if (status === 413) return new UploadError('the file is larger than the server accepts');
  if (status === 404 || status === 410)
    return new UploadError('the upload expired; remove it and add the file again');
  return new UploadError(`the server refused the ${what} (HTTP ${status})`);
}

/** POST: creates the upload, returns its absolute Location. Refreshes an expired signed upload URL once. */
async function createUpload(up) {
  const { file } = up;
  const headers = {
    'Tus-Resumable': TUS_VERSION,
    'Upload-Length': String(file.size),
    'Upload-Metadata': `filename ${b64(file.name)},filetype ${b64(file.type || 'application/octet-stream')}`,
  };
  let refreshed = false;
  for (let failures = 0; ;) {
    const session = await loadSession();
    const endpoint = local(session.uploadUrl);
    let res = null;
    try {
      res = await request(up, 'POST', endpoint, headers, null);
    } catch (e) {
      if (up.cancelled) throw e;
    }
    if (res && res.status === 201) {
      const location = res.header('Location');
      if (!location) throw new UploadError('the server did not say where to upload');
      return local(new URL(location, endpoint).href);
    }
    if (res && (res.status === 401 || res.status === 403) && !refreshed) {
      refreshed = true;
      await loadSession(true);
      continue;
    }
    if (res && !retriable(res.status)) throw refusal(res.status, 'upload');
    if (++failures > MAX_RETRIES) throw new UploadError('could not reach the server');
    await backoff(failures - 1);
  }
}

/** HEAD: where the server is in this upload. null when it cannot be reached now. */
async function serverOffset(up) {
  let res;
  try {
    res = await request(up, 'HEAD', up.location, { 'Tus-Resumable': TUS_VERSION }, null);
  } catch (e) {
    if (up.cancelled) throw e;
    return null;
  }
  if (res.status === 200 || res.status === 204) {
    const offset = Number(res.header('Upload-Offset'));
    if (Number.isSafeInteger(offset) && offset >= 0 && offset <= up.file.size) return offset;
    throw new UploadError('the server reported a broken upload offset');
  }
  if (retriable(res.status)) return null;
  throw refusal(res.status, 'upload');
}

/** PATCH the rest in 8 MiB chunks; on a failure ask the server (HEAD) where to go on from, with backoff. */
async function sendChunks(up) {
  const size = up.file.size;
  let failures = 0;
  while (up.offset < size) {
    const start = up.offset;
    const end = Math.min(size, start + CHUNK_BYTES);
    let res = null;
    try {
      res = await request(
        up,
        'PATCH',
        up.location,
        {
          'Tus-Resumable': TUS_VERSION,
          'Upload-Offset': String(start),
          'Content-Type': 'application/offset+octet-stream',
        },
        up.file.slice(start, end),
        (loaded) => showProgress(up, start + loaded),
      );
    } catch (e) {
      if (up.cancelled) throw e;
    }
    if (res && (res.status === 204 || res.status === 200)) {
      const next = Number(res.header('Upload-Offset'));
      if (!Number.isSafeInteger(next) || next <= start || next > size) {
        throw new UploadError('the server reported a broken upload offset');
      }
      up.offset = next;
      failures = 0;
      showProgress(up, next);
      continue;
    }
    // 409 is an offset mismatch; anything else not retriable is final.
    if (res && res.status !== 409 && !retriable(res.status)) throw refusal(res.status, 'upload');
    if (++failures > MAX_RETRIES) throw new UploadError('the connection keeps dropping; press Retry');
    await backoff(failures - 1);
    const offset = await serverOffset(up);
    if (offset !== null) up.offset = offset;
    showProgress(up, up.offset);
  }
}

/** The whole upload; resolves true when the file is on the server, false when it failed or was removed. */
async function runUpload(up) {
  try {
    setUploadState(up, 'uploading');
    const session = await loadSession();
    if (up.file.size > session.maxBytes) {
      throw new UploadError(
        `it is ${formatBytes(up.file.size)}; the limit is ${formatBytes(session.maxBytes)}`,
      );
    }
    if (up.location) {
      // A retry: go on from where the server is, or start over when it forgot the upload.
      try {
        const offset = await serverOffset(up);
        if (offset !== null) up.offset = offset;
      } catch (e) {
        if (up.cancelled) throw e;
        up.location = null;
        up.offset = 0;
      }
    }
    if (!up.location) {
      up.location = await createUpload(up);
      up.offset = 0;
    }
    up.id = new URL(up.location).pathname.split('/').filter(Boolean).pop() ?? null;
    if (!up.id) throw new UploadError('the server gave the upload no id');
    await sendChunks(up);
    setUploadState(up, 'done');
    return true;
  } catch (e) {
    if (!up.cancelled) setUploadState(up, 'error', errorText(e));
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The upload tray

/**
 * @typedef {object} Upload
 * @property {File} file
 * @property {string | null} location  absolute tus URL once created
 * @property {string | null} id        last path segment of location: what /api/messages takes
 * @property {number} offset
 * @property {'queued'|'uploading'|'done'|'error'} status
 * @property {boolean} cancelled
 * @property {boolean} claimed         part of a send that waits for it
 * @property {XMLHttpRequest | null} xhr
 * @property {Promise<boolean>} promise
 * @property {HTMLLIElement} row
 */

function addFiles(list) {
  const files = Array.from(list ?? []);
  if (files.length === 0) return;
  for (const file of files) {
    if (file.type && !file.type.startsWith('video/') && !VIDEO_EXT.test(file.name)) {
      note(`“${file.name}” is not a video, so I left it out.`);
      continue;
    }
    if (state.uploads.filter((u) => !u.claimed).length >= MAX_FILES) {
      note(`At most ${MAX_FILES} videos go in one message; send these first.`);
      break;
    }
    /** @type {Upload} */
    const up = {
      file,
      location: null,
      id: null,
      offset: 0,
      status: 'queued',
      cancelled: false,
      claimed: false,
      xhr: null,
      promise: Promise.resolve(false),
      row: uploadRow(file),
    };
    wireRow(up);
    state.uploads.push(up);
    ui.uploads.append(up.row);
    up.promise = runUpload(up);
  }
  renderTray();
}

function uploadRow(file) {
  const row = /** @type {HTMLLIElement} */ (el('li', 'upload'));
  const name = el('span', 'upload-name', file.name);
  name.title = file.name;
  const meta = el('span', 'upload-meta', formatBytes(file.size));
  const bar = /** @type {HTMLProgressElement} */ (el('progress', 'upload-bar'));
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute('aria-label', `Upload of ${file.name}`);
  const retry = el('button', 'upload-retry', 'Retry');
  retry.type = 'button';
  retry.hidden = true;
  retry.setAttribute('aria-label', `Retry uploading ${file.name}`);
  const remove = el('button', 'upload-remove', '×');
  remove.type = 'button';
  remove.setAttribute('aria-label', `Remove ${file.name}`);
  row.append(name, meta, bar, retry, remove);
  return row;
}

function wireRow(up) {
  const retry = /** @type {HTMLButtonElement} */ (up.row.querySelector('.upload-retry'));
  const remove = /** @type {HTMLButtonElement} */ (up.row.querySelector('.upload-remove'));
  retry.addEventListener('click', () => {
    up.promise = runUpload(up);
    ui.text.focus();
  });
  remove.addEventListener('click', () => {
    up.cancelled = true;
    up.xhr?.abort();
    dropUpload(up);
    ui.text.focus();
  });
}

function dropUpload(up) {
  state.uploads = state.uploads.filter((u) => u !== up);
  up.row.remove();
  renderTray();
}

function showProgress(up, bytes) {
  const size = up.file.size;
  const pct = size > 0 ? Math.min(100, Math.floor((bytes / size) * 100)) : 100;
  const bar = /** @type {HTMLProgressElement} */ (up.row.querySelector('.upload-bar'));
  bar.value = pct;
  up.row.querySelector('.upload-meta').textContent = `${formatBytes(size)} · ${pct}%`;
}

function setUploadState(up, status, message) {
  up.status = status;
  up.row.dataset.state = status;
  const meta = up.row.querySelector('.upload-meta');
  const retry = /** @type {HTMLButtonElement} */ (up.row.querySelector('.upload-retry'));
  retry.hidden = status !== 'error';
  if (status === 'done') {
    showProgress(up, up.file.size);
    meta.textContent = `${formatBytes(up.file.size)} · uploaded`;
  } else if (status === 'error') {
    meta.textContent = `Upload failed: ${message}`;
  } else {
    showProgress(up, up.offset);
  }
  renderTray();
}

function renderTray() {
  ui.uploads.hidden = state.uploads.length === 0;
  for (const up of state.uploads) up.row.classList.toggle('claimed', up.claimed);
  const waiting = state.outbox > 0;
  ui.send.textContent = waiting ? 'Sending…' : 'Send';
  ui.app.classList.toggle('has-uploads', state.uploads.length > 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Sending

async function postJson(path, body) {
  const r = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  if (r.ok) return;
  let reason = `HTTP ${r.status}`;
  try {
    const j = await r.json();
    if (j && typeof j.error === 'string') reason = j.error;
  } catch {
    // not JSON: keep the status
  }
  throw new Error(reason);
}

/** Sends the text with every file in the tray, once they are uploaded. */
async function send(textArg) {
  const text = (textArg ?? ui.text.value).trim();
  const batch = state.uploads.filter((u) => !u.claimed);
  if (!text && batch.length === 0) {
    ui.text.focus();
    return;
  }
  if (batch.some((u) => u.status === 'error')) {
    note('An upload failed: press Retry or remove it, then send again.');
    return;
  }
  for (const u of batch) u.claimed = true;
  ui.text.value = '';
  autosize();
  state.outbox++;
  renderTray();
  try {
    await Promise.all(batch.map((u) => u.promise));
    const live = batch.filter((u) => !u.cancelled);
    if (live.some((u) => u.status !== 'done')) {
      for (const u of live) u.claimed = false;
      if (!ui.text.value) ui.text.value = text;
      note('An upload failed, so nothing was sent: press Retry or remove it, then send again.');
      return;
    }
    if (!text && live.length === 0) return;
    await postJson('api/messages', { text, uploads: live.map((u) => u.id) });
    for (const u of live) dropUpload(u);
  } catch (e) {
    for (const u of batch) u.claimed = false;
    if (!ui.text.value) ui.text.value = text;
    note(`Could not send that: ${errorText(e)}. Try again.`);
  } finally {
    state.outbox--;
    renderTray();
    autosize();
  }
}

async function press(btn, b) {
  btn.disabled = true;
  try {
    await postJson('api/buttons', { action: b.action, jobId: b.jobId });
    // The bot answers by editing or sending; let the button be pressed again only after a moment.
    setTimeout(() => (btn.disabled = false), 2000);
  } catch (e) {
    btn.disabled = false;
    note(`“${b.label}” did not go through: ${errorText(e)}.`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering the conversation

const URL_RE = /https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/gu;
const BAR_RE = /[▓░]+/u;

/** One line of server text: progress bars get their own (monospace, not read aloud) span; http(s) links become links. */
function appendLine(parent, line) {
  const bar = BAR_RE.exec(line);
  if (bar) {
    if (bar.index > 0) parent.append(line.slice(0, bar.index));
    const glyphs = el('span', 'bar', bar[0]);
    glyphs.setAttribute('aria-hidden', 'true');
    parent.append(glyphs);
    parent.append(line.slice(bar.index + bar[0].length));
    return;
  }
  let last = 0;
  for (const m of line.matchAll(URL_RE)) {
    if (m.index > last) parent.append(line.slice(last, m.index));
    const a = el('a', 'link', m[0]);
    a.href = m[0];
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
    parent.append(a);
    last = m.index + m[0].length;
  }
  if (last < line.length) parent.append(line.slice(last));
}

function setText(node, text) {
  node.replaceChildren();
  text.split('\n').forEach((line, i) => {
    if (i > 0) node.append('\n');
    appendLine(node, line);
  });
}

/** The bubble for a message id: found when known (replays and edits update it in place), else appended. */
function bubbleFor(id, who) {
  let li = state.bubbles.get(id);
  if (!li) {
    li = /** @type {HTMLLIElement} */ (el('li', `msg ${who}`));
    li.dataset.id = id;
    const bubble = el('div', 'bubble');
    bubble.append(el('p', 'text'));
    li.append(bubble);
    state.bubbles.set(id, li);
    ui.messages.append(li);
    scrollToEnd(who === 'user');
  }
  return li;
}

function renderButtons(li, buttons) {
  const bubble = li.querySelector('.bubble');
  let row = bubble.querySelector('.actions');
  if (!buttons || buttons.length === 0) {
    row?.remove();
    return;
  }
  if (!row) {
    row = el('div', 'actions');
    bubble.append(row);
  }
  row.replaceChildren(
    ...buttons.map((b) => {
      const btn = el('button', `act act-${b.action}`, b.label);
      btn.type = 'button';
      btn.dataset.action = b.action;
      btn.addEventListener('click', () => void press(btn, b));
      return btn;
    }),
  );
}

function renderUser(e) {
  const li = bubbleFor(e.id, 'user');
  setText(li.querySelector('.text'), e.text);
  li.querySelector('.text').hidden = e.text === '';
  let files = li.querySelector('.files');
  if (e.files.length > 0) {
    if (!files) {
      files = el('ul', 'files');
      files.setAttribute('aria-label', 'Videos sent');
      li.querySelector('.bubble').prepend(files);
    }
    files.replaceChildren(...e.files.map((name) => el('li', 'file', name)));
  } else {
    files?.remove();
  }
}

function renderMessage(e) {
  const li = bubbleFor(e.id, 'bot');
  setText(li.querySelector('.text'), e.text);
  renderButtons(li, e.buttons);
}

function renderEdit(e) {
  const li = bubbleFor(e.id, 'bot');
  setText(li.querySelector('.text'), e.text);
  if (e.buttons !== null) renderButtons(li, e.buttons);
  scrollToEnd(false);
}

function renderResult(e) {
  const li = bubbleFor(e.id, 'bot');
  li.classList.add('result');
  const bubble = li.querySelector('.bubble');
  const text = el('p', 'text');
  setText(text, e.caption);
  const parts = [text];
  const url = local(e.url);
  if (e.beforeUrl) parts.push(compare(url, local(e.beforeUrl)));
  else {
    const video = /** @type {HTMLVideoElement} */ (el('video', 'preview'));
    video.controls = true;
    video.preload = 'metadata';
    video.playsInline = true;
    video.src = url;
    video.setAttribute('aria-label', `Preview of ${e.fileName}`);
    parts.push(video);
  }
  const row = el('div', 'download-row');
  const a = /** @type {HTMLAnchorElement} */ (el('a', 'download', 'Download'));
  a.href = url;
  a.download = e.fileName;
  a.setAttribute('aria-label', `Download ${e.fileName} (${formatBytes(e.sizeBytes)})`);
  const info = el('span', 'download-info');
  info.append(el('span', 'file-name', e.fileName), ' · ', el('span', 'size', formatBytes(e.sizeBytes)));
  row.append(a, info);
  if (e.expiresAtMs > 0) {
    const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    row.append(el('span', 'expires', `Link valid until ${when.format(new Date(e.expiresAtMs))}`));
  }
  parts.push(row);
  bubble.replaceChildren(...parts);
  renderButtons(li, e.buttons);
  scrollToEnd(false);
}

/** Before/after: the result on top of the original, clipped at the slider; muted, played in step. */
function compare(afterUrl, beforeUrl) {
  const fig = el('figure', 'compare');
  const stage = el('div', 'compare-stage');
  const before = /** @type {HTMLVideoElement} */ (el('video', 'before'));
  const after = /** @type {HTMLVideoElement} */ (el('video', 'after'));
  for (const [v, src] of [
    [before, beforeUrl],
    [after, afterUrl],
  ]) {
    v.muted = true;
    v.playsInline = true;
    v.preload = 'metadata';
    v.loop = true;
    v.src = src;
    v.setAttribute('aria-hidden', 'true');
  }
  const divider = el('div', 'divider');
  divider.setAttribute('aria-hidden', 'true');
  stage.append(
    before,
    after,
    el('span', 'tag tag-before', 'Before'),
    el('span', 'tag tag-after', 'After'),
    divider,
  );

  const controls = el('div', 'compare-controls');
  const play = el('button', 'compare-play', 'Play');
  play.type = 'button';
  play.setAttribute('aria-pressed', 'false');
  const label = el('label', 'compare-label');
  const range = /** @type {HTMLInputElement} */ (el('input', 'compare-range'));
  range.type = 'range';
  range.min = '0';
  range.max = '100';
  range.value = '50';
  label.append(
    el('span', 'visually-hidden', 'Before and after split: original on the left, result on the right'),
    range,
  );
  controls.append(play, label);
  fig.append(stage, controls);

  const split = () => {
    // CSSOM, not a style attribute: allowed under style-src 'self'.
    stage.style.setProperty('--split', `${range.value}%`);
    range.setAttribute('aria-valuetext', `${range.value}% original`);
  };
  range.addEventListener('input', split);
  split();

  after.addEventListener('loadedmetadata', () => {
    if (after.videoWidth > 0 && after.videoHeight > 0) {
      stage.style.setProperty('--ratio', `${after.videoWidth} / ${after.videoHeight}`);
    }
  });
  const sync = () => {
    if (Math.abs(before.currentTime - after.currentTime) > 0.15) before.currentTime = after.currentTime;
  };
  const toggle = () => {
    if (after.paused) {
      sync();
      after.play().catch(() => undefined);
      before.play().catch(() => undefined);
    } else {
      after.pause();
      before.pause();
    }
  };
  play.addEventListener('click', toggle);
  stage.addEventListener('click', toggle);
  after.addEventListener('play', () => {
    play.textContent = 'Pause';
    play.setAttribute('aria-pressed', 'true');
  });
  after.addEventListener('pause', () => {
    play.textContent = 'Play';
    play.setAttribute('aria-pressed', 'false');
    before.pause();
  });
  after.addEventListener('seeked', sync);
  after.addEventListener('timeupdate', sync);
  return fig;
}

function onEvent(type, ev) {
  let e;
  try {
    e = JSON.parse(ev.data);
  } catch {
    return;
  }
  if (typeof e.seq === 'number') state.lastSeq = e.seq;
  if (type === 'user') renderUser(e);
  else if (type === 'message') renderMessage(e);
  else if (type === 'edit') renderEdit(e);
  else if (type === 'result') renderResult(e);
}

// ---------------------------------------------------------------------------------------------------------------
// Live events

function setConn(stateName, text) {
  ui.conn.dataset.state = stateName;
  ui.conn.textContent = text;
}

let retries = 0;
function connect() {
  // EventSource resends Last-Event-ID on its own reconnects; after a hard failure we reopen with ?after=.
  const es = new EventSource(state.lastSeq > 0 ? `api/events?after=${state.lastSeq}` : 'api/events');
  es.addEventListener('open', () => {
    retries = 0;
    setConn('live', 'Connected');
  });
  es.addEventListener('error', () => {
    if (es.readyState === EventSource.CLOSED) {
      es.close();
      setConn('offline', 'Offline — reconnecting…');
      void backoff(Math.min(retries++, 4)).then(connect);
    } else {
      setConn('connecting', 'Reconnecting…');
    }
  });
  for (const type of ['user', 'message', 'edit', 'result']) {
    es.addEventListener(type, (ev) => onEvent(type, ev));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Input: the composer, example chips, file picker, drag and drop

function autosize() {
  ui.text.style.height = 'auto';
  ui.text.style.height = `${Math.min(ui.text.scrollHeight, 160)}px`;
}

ui.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  void send();
});
ui.text.addEventListener('keydown', (e) => {
  // Enter sends, Shift+Enter is a new line; never while an IME is composing (Chinese, Japanese input).
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
    e.preventDefault();
    void send();
  }
});
ui.text.addEventListener('input', autosize);

for (const chip of document.querySelectorAll('.chip')) {
  chip.addEventListener('click', () => {
    const text = chip.getAttribute('data-text') ?? chip.textContent ?? '';
    // With videos waiting, the example goes with them; otherwise it fills the box to edit or send.
    if (state.uploads.some((u) => !u.claimed)) {
      ui.text.value = text;
      void send();
    } else {
      ui.text.value = text;
      autosize();
      ui.text.focus();
      ui.text.setSelectionRange(text.length, text.length);
    }
  });
}

ui.pick.addEventListener('click', () => ui.fileInput.click());
ui.fileInput.addEventListener('change', () => {
  addFiles(ui.fileInput.files);
  ui.fileInput.value = '';
  ui.text.focus();
});

let dragDepth = 0;
const hasFiles = (e) => Array.from(e.dataTransfer?.types ?? []).includes('Files');
document.addEventListener('dragenter', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  dragDepth++;
  ui.overlay.hidden = false;
});
document.addEventListener('dragover', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
});
document.addEventListener('dragleave', (e) => {
  if (!hasFiles(e)) return;
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) ui.overlay.hidden = true;
});
document.addEventListener('drop', (e) => {
  dragDepth = 0;
  ui.overlay.hidden = true;
  if (!e.dataTransfer || e.dataTransfer.files.length === 0) return;
  e.preventDefault();
  addFiles(e.dataTransfer.files);
  ui.text.focus();
});

// Pasting a video from the clipboard works like dropping it.
ui.text.addEventListener('paste', (e) => {
  const files = e.clipboardData?.files;
  if (files && files.length > 0) {
    e.preventDefault();
    addFiles(files);
  }
});

window.addEventListener('beforeunload', (e) => {
  if (state.uploads.some((u) => u.status === 'uploading') || state.outbox > 0) e.preventDefault();
});

void loadSession().catch((e) => note(`The chat is not available right now: ${errorText(e)}`));
connect();
renderTray();
