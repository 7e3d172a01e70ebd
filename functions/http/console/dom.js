// Building the page: elements are made with createElement and text with text nodes, never from
// HTML strings, so a tenant's display name (or any text the API returns) is shown as text and
// can never become markup or script.

/** @typedef {Node | string | number | null | undefined | false} Child */

/**
 * An element with attributes and children. `on<event>` attributes take functions; `class`,
 * `for` and any `aria-*` or `data-*` are set as attributes; `false`/`null` values are left out.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "value" && "value" in el) {
      /** @type {HTMLInputElement} */ (el).value = String(value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

/**
 * @param {Element} el
 * @param {(Child | Child[])[]} children
 */
function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replaces what `el` holds.
 * @param {Element} el
 * @param {...(Child | Child[])} children
 */
export function show(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * A health, state or sync word with its colour: the word is always there, so colour is never
 * the only signal.
 * @param {string | null | undefined} word
 */
export function badge(word) {
  const text = word || "unknown";
  return h("span", { class: `badge badge-${text.replace(/[^a-z_]/g, "")}` }, text);
}

/**
 * An error for people: its message and, when the API named one, the field.
 * @param {unknown} error
 */
export function errorBox(error) {
  const e = /** @type {{message?: string, field?: string | null}} */ (error);
  return h(
    "p",
    { class: "error", role: "alert" },
    e.field ? `${e.field}: ` : "",
    e.message || String(error),
  );
}

/**
 * Asks for a confirmation in a modal dialog that names what goes; resolves to whether the
 * person confirmed. `typed`, when given, must be typed exactly before the button works (a
 * deletion's tenant name).
 * @param {{title: string, body: (Child | Child[])[], confirm: string, danger?: boolean, typed?: string}} options
 * @returns {Promise<boolean>}
 */
export function confirmAction({ title, body, confirm, danger = false, typed }) {
  return new Promise((resolve) => {
    /** @type {HTMLInputElement | null} */
    const input = typed
      ? /** @type {HTMLInputElement} */ (h("input", { id: "confirm-typed", autocomplete: "off" }))
      : null;
    const ok = /** @type {HTMLButtonElement} */ (
      h("button", { type: "submit", class: danger ? "danger" : "primary", disabled: !!typed }, confirm)
    );
    if (input) input.addEventListener("input", () => (ok.disabled = input.value !== typed));
    const cancel = h("button", { type: "button" }, "Cancel");
    const dialog = /** @type {HTMLDialogElement} */ (
      h(
        "dialog",
        { "aria-labelledby": "confirm-title", class: "confirm" },
        h(
          "form",
          { method: "dialog" },
          h("h2", { id: "confirm-title" }, title),
          ...body,
          input && h("label", { for: "confirm-typed" }, `Type ${typed} to confirm`),
          input,
          h("div", { class: "buttons" }, cancel, ok),
        ),
      )
    );
    let answered = false;
    const finish = (/** @type {boolean} */ yes) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      resolve(yes);
    };
    cancel.addEventListener("click", () => finish(false));
    dialog.addEventListener("cancel", () => finish(false));
    dialog.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      finish(true);
    });
    document.body.append(dialog);
    dialog.showModal();
    (input || cancel).focus();
  });
}

/**
 * Marks the element only people who may write see; the whole element is left out for others.
 * @param {boolean} canWrite
 * @param {() => HTMLElement} make
 */
export function writeOnly(canWrite, make) {
  if (!canWrite) return null;
  const el = make();
  el.setAttribute("data-write", "");
  return el;
}
