// The supervision tree from GET /api/supervisors (fetched when a connection starts), kept live
// by ACTOR_RESTARTED events: each node's state, pid, uptime, restarts and last failure.
// A restart newer than the fetched tree (more restarts than the node shows) is applied on top,
// so the order in which the fetch and the events arrive does not matter.

import { byId, h, setText } from '../dom.js';
import { duration, toEpochSeconds } from '../format.js';

const FLASH_SECONDS = 10;

export class SupervisorsPanel {
  constructor() {
    this.list = byId('sup-tree');
    this.meta = byId('sup-meta');
    this.tree = null;
    this.error = null;
    this.applied = 0;
    this.uptimes = [];
  }

  async load(api) {
    let result = await api.get('/api/supervisors');
    for (let attempt = 1; result.status === 503 && attempt <= 5; attempt += 1) {
      // The web front has just started and the root has not reported the tree yet.
      await new Promise((resolve) => setTimeout(resolve, 400 * attempt));
      result = await api.get('/api/supervisors');
    }
    if (result.ok) {
      this.tree = result.data;
      this.error = null;
      this.applied = 0;
    } else {
      this.error = result.error;
    }
  }

  render(store) {
    if (this.tree) {
      for (const event of store.restarts) {
        const node = find(this.tree, event.name);
        if (!node || Number(event.restarts) <= Number(node.restarts)) continue;
        node.restarts = event.restarts;
        node.pid = event.new_pid;
        node.state = 'running';
        node.started_at = event.timestamp;
        node.last_failure = { time: event.timestamp, reason: event.reason };
      }
    }
    if (!this.tree) {
      this.list.replaceChildren(h('li', { class: 'empty' }, this.error ? `Supervision tree: ${this.error}` : 'Loading…'));
      return;
    }
    const nodes = [];
    walk(this.tree, 0, nodes);
    let restarts = 0;
    this.uptimes = [];
    const now = Date.now() / 1000;
    const items = nodes.map(({ node, depth }) => {
      restarts += Number(node.restarts) || 0;
      const failedAt = toEpochSeconds(node.last_failure?.time);
      const recent = failedAt !== null && now - failedAt < FLASH_SECONDS;
      const uptime = h('span', null, '');
      this.uptimes.push([uptime, toEpochSeconds(node.started_at)]);
      return h('li', {
        class: recent ? 'flash' : '', style: `padding-left:${12 + depth * 16}px`,
        dataset: { name: node.name, state: node.state, pid: node.pid ?? '', restarts: node.restarts ?? 0 },
      },
      h('div', { class: 'row1' }, h('span', { class: 'state-dot', title: node.state }), h('span', { class: 'name' }, node.name),
        h('span', { class: 'role' }, node.role + (node.strategy ? ` · ${node.strategy}` : '')),
        h('span', { class: 'spacer' }), h('span', { class: 'dim' }, node.state)),
      h('div', { class: 'row2' }, h('span', null, `pid ${node.pid ?? '—'}`), uptime,
        h('span', { class: Number(node.restarts) > 0 ? 'restarts-hot' : '' }, `restarts ${node.restarts ?? 0}`)),
      node.last_failure ? h('div', { class: 'failure', title: node.last_failure.reason },
        `last failure ${timeOf(node.last_failure.time)}: ${node.last_failure.reason}`) : null);
    });
    this.list.replaceChildren(...items);
    setText(this.meta, `${nodes.length} actors · ${restarts} restart${restarts === 1 ? '' : 's'}`);
    this.tick();
  }

  /** Once a second: uptimes. */
  tick() {
    const now = Date.now() / 1000;
    for (const [el, started] of this.uptimes) setText(el, started === null ? 'up —' : `up ${duration(now - started)}`);
  }
}

function timeOf(iso) {
  const s = toEpochSeconds(iso);
  return s === null ? '?' : new Date(s * 1000).toLocaleTimeString('en-GB');
}

function walk(node, depth, out) {
  out.push({ node, depth });
  for (const child of node.children || []) walk(child, depth + 1, out);
}

function find(node, name) {
  if (node.name === name) return node;
  for (const child of node.children || []) {
    const hit = find(child, name);
    if (hit) return hit;
  }
  return null;
}
