// The live feed: one WebSocket to /ws, and nothing else while it is up (no polling).
//
// Frames are batches {"v":1,"events":[...]}; the first event of a connection is STATE_SNAPSHOT
// whose data.last_seq says where the server stands. On a drop the client reconnects with
// exponential backoff and full jitter and resumes with ?since=<last seq applied>, so the server
// replays exactly what was missed; close code 4000 ("resync": this client fell behind) reconnects
// at once. The state shown in the header is one of connecting, live, resyncing (replaying what
// was missed), reconnecting (waiting to retry) and offline (several attempts failed; still
// retrying, at the longest delay).
//
// The token never goes into the WebSocket's URL (URLs end up in logs and history): each attempt
// first asks POST /api/ws-ticket (with the bearer header) for a single-use ticket, and opens
// /ws?ticket=…. The ticket's reply also says the server's last seq; a page that is ahead of it
// (a restarted WebFront not synced yet, or another daemon) resumes from there, and the snapshot
// check below decides what to do.

const RESYNC_CODE = 4000;
const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
const OFFLINE_AFTER_ATTEMPTS = 4;
const STABLE_AFTER_MS = 5000;

export class LiveConnection {
  /**
   * @param {object} options
   * @param {() => Promise<{ticket: string, last_seq: number}|{refused: true}|null>} options.getTicket
   *        a ticket for one connection; {refused: true} when the token is refused, null when
   *        the daemon cannot give one now
   * @param {() => number} options.lastSeq        highest seq the page has applied (0: none)
   * @param {(events: object[]) => void} options.onEvents
   * @param {(state: string, info: object) => void} options.onState
   * @param {() => Promise<boolean>} options.tokenStillValid  asked after a failed attempt
   */
  constructor({ getTicket, lastSeq, onEvents, onState, tokenStillValid }) {
    this.getTicket = getTicket;
    this.attempt = 0;
    this.lastSeq = lastSeq;
    this.onEvents = onEvents;
    this.onState = onState;
    this.tokenStillValid = tokenStillValid;
    this.ws = null;
    this.attempts = 0;
    this.timer = null;
    this.stopped = true;
    this.state = 'connecting';
    this.catchUpTo = 0;
    this.retryAt = 0;
    this.openedAt = 0;
    this.connections = 0;
    this.behind = 0;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      ws.close(1000, 'page closed');
    }
  }

  /** Skip the wait and try now (the "Retry now" button). */
  retryNow() {
    if (this.ws || this.stopped) return;
    clearTimeout(this.timer);
    this.connect();
  }

  setState(state, info = {}) {
    this.state = state;
    this.onState(state, { attempts: this.attempts, retryAt: this.retryAt, ...info });
  }

  url(ticket) {
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const params = new URLSearchParams({ ticket: ticket.ticket });
    let since = this.lastSeq();
    if (Number.isFinite(ticket.last_seq)) since = Math.min(since, ticket.last_seq);
    if (since > 0) params.set('since', String(since));
    return `${scheme}//${window.location.host}/ws?${params}`;
  }

  async connect() {
    this.timer = null;
    const attempt = ++this.attempt; // a newer connect() (Retry now) supersedes this one
    const resuming = this.lastSeq() > 0;
    this.setState(resuming ? 'resyncing' : 'connecting');
    const ticket = await this.getTicket();
    if (this.stopped || attempt !== this.attempt || this.ws) return;
    if (ticket && ticket.refused) {
      this.stopped = true;
      this.setState('offline', { reason: 'token refused' });
      return;
    }
    if (!ticket || !ticket.ticket) {
      this.attempts += 1;
      this.afterFailure(true); // the daemon is down or starting; the token was not refused
      return;
    }
    const ws = new WebSocket(this.url(ticket));
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.openedAt = performance.now();
      this.connections += 1;
    };
    ws.onmessage = (message) => this.receive(message.data);
    ws.onerror = () => {}; // onclose follows and decides what to do
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      const wasStable = opened && performance.now() - this.openedAt > STABLE_AFTER_MS;
      if (wasStable) this.attempts = 0;
      if (event.code === RESYNC_CODE) {
        this.schedule(50 + Math.random() * 200, 'resyncing');
        return;
      }
      this.attempts += 1;
      this.afterFailure(opened);
    };
  }

  async afterFailure(opened) {
    if (!opened && this.tokenStillValid) {
      const valid = await this.tokenStillValid();
      if (valid === false) {
        this.stopped = true;
        this.setState('offline', { reason: 'token refused' });
        return;
      }
    }
    const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (this.attempts - 1));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.schedule(delay, this.attempts >= OFFLINE_AFTER_ATTEMPTS ? 'offline' : 'reconnecting');
  }

  schedule(delayMs, state) {
    if (this.stopped) return;
    this.retryAt = Date.now() + delayMs;
    this.setState(state);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delayMs);
  }

  receive(data) {
    if (typeof data !== 'string') return; // we ask for JSON frames; anything else is ignored
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    const events = Array.isArray(frame?.events) ? frame.events : [];
    if (!events.length) return;
    const snapshot = events.find((event) => event?.type === 'STATE_SNAPSHOT');
    if (snapshot) this.catchUpTo = Number(snapshot.data?.last_seq) || 0;
    if (this.onEvents(events, { behindRetries: this.behind }) === false) {
      // The server is behind what we already have: a restarted WebFront that has not been
      // synced from the Broadcaster yet. Try again shortly rather than skip what we missed.
      this.behind += 1;
      const ws = this.ws;
      this.ws = null;
      if (ws) {
        ws.onclose = ws.onmessage = ws.onerror = null;
        ws.close(1000, 'server not synced yet');
      }
      this.schedule(200 + Math.random() * 300, 'resyncing');
      return;
    }
    if (snapshot) this.behind = 0;
    if (this.state !== 'live' && this.lastSeq() >= this.catchUpTo) this.setState('live');
  }
}
