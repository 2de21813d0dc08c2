// REST calls to the daemon with the bearer token. A call never throws: it resolves to
// {ok, status, data, error}, `error` being the daemon's own words when it gave any (a 404 names
// what it does not know, such as a symbol without bars, so a panel shows it and asks again later).

export class Api {
  /** @param {() => string|null} getToken  @param {() => void} onUnauthorized */
  constructor(getToken, onUnauthorized) {
    this.getToken = getToken;
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, body) {
    const headers = { Accept: 'application/json' };
    const token = this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store', credentials: 'omit',
      });
    } catch (error) {
      return { ok: false, status: 0, data: null, error: 'the daemon cannot be reached' };
    }
    let data = null;
    try {
      const text = await response.text();
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    const result = {
      ok: response.ok,
      status: response.status,
      data,
      error: response.ok ? null : describeError(response.status, data),
    };
    if (response.status === 401 && this.onUnauthorized) this.onUnauthorized();
    return result;
  }

  /** GET a file with the token and hand it to the browser as a download (a plain link cannot
   * carry the Authorization header, and the token stays out of URLs). Resolves to {ok, status,
   * name, error}. */
  async download(path, fallbackName) {
    const headers = {};
    const token = this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(path, { headers, cache: 'no-store', credentials: 'omit' });
    } catch (error) {
      return { ok: false, status: 0, error: 'the daemon cannot be reached' };
    }
    if (!response.ok) {
      const data = await response.json().catch(() => null);
      if (response.status === 401 && this.onUnauthorized) this.onUnauthorized();
      return { ok: false, status: response.status, error: describeError(response.status, data) };
    }
    const blob = await response.blob();
    const disposition = response.headers.get('Content-Disposition') || '';
    const name = /filename="([^"]+)"/.exec(disposition)?.[1] || fallbackName;
    const url = URL.createObjectURL(blob);
    const link = Object.assign(document.createElement('a'), { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    return { ok: true, status: response.status, name, error: null };
  }

  get(path) { return this.request('GET', path); }
  post(path, body) { return this.request('POST', path, body ?? {}); }
}

function describeError(status, data) {
  const detail = data && (data.detail || data.error);
  if (status === 401) return 'the token was refused';
  if (status === 503) return detail || 'the daemon is busy starting a service';
  return detail ? String(detail) : `HTTP ${status}`;
}
