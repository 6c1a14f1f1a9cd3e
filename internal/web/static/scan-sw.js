// The gate scanner's service worker: it keeps the page and its assets so
// that the scanner opens without the network. The server writes VERSION
// (of the page and its assets) and KEEP (what to keep) in front of this
// file. The gate API is never cached: the page itself decides offline.
const CACHE = 'arus-scan-' + VERSION;

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(KEEP)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith('arus-scan-') && n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

// page answers the page from the network when it answers within three
// seconds, keeping the copy, else from the cache.
async function page(req) {
  const cache = await caches.open(CACHE);
  const fresh = fetch(req).then((resp) => {
    if (resp.ok) cache.put('/scan/', resp.clone());
    return resp;
  });
  const timeout = new Promise((resolve) => setTimeout(resolve, 3000));
  try {
    const resp = await Promise.race([fresh, timeout]);
    if (resp) return resp;
  } catch { /* offline: the cache answers */ }
  const kept = await cache.match('/scan/');
  return kept || fresh;
}

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname === '/scan/') {
    e.respondWith(page(e.request));
  } else if (KEEP.includes(url.pathname + url.search)) {
    e.respondWith(caches.match(url.pathname + url.search).then((kept) => kept || fetch(e.request)));
  }
});
