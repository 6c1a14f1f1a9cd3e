// Arus gate scanner: enrols the device with a one-time code, then speaks the
// gate's device protocol (docs/gate.md) with the device's key. Online it
// asks the server; offline it checks signed passes itself with the event's
// Ed25519 public keys (WebCrypto), the revoked and blocked passes of the
// bundle and the changes feed, and what this device let through, queues
// what it let through and uploads it with force when the server answers.
'use strict';
(() => {
  const API = '/api/v1/gate';
  const PREFIX = 'arus.scan.';
  const store = {
    get(k, d) {
      try { const v = JSON.parse(localStorage.getItem(PREFIX + k)); return v === null ? d : v; } catch { return d; }
    },
    set(k, v) { localStorage.setItem(PREFIX + k, JSON.stringify(v)); },
    clear() { Object.keys(localStorage).filter((k) => k.startsWith(PREFIX)).forEach((k) => localStorage.removeItem(k)); },
  };
  const $ = (sel, root = document) => root.querySelector(sel);
  // The page's texts in its language (scanner_text.go, refusals.go):
  // tx(key, ...args) fills each %s with the next argument, and %[n]s with
  // the nth, as Go's fmt does.
  const TEXT = JSON.parse(document.getElementById('scan-text').textContent);
  const fill = (text, ...args) => {
    let i = 0;
    return text.replace(/%(?:\[(\d+)\])?s/g, (m, n) => {
      if (n) i = Number(n) - 1;
      const a = args[i++];
      return a === undefined ? m : String(a);
    });
  };
  const tx = (key, ...args) => fill(TEXT[key] || key, ...args);
  // named is the text of a value (a direction, a kind, a state), or the value.
  const named = (prefix, v) => TEXT[prefix + v] || v;
  const LOCALE = document.documentElement.lang === 'en' ? 'en' : 'id-ID';
  // The gate's field errors come in English; FIELDS words them in the
  // page's language (field_text.go, none in English): each is the pattern
  // of a message and its wording, the most specific first. fieldText is a
  // message so worded, its whole numbers written as the page writes
  // numbers, or the message as it came.
  const FIELDS = JSON.parse(document.getElementById('scan-fields').textContent).map(([re, text]) => [new RegExp(re), text]);
  const fieldText = (msg) => {
    for (const [re, text] of FIELDS) {
      const m = re.exec(msg);
      if (m) return fill(text, ...m.slice(1).map((v) => (/^-?\d+$/.test(v) ? Number(v).toLocaleString(LOCALE) : v)));
    }
    return msg;
  };
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  let device = store.get('device', null); // the enrol answer's device, with api_key
  let settings = store.get('settings', { direction: '', sound: true });
  let bundle = store.get('bundle', null); // {position, keys, gates, lists, fetched, passes: {id: [status, area, inside]}}
  let queue = store.get('queue', []); // redeem bodies let through offline
  let seen = store.get('seen', {}); // pass id → {inside, entries, gate, at}: what this device let through
  let recent = store.get('recent', []);
  let lastUpload = store.get('upload', null);
  let reachable = true;
  let verifyKeys = new Map(); // key id → CryptoKey
  let signatures = 'unknown'; // 'ok', 'none' (no Ed25519 in WebCrypto)
  let lastSecret = ''; // the pass of the answer shown, for an override
  let found = []; // the passes the last search found
  let admitting = null; // the found pass the admit form is for, with its nonce
  let busy = false;
  let started = 0; // when the scan shown was read, to say how long the answer took

  const online = () => navigator.onLine && reachable;
  const ev = () => encodeURIComponent(device.event_id);
  const gate = () => (bundle && bundle.gates.find((g) => g.gate_id === device.gate_id)) || { gate_id: device.gate_id, name: device.gate_id, areas: [], direction: 'both' };
  const supervisor = () => device && device.role === 'supervisor';

  // ---- the server ----

  class Offline extends Error {}
  class Problem extends Error {
    // A refusal with a code (docs/api.md) is told in the page's language.
    constructor(status, p) {
      const coded = !!(p && p.code && TEXT['refusal.' + p.code]);
      super((coded && tx('refusal.' + p.code, ...(p.args || []))) || (p && (p.detail || p.title)) || 'HTTP ' + status);
      this.status = status; this.coded = coded; this.fields = (p && p.errors) || [];
    }
  }
  // problemText is what a refused request says: its code's text in the
  // page's language, else its fields' messages (fieldText), else its
  // detail.
  const problemText = (e) => (!e.coded && e.fields && e.fields.length ? e.fields.map((f) => fieldText(f.message)).join('; ') : e.message);

  async function api(method, path, body, timeout = 5000) {
    const headers = { Accept: 'application/json' };
    if (device && device.api_key) headers.Authorization = 'Bearer ' + device.api_key;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let resp;
    try {
      resp = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeout), cache: 'no-store' });
    } catch (e) {
      setReachable(false);
      throw new Offline(e.message);
    }
    setReachable(true);
    const data = await resp.json().catch(() => null);
    if (!resp.ok) {
      const p = new Problem(resp.status, data);
      if (resp.status === 401 && device && device.api_key) {
        banner(tx('refused'));
        // The key itself was refused (revoked, unknown): the API's code
        // (key_revoked, credentials_invalid) has no text of the scanner's,
        // and the banner says why in the page's language.
        if (!p.coded) { p.message = tx('refused'); p.coded = true; }
      }
      throw p;
    }
    return data;
  }

  function setReachable(v) {
    if (reachable !== v) { reachable = v; renderStatus(); }
  }

  // ---- signed passes (docs/gate.md, "Signed passes") ----

  const DOMAIN = new TextEncoder().encode('arus.gate.pass.v1\0');
  const text = new TextDecoder();

  function b64url(s) {
    const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
    return Uint8Array.from(b, (c) => c.charCodeAt(0));
  }

  function parsePass(payload) {
    if (payload.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(payload)) return null;
    let raw;
    try { raw = b64url(payload); } catch { return null; }
    if (raw.length < 4 + 64) return null;
    const body = raw.subarray(0, raw.length - 64);
    const sig = raw.subarray(raw.length - 64);
    if (body[0] !== 1 || (body[1] !== 1 && body[1] !== 2)) return null;
    let i = 4;
    const ids = [];
    for (let n = 0; n < 3; n++) {
      const len = body[i];
      if (!len || len > 64 || i + 1 + len > body.length) return null;
      ids.push(text.decode(body.subarray(i + 1, i + 1 + len)));
      i += 1 + len;
    }
    if (body.length - i !== 16) return null;
    const dv = new DataView(body.buffer, body.byteOffset + i, 16);
    return {
      kind: body[1] === 2 ? 'staff' : 'ticket', keyId: (body[2] << 8) | body[3],
      eventId: ids[0], passId: ids[1], areaId: ids[2],
      notBefore: Number(dv.getBigInt64(0)), notAfter: Number(dv.getBigInt64(8)), body, sig,
    };
  }

  async function loadKeys() {
    verifyKeys = new Map();
    if (!bundle) return;
    if (!(window.crypto && crypto.subtle)) { signatures = 'none'; return; }
    try {
      for (const k of bundle.keys) {
        verifyKeys.set(k.key_id, await crypto.subtle.importKey('raw', b64url(k.public_key), { name: 'Ed25519' }, false, ['verify']));
      }
      signatures = 'ok';
    } catch {
      signatures = 'none';
    }
  }

  // verifyPass returns the pass when the payload is a pass of this event
  // signed by one of the bundle's keys, else null.
  async function verifyPass(payload) {
    const p = parsePass(payload);
    if (!p || p.eventId !== device.event_id) return null;
    const key = verifyKeys.get(p.keyId);
    if (!key) return null;
    const signed = new Uint8Array(DOMAIN.length + p.body.length);
    signed.set(DOMAIN);
    signed.set(p.body, DOMAIN.length);
    return (await crypto.subtle.verify({ name: 'Ed25519' }, key, p.sig, signed)) ? p : null;
  }

  function pickList(g, area) {
    return bundle.lists.find((l) => (!g.list_id || l.list_id === g.list_id) && l.areas.includes(area)) || null;
  }

  // decideOffline applies the gate's rules to what this device knows.
  function decideOffline(p, atMs, direction) {
    const g = gate();
    const known = bundle.passes[p.passId];
    const status = known ? known[0] : 'valid';
    if (status === 'revoked' || status === 'canceled' || status === 'blocked') return status;
    const list = pickList(g, p.areaId);
    if (!g.areas.includes(p.areaId) || !list) return 'wrong_area';
    const t = atMs / 1000;
    if (t < p.notBefore || (p.notAfter !== 0 && t > p.notAfter)) return 'outside_window';
    const s = seen[p.passId] || { inside: !!(known && known[2]), entries: known && known[2] ? 1 : 0 };
    if (direction === 'entry' && s.inside && !list.multiple_entries) return 'already_redeemed';
    if (direction === 'entry' && !s.inside && s.entries > 0 && !list.entry_after_exit && !list.multiple_entries) return 'already_redeemed';
    return '';
  }

  function remember(passId, direction, at) {
    const s = seen[passId] || { inside: false, entries: 0 };
    if (direction === 'entry') { s.inside = true; s.entries++; s.gate = device.gate_id; s.at = at; } else s.inside = false;
    seen[passId] = s;
    store.set('seen', seen);
  }

  // ---- the bundle and the changes feed ----

  async function downloadBundle() {
    const b = await api('GET', `/events/${ev()}/bundle?passes=true`, undefined, 30000);
    const passes = {};
    for (const p of b.passes || []) passes[p.pass_id] = [p.status, p.area_id, p.inside];
    for (const id of b.revoked) passes[id] = [(passes[id] && passes[id][0]) || 'revoked', passes[id] ? passes[id][1] : '', false];
    for (const id of b.blocked) passes[id] = ['blocked', passes[id] ? passes[id][1] : '', passes[id] ? passes[id][2] : false];
    bundle = { position: b.position, keys: b.keys, gates: b.gates, lists: b.lists, passes, fetched: new Date().toISOString() };
    try {
      store.set('bundle', bundle);
    } catch {
      // Too large for this browser's storage: keep what offline checks
      // cannot do without, the passes to refuse.
      bundle.passes = Object.fromEntries(Object.entries(passes).filter(([, p]) => p[0] !== 'valid'));
      bundle.partial = true;
      store.set('bundle', bundle);
    }
    await loadKeys();
    renderSetup();
  }

  async function follow() {
    for (let round = 0; round < 50; round++) {
      const r = await api('GET', `/events/${ev()}/changes?after=${bundle.position}&limit=1000`);
      for (const c of r.changes) {
        const old = bundle.passes[c.pass_id];
        bundle.passes[c.pass_id] = [c.status, c.area_id, old ? old[2] : false];
      }
      const more = r.changes.length === 1000 && r.next > bundle.position;
      bundle.position = r.next;
      if (!more) break;
    }
    store.set('bundle', bundle);
  }

  // ---- upload ----

  let uploading = null;
  function upload() {
    if (!uploading) {
      uploading = doUpload().catch((e) => {
        // Refused (not merely offline): say why on the queue screen; the
        // scans stay queued for an operator to look at.
        if (!(e instanceof Offline)) {
          lastUpload = { at: new Date().toISOString(), count: 0, flagged: [], error: problemText(e) };
          store.set('upload', lastUpload);
          renderQueue();
        }
        throw e;
      }).finally(() => { uploading = null; });
    }
    return uploading;
  }

  async function doUpload() {
    while (queue.length) {
      const batch = queue.slice(0, 5000);
      const r = await api('POST', `/events/${ev()}/upload`, { scans: batch.map((s) => ({ ...s, force: true })) }, 60000);
      const sent = new Set(batch.map((s) => s.nonce));
      queue = queue.filter((s) => !sent.has(s.nonce));
      store.set('queue', queue);
      // A scan recorded although it conflicts (another device's entry, a
      // refund this device had not heard of) answers ok with the conflict.
      const flagged = r.results.filter((x) => x.ok && x.reason).map((x) => `${x.pass_id || tx('notpass')}: ${words(x.reason).word.toLowerCase()}`);
      lastUpload = { at: new Date().toISOString(), count: batch.length, flagged };
      store.set('upload', lastUpload);
    }
    renderStatus();
    renderQueue();
  }

  // ---- scanning ----

  function nonce() {
    return crypto.randomUUID ? crypto.randomUUID() : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  async function scan(raw) {
    const secret = raw.trim();
    if (!secret || busy) return;
    busy = true;
    try {
      await check(secret);
    } finally {
      busy = false;
    }
  }

  async function check(secret, override) {
    lastSecret = secret;
    started = performance.now();
    const at = new Date();
    const body = { secret, gate_id: device.gate_id, direction: settings.direction, at: at.toISOString(), nonce: nonce() };
    if (override) body.override = override;
    if (online()) {
      try {
        const res = await api('POST', `/events/${ev()}/redeem`, body, 4000);
        if (res.ok && res.scan && res.scan.counted) remember(res.pass_id, body.direction, body.at);
        answer({ ...res, secret, at: body.at, mode: 'online' });
        return;
      } catch (e) {
        if (!(e instanceof Offline)) {
          answer({ ok: false, reason: 'error', detail: problemText(e), secret, at: body.at, mode: 'online' });
          return;
        }
        // Unreachable: decide here, with the same nonce, so that a scan
        // the server did get is not recorded twice.
      }
    }
    if (override) {
      answer({ ok: false, reason: 'error', detail: tx('overrideoffline'), secret, at: body.at, mode: 'offline' });
      return;
    }
    if (!bundle || signatures !== 'ok') {
      answer({ ok: false, reason: 'error', detail: signatures === 'none' ? tx('nosig') : tx('nobundle'), secret, at: body.at, mode: 'offline' });
      return;
    }
    const p = await verifyPass(secret);
    if (!p) { answer({ ok: false, reason: 'invalid', secret, at: body.at, mode: 'offline' }); return; }
    const reason = decideOffline(p, at.getTime(), body.direction);
    const prev = seen[p.passId];
    if (reason === '') {
      queue.push(body);
      store.set('queue', queue);
      remember(p.passId, body.direction, body.at);
      renderStatus();
    }
    answer({
      ok: reason === '', reason, pass_id: p.passId, area_id: p.areaId, kind: p.kind, secret, at: body.at, mode: 'offline',
      previous: reason === 'already_redeemed' && prev && prev.at ? { gate_id: prev.gate, at: prev.at } : null,
      window: [p.notBefore, p.notAfter],
    });
  }

  // ---- answers ----

  const REASONS = {
    '': { word: tx('word.valid'), text: tx('text.valid') },
    already_redeemed: { word: tx('word.already_redeemed'), text: tx('text.already_redeemed') },
    wrong_area: { word: tx('word.wrong_area'), text: tx('text.wrong_area') },
    revoked: { word: tx('word.revoked'), text: tx('text.revoked') },
    canceled: { word: tx('word.canceled'), text: tx('text.canceled') },
    blocked: { word: tx('word.blocked'), text: tx('text.blocked') },
    outside_window: { word: tx('word.outside_window'), text: tx('text.outside_window') },
    unpaid: { word: tx('word.unpaid'), text: tx('text.unpaid') },
    unknown: { word: tx('word.unknown'), text: tx('text.unknown') },
    admitted: { word: tx('word.admitted'), text: '' },
    invalid: { word: tx('word.invalid'), text: tx('text.invalid') },
    error: { word: tx('word.error'), text: '' },
  };
  const words = (r) => REASONS[r] || { word: r, text: '' };

  function when(iso) {
    const d = new Date(iso);
    const mins = Math.round((Date.now() - d.getTime()) / 60000);
    const ago = mins < 1 ? tx('justnow') : mins < 120 ? tx('minago', mins) : tx('hago', Math.round(mins / 60));
    return `${d.toLocaleTimeString(LOCALE, { hour: '2-digit', minute: '2-digit' })} (${ago})`;
  }

  function answer(a) {
    const el = $('#answer');
    const flagged = a.ok && a.reason; // let through, with a conflict (override, force)
    const w = a.ok ? words('') : words(a.reason);
    const exit = settings.direction === 'exit';
    const admitted = a.ok && a.reason === 'admitted';
    $('#answer-word').textContent = !a.ok ? w.word
      : admitted ? (exit ? tx('admitted.out') : tx('admitted.in'))
        : a.scan && a.scan.override ? (exit ? tx('override.out') : tx('override.in')) : (exit ? tx('valid.out') : tx('valid.in'));
    let reason = a.ok ? '' : (a.detail || w.text);
    if (a.pass_id) reason += `${reason ? ' ' : ''}${a.kind === 'staff' ? tx('staffpass', a.pass_id, a.area_id) : tx('ticketpass', a.pass_id, a.area_id)}`;
    $('#answer-reason').textContent = reason;
    const prev = a.previous || (a.scan && a.scan.previous);
    let detail = '';
    if (prev) detail = prev.device_id && prev.device_id !== device.device_id ? tx('entered.other', prev.gate_id, when(prev.at)) : tx('entered', prev.gate_id, when(prev.at));
    else if (a.reason === 'already_redeemed') detail = tx('inside');
    if (a.reason === 'wrong_area') detail = tx('letsinto', gate().name, gate().areas.join(', ') || tx('noarea'));
    if (a.reason === 'outside_window' && a.window) detail = tx('window', a.window[0] ? ' ' + tx('from', new Date(a.window[0] * 1000).toLocaleString(LOCALE)) : '', a.window[1] ? ' ' + tx('until', new Date(a.window[1] * 1000).toLocaleString(LOCALE)) : '');
    if (flagged) detail = tx('recorded', words(a.reason).word.toLowerCase(), a.scan && a.scan.override ? ` — “${a.scan.override}”` : '');
    if (admitted) detail = tx('admitted.recorded', a.scan.override);
    $('#answer-detail').textContent = detail;
    const ms = Math.round(performance.now() - started);
    $('#answer-mode').textContent = (a.mode === 'offline' ? (a.ok ? tx('mode.offlinewait') : tx('mode.offline')) : tx('mode.online')) + ` (${ms} ms).`;
    el.dataset.ms = ms;
    el.classList.toggle('ok', !!a.ok);
    el.classList.toggle('no', !a.ok);
    // An override needs the pass scanned: not for an admit by id.
    const canOverride = !a.ok && supervisor() && !!a.secret && a.reason !== 'error' && a.reason !== 'invalid' && a.mode === 'online';
    $('#override-form').hidden = !canOverride;
    $('#override-error').hidden = true;
    $('#override-reason').value = '';
    el.hidden = false;
    el.dataset.result = a.ok ? 'ok' : a.reason;
    beep(a.ok);
    recent.unshift({ ok: !!a.ok, reason: a.ok ? (a.reason || '') : a.reason, pass: a.pass_id || '', at: a.at, mode: a.mode });
    recent = recent.slice(0, 20);
    store.set('recent', recent);
    renderRecent();
    // Focus stays where a hardware scanner types, so the next scan needs
    // no tap, even when a supervisor's device offers an override (a tap
    // on the reason starts one). An admit's answer, on the search screen,
    // takes the focus to its button.
    $('#secret').value = '';
    if (document.body.dataset.showing === 'search') $('#answer-next').focus();
    else $('#secret').focus();
  }

  function closeAnswer() {
    $('#answer').hidden = true;
    $('#secret').value = '';
    if (document.body.dataset.showing === 'search') $('#q').focus();
    else $('#secret').focus();
  }

  let audio = null;
  function beep(ok) {
    if (!settings.sound) return;
    try {
      audio = audio || new AudioContext();
      const tones = ok ? [[880, 0, 0.15]] : [[220, 0, 0.2], [220, 0.3, 0.2]];
      for (const [f, start, len] of tones) {
        const o = audio.createOscillator();
        const g = audio.createGain();
        o.frequency.value = f;
        g.gain.value = 0.2;
        o.connect(g).connect(audio.destination);
        o.start(audio.currentTime + start);
        o.stop(audio.currentTime + start + len);
      }
    } catch { /* no sound: the screen says it all */ }
  }

  // ---- the camera (BarcodeDetector) ----

  let camera = null; // {stream, view, timer}
  async function cameraSupport() {
    if (!('BarcodeDetector' in window)) return tx('cam.nodetector', tx('usehw'));
    if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) return tx('cam.none', tx('usehw'));
    try {
      if (!(await BarcodeDetector.getSupportedFormats()).includes('qr_code')) return tx('cam.noqr', tx('usehw'));
    } catch { return tx('cam.failed', tx('usehw')); }
    return '';
  }

  async function startCamera(target) {
    stopCamera();
    const view = $(`[data-camera-view="${target}"]`);
    const video = $('video', view);
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      video.srcObject = stream;
      await video.play();
      view.hidden = false;
      const detector = new BarcodeDetector({ formats: ['qr_code'] });
      camera = { stream, view, last: '', lastAt: 0 };
      const tick = async () => {
        if (!camera) return;
        try {
          const codes = await detector.detect(video);
          const v = codes.length ? codes[0].rawValue : '';
          if (v && (v !== camera.last || Date.now() - camera.lastAt > 3000)) {
            camera.last = v; camera.lastAt = Date.now();
            onCameraCode(target, v);
          }
        } catch { /* a frame that could not be read */ }
        if (camera) camera.timer = setTimeout(tick, 200);
      };
      tick();
    } catch (e) {
      $$('[data-camera-note]').forEach((n) => { n.textContent = tx('cam.nostart', e.name || e.message, tx('usehw')); });
    }
  }

  function stopCamera() {
    if (!camera) return;
    clearTimeout(camera.timer);
    camera.stream.getTracks().forEach((t) => t.stop());
    camera.view.hidden = true;
    camera = null;
  }

  function onCameraCode(target, v) {
    if (target === 'code') {
      stopCamera();
      $('#code').value = codeFrom(v);
      enrol();
    } else if ($('#answer').hidden || $('#override-form').hidden) {
      scan(v);
    }
  }

  // An enrolment QR holds the code alone or a link to this page with
  // #code=… after it.
  function codeFrom(v) {
    const m = /[#?&]code=([^&#]+)/.exec(v);
    return (m ? decodeURIComponent(m[1]) : v).trim();
  }

  // ---- enrolment and setup ----

  function fieldError(id, msg) {
    const el = $('#' + id);
    el.textContent = msg || '';
    el.hidden = !msg;
    const input = document.querySelector(`[aria-describedby~="${id}"]`);
    if (input) input.setAttribute('aria-invalid', msg ? 'true' : 'false');
  }

  async function enrol() {
    const code = $('#code').value.trim();
    if (!code) { fieldError('code-error', tx('err.code')); $('#code').focus(); return; }
    fieldError('code-error', '');
    try {
      const r = await api('POST', '/enrol', { code });
      device = { ...r.device, api_key: r.api_key, scopes: r.scopes };
      store.set('device', device);
      queue = []; seen = {}; recent = [];
      ['queue', 'seen', 'recent'].forEach((k) => store.set(k, []));
      store.set('seen', {});
      await downloadBundle();
      location.hash = '#setup';
      route();
    } catch (e) {
      if (e instanceof Offline) fieldError('code-error', tx('err.enroloffline'));
      else fieldError('code-error', problemText(e));
      $('#code').focus();
    }
  }

  function renderSetup() {
    if (!device) return;
    $('#fact-event').textContent = device.event_id;
    $('#fact-device').textContent = `${device.name} (${device.device_id})`;
    $('#fact-role').textContent = device.role === 'supervisor' ? tx('role.supervisor') : tx('role.steward');
    $('#fact-bundle').textContent = !bundle ? tx('bundle.none')
      : tx('bundle', Object.keys(bundle.passes).length.toLocaleString(LOCALE), bundle.partial ? tx('bundle.partial') : '', bundle.keys.length, bundle.position, when(bundle.fetched));
    $('#fact-crypto').textContent = signatures === 'ok' ? tx('sig.ok')
      : signatures === 'none' ? tx('sig.none') : tx('sig.unknown');
    const box = $('#gate-choices');
    box.textContent = '';
    const gates = bundle ? bundle.gates : [gate()];
    for (const g of gates) {
      const label = document.createElement('label');
      label.className = 'choice';
      const input = document.createElement('input');
      input.type = 'radio'; input.name = 'gate'; input.value = g.gate_id;
      input.checked = g.gate_id === device.gate_id;
      input.disabled = g.gate_id !== device.gate_id;
      label.append(input, ` ${g.name} (${g.gate_id}): ${g.areas.join(', ') || tx('noarea')}, ${named('dir.', g.direction)}${input.disabled ? ' — ' + tx('owncode') : ''}`);
      box.append(label);
    }
    const dir = gate().direction;
    for (const r of $$('input[name=direction]')) {
      r.disabled = dir !== 'both' && dir !== r.value;
      r.checked = settings.direction === r.value || (dir === r.value && dir !== 'both');
    }
    $('#sound').checked = !!settings.sound;
  }

  function saveSetup(e) {
    e.preventDefault();
    const d = $('input[name=direction]:checked');
    if (!d) { fieldError('direction-error', tx('err.direction')); return; }
    fieldError('direction-error', '');
    settings = { direction: d.value, sound: $('#sound').checked };
    store.set('settings', settings);
    location.hash = '#scan';
  }

  // ---- lists ----

  function renderStatus() {
    const net = $('#net');
    const up = online();
    net.textContent = up ? tx('online') : tx('offline');
    net.className = 'pill ' + (up ? 'ok' : 'bad');
    net.title = up ? tx('net.online') : navigator.onLine ? tx('net.unreachable') : tx('net.none');
    $('#where').textContent = device ? `${gate().name} · ${settings.direction ? named('dir.', settings.direction) : tx('nodirection')}` : '';
    const w = $('#waiting');
    w.hidden = !device;
    w.textContent = tx('toupload', queue.length.toLocaleString(LOCALE));
    w.className = 'pill ' + (queue.length ? 'warn' : 'info');
    renderQueue();
    renderAdmit();
  }

  function cell(row, v, cls) {
    const td = document.createElement('td');
    td.textContent = v;
    if (cls) td.className = cls;
    row.append(td);
  }

  // lines adds a cell of a line for each [text, class, whole] with a
  // text: whole follows the text and is never broken across lines.
  function lines(row, ls) {
    const td = document.createElement('td');
    for (const [v, cls, whole] of ls) {
      if (!v) continue;
      const span = document.createElement('span');
      span.className = cls ? `line ${cls}` : 'line';
      span.textContent = v;
      if (whole) {
        const w = document.createElement('span');
        w.className = 'whole';
        w.textContent = whole;
        span.append(' ', w);
      }
      td.append(span);
    }
    row.append(td);
  }

  function renderQueue() {
    $('#queue-summary').textContent = queue.length ? tx('queue.some', queue.length.toLocaleString(LOCALE)) : tx('queue.none');
    $('#queue-table').hidden = !queue.length;
    const body = $('#queue-rows');
    body.textContent = '';
    for (const s of queue.slice(-200).reverse()) {
      const tr = document.createElement('tr');
      const p = parsePass(s.secret);
      cell(tr, new Date(s.at).toLocaleTimeString(LOCALE));
      cell(tr, p ? p.passId : '?', 'mono');
      cell(tr, named('dir.', s.direction));
      body.append(tr);
    }
    $('#upload-now').disabled = !queue.length;
    if (lastUpload && lastUpload.error) {
      $('#upload-result').textContent = tx('upload.refused', when(lastUpload.at), lastUpload.error);
    } else if (lastUpload) {
      $('#upload-result').textContent = tx('upload.done', when(lastUpload.at), lastUpload.count) +
        (lastUpload.flagged.length ? tx('upload.flagged', lastUpload.flagged.join(', ')) : tx('upload.clean'));
    }
  }

  function renderRecent() {
    const ol = $('#recent');
    ol.textContent = '';
    $('#recent-empty').hidden = recent.length > 0;
    for (const r of recent) {
      const li = document.createElement('li');
      li.className = r.ok ? 'ok' : 'no';
      const mark = document.createElement('span');
      mark.className = 'mark';
      mark.setAttribute('aria-hidden', 'true');
      mark.textContent = r.ok ? '✓' : '✗';
      const what = document.createElement('span');
      what.textContent = `${r.ok ? (r.reason ? tx('letthrough', words(r.reason).word.toLowerCase()) : words('').word) : words(r.reason).word}${r.pass ? ' · ' + r.pass : ''}`;
      const t = document.createElement('span');
      t.className = 'muted';
      t.textContent = `${new Date(r.at).toLocaleTimeString(LOCALE)}${r.mode === 'offline' ? ' · ' + tx('offline') : ''}`;
      li.append(mark, what, t);
      ol.append(li);
    }
  }

  async function search(e) {
    e.preventDefault();
    fieldError('q-error', '');
    try {
      const r = await api('GET', `/events/${ev()}/passes?q=${encodeURIComponent($('#q').value.trim())}&limit=50`);
      found = r.passes;
      renderFound();
      $('#search-summary').textContent = found.length ? tx('found', found.length) : tx('notfound');
    } catch (err) {
      fieldError('q-error', err instanceof Offline ? tx('err.searchoffline') : problemText(err));
    }
  }

  // renderFound lists the passes found, each valid one with an Admit
  // button: a supervisor lets it through by its id when its QR code cannot
  // be read.
  function renderFound() {
    const body = $('#search-rows');
    body.textContent = '';
    for (const p of found) {
      // Two columns of stacked lines, so a phone shows them side by side:
      // the pass with its buyer and order (or its staff member), then its
      // status, kind, area and whether it is inside.
      const tr = document.createElement('tr');
      lines(tr, [[p.pass_id, 'mono'], [p.buyer_name || p.staff_name], [p.order_number && tx('order'), 'muted', p.order_number]]);
      lines(tr, [[named('status.', p.status)], [`${named('kind.', p.kind)} · ${p.area_id} · ${p.inside ? tx('found.inside') : tx('found.outside')}`, 'muted']]);
      const td = document.createElement('td');
      if (p.status === 'valid') {
        const b = document.createElement('button');
        b.type = 'button';
        b.dataset.admit = p.pass_id;
        b.textContent = tx('admit');
        b.setAttribute('aria-label', tx('admit.label', p.pass_id));
        b.addEventListener('click', () => openAdmit(p));
        td.append(b);
      }
      tr.append(td);
      body.append(tr);
    }
    $('#search-table').hidden = !found.length;
    renderAdmit();
  }

  // renderAdmit offers admitting only while the server answers: it
  // decides with every gate's scans and records the reason.
  function renderAdmit() {
    if (!device) return;
    const up = online();
    $$('[data-admit]').forEach((b) => { b.hidden = !up; });
    $('#admit-offline').hidden = up;
    if (!up) $('#admit-form').hidden = true;
  }

  function openAdmit(p) {
    // One nonce per pass admitted: a retry after a timeout is not
    // recorded twice.
    admitting = { ...p, nonce: nonce() };
    const holder = [p.buyer_name ? tx('admit.buyer', p.buyer_name) : '', p.order_number ? tx('admit.order', p.order_number) : '',
      p.staff_name ? tx('admit.staff', p.staff_name) : ''];
    $('#admit-pass').textContent = [tx('admit.pass', named('kind.', p.kind), p.pass_id, p.area_id), ...holder].filter(Boolean).join(' ');
    $('#admit-reason').value = '';
    fieldError('admit-error', '');
    $('#admit-form').hidden = false;
    $('#admit-reason').focus();
  }

  async function admit(e) {
    e.preventDefault();
    const reason = $('#admit-reason').value.trim();
    if (!reason) { fieldError('admit-error', tx('err.admit')); $('#admit-reason').focus(); return; }
    if (busy || !admitting) return;
    busy = true;
    started = performance.now();
    const body = { gate_id: device.gate_id, direction: settings.direction, at: new Date().toISOString(), nonce: admitting.nonce, override: reason };
    try {
      const res = await api('POST', `/events/${ev()}/passes/${encodeURIComponent(admitting.pass_id)}/admit`, body, 4000);
      if (res.ok && res.scan && res.scan.counted) remember(res.pass_id, body.direction, body.at);
      $('#admit-form').hidden = true;
      admitting = null;
      answer({ ...res, at: body.at, mode: 'online' });
      // The list shows who is inside now.
      found = (await api('GET', `/events/${ev()}/passes?q=${encodeURIComponent($('#q').value.trim())}&limit=50`)).passes;
      renderFound();
    } catch (err) {
      if (!$('#admit-form').hidden) {
        fieldError('admit-error', err instanceof Offline ? tx('err.admitoffline') : problemText(err));
      }
    } finally {
      busy = false;
    }
  }

  function banner(msg) {
    const b = $('#banner');
    b.textContent = msg;
    b.hidden = !msg;
  }

  // ---- screens ----

  const TITLES = { enrol: tx('t.enrol'), setup: tx('t.setup'), scan: tx('t.scan'), queue: tx('t.queue'), search: tx('t.search') };
  function route() {
    let want = location.hash.replace(/^#/, '').split('=')[0] || 'scan';
    if (!device) want = 'enrol';
    else if (want === 'enrol' || (want === 'scan' && !settings.direction)) want = 'setup';
    else if (want === 'search' && !supervisor()) want = 'scan';
    else if (!TITLES[want]) want = 'scan';
    stopCamera();
    for (const s of $$('section[data-screen]')) s.hidden = s.dataset.screen !== want;
    document.title = `${TITLES[want]} · ${tx('title')}`;
    document.body.dataset.showing = want;
    $$('[data-supervisor]').forEach((el) => { el.hidden = !supervisor(); });
    if (want === 'enrol') {
      const c = codeFrom(location.hash);
      if (c && c !== location.hash) $('#code').value = c;
      $('#code').focus();
    }
    if (want === 'setup') { renderSetup(); $('#setup-title').focus(); }
    if (want === 'scan') { renderRecent(); $('#secret').focus(); }
    if (want === 'queue') { renderQueue(); $('#queue-title').focus(); }
    if (want === 'search') $('#q').focus();
    renderStatus();
  }

  // ---- the loop: upload, follow, refresh ----

  let lastFollow = 0;
  let lastBundle = 0;
  async function tick() {
    if (!device || !navigator.onLine) { renderStatus(); return; }
    try {
      if (queue.length) await upload();
      if (!bundle || Date.now() - lastBundle > 10 * 60000) { await downloadBundle(); lastBundle = Date.now(); lastFollow = Date.now(); }
      else if (Date.now() - lastFollow > 10000) { await follow(); lastFollow = Date.now(); }
    } catch { /* offline or refused: the status says so; try again later */ }
    renderStatus();
  }

  async function start() {
    $('#enrol-form').addEventListener('submit', (e) => { e.preventDefault(); enrol(); });
    $('#setup-form').addEventListener('submit', saveSetup);
    $('#scan-form').addEventListener('submit', (e) => { e.preventDefault(); scan($('#secret').value); });
    $('#search-form').addEventListener('submit', search);
    $('#admit-form').addEventListener('submit', admit);
    $('#admit-cancel').addEventListener('click', () => { $('#admit-form').hidden = true; admitting = null; $('#q').focus(); });
    $('#answer-next').addEventListener('click', closeAnswer);
    $('#override-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const reason = $('#override-reason').value.trim();
      if (!reason) { fieldError('override-error', tx('err.override')); return; }
      if (busy) return;
      busy = true;
      try { await check(lastSecret, reason); } finally { busy = false; }
    });
    $('#upload-now').addEventListener('click', () => upload().catch((e) => { $('#upload-result').textContent = e instanceof Offline ? tx('err.uploadoffline') : problemText(e); }));
    $('#refresh-bundle').addEventListener('click', () => downloadBundle().then(() => { lastBundle = Date.now(); }).catch((e) => banner(e instanceof Offline ? tx('err.bundleoffline') : problemText(e))));
    $('#fullscreen').addEventListener('click', () => document.documentElement.requestFullscreen && document.documentElement.requestFullscreen().catch(() => {}));
    $('#forget').addEventListener('click', () => {
      const lost = queue.length ? ' ' + tx('forget.lost', queue.length) : '';
      if (!confirm(tx('forget', lost))) return;
      store.clear();
      banner('');
      device = null; bundle = null; queue = []; seen = {}; recent = []; settings = { direction: '', sound: true };
      location.hash = '#enrol';
      route();
    });
    document.addEventListener('keydown', (e) => {
      // A hardware scanner types into the page: keep it in the scan box
      // while an answer shows.
      if (!$('#answer').hidden && $('#override-form').hidden && e.key === 'Escape') closeAnswer();
    });
    const note = await cameraSupport();
    $$('[data-camera-note]').forEach((n) => { n.textContent = note; n.hidden = !note; });
    $$('[data-camera]').forEach((b) => { b.hidden = !!note; b.addEventListener('click', () => startCamera(b.dataset.camera)); });
    $$('[data-camera-stop]').forEach((b) => b.addEventListener('click', stopCamera));
    window.addEventListener('hashchange', route);
    window.addEventListener('online', () => { reachable = true; tick(); });
    window.addEventListener('offline', renderStatus);
    await loadKeys();
    route();
    document.body.dataset.ready = 'true';
    setInterval(tick, 5000);
    tick();
    if ('serviceWorker' in navigator) navigator.serviceWorker.register('/scan/sw.js', { scope: '/scan/' }).catch(() => {});
  }

  start();
})();
