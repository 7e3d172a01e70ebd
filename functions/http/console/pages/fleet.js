// The fleet: every tenant the caller may see, a page at a time, with counts by health, search
// and filters. The server pages, counts and filters (20,000 tenants cost one page).

import { get, seg, write } from "../api.js";
import { badge, confirmAction, errorBox, h, show, writeOnly } from "../dom.js";
import { ago, person } from "../format.js";
import { poll } from "../poll.js";

/** @typedef {import("../api.js").TenantList} TenantList */
/** @typedef {import("../api.js").CatalogResponse} CatalogResponse */
/** @typedef {import("../api.js").RequestView} RequestView */
/** @typedef {import("../app.js").PageContext} PageContext */

const PAGE = 50;
const HEALTHS = ["healthy", "progressing", "degraded", "unhealthy", "missing", "orphaned", "suspended", "unknown"];

/** @param {PageContext} context */
export function fleetPage({ caller, main }) {
  document.title = "Tenants · Berth";
  const filters = { q: "", health: "", tier: "", state: "" };
  /** @type {string[]} the `after` of each page shown before this one */
  const earlier = [];
  let after = "";
  /** @type {{ stop: () => void } | null} */
  let poller = null;

  const counts = h("div", { class: "counts", role: "group", "aria-label": "Tenants by health" });
  const table = h("div", { class: "table-wrap" });
  const pager = h("div", { class: "pager" });
  const problem = h("div");
  const search = /** @type {HTMLInputElement} */ (
    h("input", { id: "search", type: "search", placeholder: "Name, display name or owner", maxlength: 100 })
  );
  const tierFilter = /** @type {HTMLSelectElement} */ (h("select", { id: "tier-filter" }, h("option", { value: "" }, "Any tier")));
  const stateFilter = /** @type {HTMLSelectElement} */ (
    h("select", { id: "state-filter" }, ...["", "active", "suspended", "invalid"].map((s) => h("option", { value: s }, s || "Any state")))
  );

  function path() {
    const query = new URLSearchParams({ limit: String(PAGE) });
    for (const [name, value] of Object.entries(filters)) if (value) query.set(name, value);
    if (after) query.set("after", after);
    return `/tenants?${query}`;
  }

  function reload() {
    if (poller) poller.stop();
    poller = poll(path(), render, (error) => show(problem, errorBox(error)), 5000);
  }

  /** @param {TenantList} list */
  function render(list) {
    show(problem);
    show(
      counts,
      h("button", { type: "button", "aria-pressed": String(!filters.health), onclick: () => setHealth("") }, `All ${sum(list.counts)}`),
      ...HEALTHS.filter((name) => list.counts[name] || filters.health === name).map((name) =>
        h("button", { type: "button", class: `count-${name}`, "aria-pressed": String(filters.health === name), onclick: () => setHealth(name) }, badge(name), ` ${list.counts[name] || 0}`),
      ),
    );
    show(
      table,
      list.tenants.length === 0
        ? h("p", {}, "No tenant matches.")
        : h(
            "table",
            { class: "tenants" },
            h("caption", { class: "sr-only" }, "Tenants"),
            h("thead", {}, h("tr", {}, ...["Tenant", "Tier", "State", "Health", "Last change"].map((t) => h("th", { scope: "col" }, t)))),
            h(
              "tbody",
              {},
              ...list.tenants.map((t) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, h("a", { href: `#/tenants/${seg(t.name)}` }, t.name), t.display_name ? h("span", { class: "sub" }, t.display_name) : null),
                  h("td", {}, t.tier),
                  h("td", {}, badge(t.state)),
                  h("td", {}, badge(t.health)),
                  h("td", {}, t.last_change ? [ago(t.last_change.at), h("span", { class: "sub" }, person(t.last_change.author))] : ago(t.updated_at)),
                ),
              ),
            ),
          ),
    );
    const shown = earlier.length * PAGE;
    show(
      pager,
      h("span", {}, list.tenants.length ? `${shown + 1}–${shown + list.tenants.length} of ${list.total}` : `0 of ${list.total}`),
      h("button", { type: "button", disabled: earlier.length === 0, onclick: () => { after = earlier.pop() || ""; reload(); } }, "Previous"),
      h("button", { type: "button", disabled: !list.next_after, onclick: () => { earlier.push(after); after = list.next_after || ""; reload(); } }, "Next"),
    );
  }

  /** @param {string} health */
  function setHealth(health) {
    filters.health = health;
    firstPage();
  }

  function firstPage() {
    earlier.length = 0;
    after = "";
    reload();
  }

  let typing = 0;
  search.addEventListener("input", () => {
    window.clearTimeout(typing);
    typing = window.setTimeout(() => {
      filters.q = search.value.trim();
      firstPage();
    }, 250);
  });
  tierFilter.addEventListener("change", () => { filters.tier = tierFilter.value; firstPage(); });
  stateFilter.addEventListener("change", () => { filters.state = stateFilter.value; firstPage(); });

  const creating = h("div");
  show(
    main,
    h("div", { class: "title-row" }, h("h1", {}, "Tenants"), writeOnly(caller.can_write, () => h("button", { type: "button", class: "primary", id: "new-tenant", onclick: () => createForm(creating) }, "New tenant"))),
    creating,
    counts,
    h(
      "div",
      { class: "filters" },
      h("label", { for: "search" }, "Search"), search,
      h("label", { for: "tier-filter" }, "Tier"), tierFilter,
      h("label", { for: "state-filter" }, "State"), stateFilter,
    ),
    problem,
    table,
    pager,
  );
  get("/catalog").then((/** @type {CatalogResponse} */ c) => {
    for (const tier of c.catalog.tiers) tierFilter.append(h("option", { value: tier.name }, tier.name));
  }).catch(() => {});
  reload();
}

/** @param {Record<string, number>} counts */
function sum(counts) {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/**
 * The form that creates a tenant, from the catalog's tiers, environments and modules.
 * @param {HTMLElement} box
 */
async function createForm(box) {
  /** @type {CatalogResponse} */
  let catalog;
  try {
    catalog = await get("/catalog");
  } catch (error) {
    show(box, errorBox(error));
    return;
  }
  const { tiers, environments, modules } = catalog.catalog;
  const name = /** @type {HTMLInputElement} */ (h("input", { id: "new-name", required: true, pattern: "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", autocomplete: "off" }));
  const display = /** @type {HTMLInputElement} */ (h("input", { id: "new-display", autocomplete: "off" }));
  const tier = /** @type {HTMLSelectElement} */ (h("select", { id: "new-tier" }, ...tiers.map((t) => h("option", { value: t.name }, t.name))));
  const envBoxes = environments.map((e) => /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: `new-env-${e.name}`, value: e.name })));
  const moduleBoxes = modules.map((m) => /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: `new-module-${m.name}`, value: m.name })));
  const problem = h("div");
  const form = h(
    "form",
    { class: "panel", "aria-labelledby": "new-title" },
    h("h2", { id: "new-title" }, "New tenant"),
    h("label", { for: "new-name" }, "Name (a DNS label)"), name,
    h("label", { for: "new-display" }, "Display name"), display,
    h("label", { for: "new-tier" }, "Tier"), tier,
    h("fieldset", {}, h("legend", {}, "Environments"), ...environments.map((e, i) => h("label", { class: "check" }, envBoxes[i], ` ${e.name}`))),
    modules.length ? h("fieldset", {}, h("legend", {}, "Modules in every environment"), ...modules.map((m, i) => h("label", { class: "check" }, moduleBoxes[i], ` ${m.name}`))) : null,
    problem,
    h("div", { class: "buttons" }, h("button", { type: "button", onclick: () => show(box) }, "Cancel"), h("button", { type: "submit", class: "primary", id: "create-tenant" }, "Create")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const envs = envBoxes.filter((b) => b.checked).map((b) => b.value);
    const chosen = moduleBoxes.filter((b) => b.checked).map((b) => b.value);
    /** @type {import("../api.js").CreateTenantBody} */
    const body = { name: name.value.trim(), tier: tier.value, envs };
    if (display.value.trim()) body.display_name = display.value.trim();
    if (chosen.length) body.modules = chosen;
    const yes = await confirmAction({
      title: `Create tenant ${body.name}?`,
      body: [h("p", {}, `Tier ${body.tier}, in ${envs.join(", ") || "no environment"}${chosen.length ? `, with ${chosen.join(", ")}` : ""}. Berth commits its values files to Git.`)],
      confirm: "Create tenant",
    });
    if (!yes) return;
    try {
      /** @type {RequestView} */
      const request = await write("POST", "/tenants", body);
      location.hash = `#/requests/${seg(request.id)}`;
    } catch (error) {
      show(problem, errorBox(error));
    }
  });
  show(box, form);
  name.focus();
}
