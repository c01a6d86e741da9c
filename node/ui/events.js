// The dashboard's connection to GET /events, in a dedicated worker: frames are parsed off the page's
// thread, and the never-ending stream is not one of the page's own fetches (headless Chromium's
// --virtual-time-budget waits for those to finish before it advances, so it could never dump the DOM).
"use strict";
const source = new EventSource("/events");
source.onmessage = (m) => {
  try { postMessage({ frame: JSON.parse(m.data) }); } catch (e) { postMessage({ error: `bad frame: ${e.message}` }); }
};
source.onerror = () => postMessage({ error: "disconnected from /events; retrying…" });
