// DOM helpers of the web page. Every value shown comes from audit and runtime events an attacker can
// shape (command lines, user agents, paths), so elements are built with createElement(NS)/textContent
// only: no innerHTML anywhere.

// C0 and C1 controls, DEL, and the Unicode bidi marks and overrides (same set as the CLI's output).
const unsafeChars = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const namedEscapes = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Text with control and bidi characters shown as escapes (`\x1b`, `\u202e`) instead of drawn or obeyed. */
export function visible(text) {
  return text.replace(unsafeChars, (c) => {
    if (namedEscapes[c]) return namedEscapes[c];
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(visible(String(child))));
  }
  return el;
}

/** h('td', { class: 'x' }, 'text', child): an element; strings become (visible) text nodes, never markup. */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** The same for SVG elements (hand-written charts: no library, nothing parsed from text). */
export function svg(tag, attrs, ...children) {
  return build(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, children);
}
