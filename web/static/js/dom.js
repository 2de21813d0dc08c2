// Small DOM helpers. Elements are built with textContent only (never innerHTML), so text that
// comes from the server, such as a reason or a lesson, can never inject markup.

/** Make an element: h('td', {class: 'r', dataset: {seq: 4}}, 'text', childNode). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2), value);
      } else el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export const byId = (id) => document.getElementById(id);

/** Set text only when it changed (cheap to call every frame). */
export function setText(el, text) {
  const value = String(text ?? '');
  if (el.textContent !== value) el.textContent = value;
}

/** Set a data-* attribute only when it changed. */
export function setData(el, key, value) {
  const text = String(value ?? '');
  if (el.dataset[key] !== text) el.dataset[key] = text;
}

/** Run `update` (which may rebuild the container's children) and give keyboard focus back to
 *  the element with the same data-key, so a live refresh never steals the user's focus. */
export function keepFocus(container, update) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.closest('[data-key]')?.dataset.key : null;
  update();
  if (key !== null && key !== undefined && !container.contains(document.activeElement)) {
    const again = [...container.querySelectorAll('[data-key]')].find((el) => el.dataset.key === key);
    again?.focus({ preventScroll: true });
  }
}
