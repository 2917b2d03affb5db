// Same-origin client for /api/v1 and the /ws feeds, plus the login session.

const SESSION_KEY = "emx.session";
export const API = "/api/v1";

// localStorage: a new tab of the same browser is still logged in.
export function getSession() {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    const s = raw ? JSON.parse(raw) : null;
    if (s && sessionExpiresAt(s) <= Date.now()) {
      localStorage.removeItem(SESSION_KEY);
      return null;
    }
    return s;
  } catch {
    return null;
  }
}

export function setSession(s) {
  localStorage.setItem(SESSION_KEY, JSON.stringify(s));
}

export function clearSession() {
  localStorage.removeItem(SESSION_KEY);
}

const DEFAULT_TTL_MS = 8 * 3600 * 1000;

/** When the token stops working: the server's expires_at when it sent one, else login + 8 h. */
export function sessionExpiresAt(s) {
  const server = s.expires_at ? Date.parse(s.expires_at) : NaN;
  if (Number.isFinite(server)) return server;
  return (s.logged_in_at || 0) + DEFAULT_TTL_MS;
}

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || `http_${status}`;
    this.body = body;
  }
}

function pydanticMessage(detail) {
  // FastAPI's default validation error shape, just in case it leaks through.
  if (!Array.isArray(detail)) return String(detail);
  return detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
}

async function errorFrom(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch {
    /* not JSON */
  }
  if (body && body.error) return new ApiError(resp.status, body.error.code, body.error.message, body);
  if (body && body.detail) return new ApiError(resp.status, null, pydanticMessage(body.detail), body);
  return new ApiError(resp.status, null, resp.statusText, body);
}

/** Call the API. `auth` defaults to sending the session token when there is one.
 *  Resolves to the parsed JSON body (or null for 204); rejects with ApiError. */
export async function api(method, path, body, { auth = true, raw = false, quiet = false } = {}) {
  const headers = { Accept: raw ? "*/*" : "application/json" };
  const session = getSession();
  if (auth && session && session.token) headers.Authorization = `Bearer ${session.token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(API + path, init);
  } catch (e) {
    throw new ApiError(0, "network_error", String(e));
  }
  if (!resp.ok) {
    const err = await errorFrom(resp);
    if (resp.status === 401 && auth && session && !quiet) {
      document.dispatchEvent(new CustomEvent("emx:unauthorized", { detail: err }));
    }
    throw err;
  }
  if (raw) return resp;
  if (resp.status === 204) return null;
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body, opts) => api("POST", path, body ?? {}, opts);
export const patch = (path, body, opts) => api("PATCH", path, body, opts);
export const put = (path, body, opts) => api("PUT", path, body, opts);
export const del = (path, opts) => api("DELETE", path, undefined, opts);

/** Fetch a file with the token and hand it to the browser as a download. */
export async function download(path, filename) {
  const resp = await api("GET", path, undefined, { raw: true });
  const blob = await resp.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function wsUrl(path) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}`;
}

/** A WebSocket feed that reconnects with backoff and checks the gap-free `seq`.
 *  onMessage(msg) for each feed message; onGap() when a seq was missed (the feed then
 *  reconnects, and the server starts again with snapshots); onStatus(state) with
 *  "connecting" | "live" | "reconnecting" | "closed". For private feeds pass `token`:
 *  it is sent as the first message, never in the URL. */
export class Feed {
  constructor(path, { token = null, onMessage, onGap, onStatus, onAuthFailed } = {}) {
    this.path = path;
    this.token = token;
    this.onMessage = onMessage || (() => {});
    this.onGap = onGap || (() => {});
    this.onStatus = onStatus || (() => {});
    this.onAuthFailed = onAuthFailed || (() => {});
    this.lastSeq = null;
    this.backoff = 500;
    this.stopped = false;
    this.ws = null;
    this.timer = null;
    this.open();
  }

  open() {
    if (this.stopped) return;
    this.lastSeq = null;
    this.onStatus(this.ws ? "reconnecting" : "connecting");
    const ws = new WebSocket(wsUrl(this.path));
    this.ws = ws;
    ws.onopen = () => {
      if (this.token) ws.send(JSON.stringify({ type: "auth", token: this.token }));
      else this.onStatus("live");
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.type === "auth_ok") {
        this.lastSeq = typeof msg.seq === "number" ? msg.seq : 0;
        this.backoff = 500;
        this.onStatus("live");
        return;
      }
      if (msg.type === "error") {
        this.onMessage(msg);
        return;
      }
      if (typeof msg.seq === "number") {
        if (this.lastSeq !== null && msg.seq !== this.lastSeq + 1) {
          // Missed something: start over from a fresh snapshot.
          this.lastSeq = null;
          this.onGap(msg);
          this.restart();
          return;
        }
        this.lastSeq = msg.seq;
      }
      this.backoff = 500;
      if (!this.token) this.onStatus("live");
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      if (ev.code === 4401 || ev.code === 4403) {
        this.stopped = true;
        this.onStatus("closed");
        this.onAuthFailed(ev.code);
        return;
      }
      this.scheduleReconnect();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  restart() {
    const old = this.ws;
    this.ws = null;
    if (old) {
      old.onclose = null;
      try {
        old.close();
      } catch {
        /* ignore */
      }
    }
    this.open();
  }

  scheduleReconnect() {
    if (this.stopped) return;
    this.onStatus("reconnecting");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, 15_000);
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close();
    }
    this.onStatus("closed");
  }
}

/** A fresh client_order_id: time plus 80 random bits (works without a secure context). */
export function newClientOrderId() {
  const bytes = new Uint8Array(10);
  crypto.getRandomValues(bytes);
  const rnd = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `web-${Date.now().toString(36)}-${rnd}`;
}
