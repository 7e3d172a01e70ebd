// One tenant: its env × module grid as the cluster runs it, and its history with each
// commit's files and diffs. Its actions are in tenant_actions.js.

import { get, seg } from "../api.js";
import { badge, errorBox, h, show, writeOnly } from "../dom.js";
import { actionWords, ago, person, shortCommit } from "../format.js";
import { poll } from "../poll.js";
import { revertRequest } from "./request.js";
import { moduleActions, tenantActions } from "./tenant_actions.js";

/** @typedef {import("../api.js").TenantDetail} TenantDetail */
/** @typedef {import("../api.js").ModuleStatus} ModuleStatus */
/** @typedef {import("../api.js").HistoryPage} HistoryPage */
/** @typedef {import("../api.js").HistoryEntry} HistoryEntry */
/** @typedef {import("../api.js").CommitDiffView} CommitDiffView */
/** @typedef {import("../api.js").CatalogResponse} CatalogResponse */
/** @typedef {import("../app.js").PageContext} PageContext */

/**
 * @param {PageContext} context
 * @param {string} name
 */
export function tenantPage({ caller, main }, name) {
  document.title = `${name} · Berth`;
  const head = h("div", {}, h("p", {}, "Loading…"));
  const grid = h("div", { class: "table-wrap" });
  const panel = h("div", { id: "panel" });
  const actions = h("div", { class: "actions" });
  const history = h("div");
  show(
    main,
    h("h1", {}, name),
    head,
    actions,
    panel,
    h("h2", {}, "Environments and modules"),
    grid,
    h("h2", {}, "History"),
    history,
  );
  /** @type {CatalogResponse | null} */
  let catalog = null;
  let shownRevision = "";
  const refreshHistory = historyList(history, name, caller.can_write);
  poll(
    `/tenants/${seg(name)}`,
    async (/** @type {TenantDetail} */ tenant) => {
      if (!catalog) catalog = await get("/catalog").catch(() => null);
      renderHead(head, tenant);
      renderGrid(grid, tenant, caller.can_write, panel, catalog);
      if (tenant.revision !== shownRevision) {
        shownRevision = tenant.revision;
        show(actions, tenantActions(tenant, caller, panel, catalog));
        refreshHistory();
      }
    },
    (error) => show(head, errorBox(error)),
    3000,
  );
}

/**
 * @param {HTMLElement} head
 * @param {TenantDetail} t
 */
function renderHead(head, t) {
  show(
    head,
    h(
      "dl",
      { class: "facts" },
      t.display_name ? [h("dt", {}, "Display name"), h("dd", { id: "display-name" }, t.display_name)] : null,
      h("dt", {}, "Tier"), h("dd", { id: "tenant-tier" }, t.tier),
      h("dt", {}, "State"), h("dd", { id: "tenant-state" }, badge(t.state)),
      h("dt", {}, "Health"), h("dd", { id: "tenant-health" }, badge(t.health)),
      t.owner ? [h("dt", {}, "Owner"), h("dd", {}, t.owner)] : null,
      h("dt", {}, "Revision"), h("dd", {}, h("code", { title: t.revision }, shortCommit(t.revision))),
      t.last_change ? [h("dt", {}, "Last change"), h("dd", {}, `${ago(t.last_change.at)} by ${person(t.last_change.author)}`)] : null,
    ),
    t.problems.length
      ? h("div", { class: "error", role: "alert" }, h("strong", {}, "Its files in Git fail Berth's review:"), h("ul", {}, ...t.problems.map((p) => h("li", {}, h("code", {}, p.file), `: ${p.field}: ${p.reason}`))))
      : null,
  );
}

/**
 * Rows are environments, columns its base and every module enabled in any of them.
 * @param {HTMLElement} grid
 * @param {TenantDetail} t
 * @param {boolean} canWrite
 * @param {HTMLElement} panel
 * @param {CatalogResponse | null} catalog
 */
function renderGrid(grid, t, canWrite, panel, catalog) {
  const envs = Object.keys(t.envs).sort();
  const modules = [...new Set(envs.flatMap((e) => Object.keys(t.envs[e].modules)))].sort();
  /** @param {string} env @param {string | null} module */
  const statusOf = (env, module) => t.statuses.find((s) => s.env === env && (s.module || null) === module);
  show(
    grid,
    h(
      "table",
      { class: "grid" },
      h("caption", { class: "sr-only" }, "Health by environment and module"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Environment"), h("th", { scope: "col" }, "Base"), ...modules.map((m) => h("th", { scope: "col" }, m)))),
      h(
        "tbody",
        {},
        ...envs.map((env) =>
          h(
            "tr",
            { "data-env": env },
            h("th", { scope: "row" }, env, t.envs[env].cluster ? h("span", { class: "sub" }, t.envs[env].cluster) : null,
              writeOnly(canWrite && t.state !== "invalid", () => h("button", { type: "button", class: "small", "data-action": "enable", onclick: () => moduleActions.enable(t, env, panel, catalog) }, "Enable module…"))),
            h("td", { "data-label": "Base" }, cell(statusOf(env, null))),
            ...modules.map((m) => {
              const detail = t.envs[env].modules[m];
              if (!detail) return h("td", { class: "off", "data-label": m }, h("span", { class: "sr-only" }, "not enabled"), "—");
              return h(
                "td",
                { "data-module": m, "data-label": m },
                cell(statusOf(env, m)),
                detail.version ? h("span", { class: "sub" }, `chart ${detail.version}`) : null,
                writeOnly(canWrite && t.state !== "invalid", () =>
                  h("span", { class: "cell-actions" },
                    h("button", { type: "button", class: "small", "data-action": "reconfigure", onclick: () => moduleActions.reconfigure(t, env, m, panel) }, "Reconfigure"),
                    h("button", { type: "button", class: "small danger", "data-action": "disable", onclick: () => moduleActions.disable(t, env, m, panel) }, "Disable"))),
              );
            }),
          ),
        ),
      ),
    ),
  );
}

/** @param {ModuleStatus | undefined} s */
function cell(s) {
  if (!s) return badge("unknown");
  return h(
    "div",
    { class: "cell" },
    badge(s.health),
    h("span", { class: "sub" }, `${s.ready}/${s.desired} ready`),
    s.sync ? h("span", { class: "sub" }, `sync ${s.sync}`) : null,
    s.revision ? h("span", { class: "sub" }, h("code", { title: s.revision }, shortCommit(s.revision))) : null,
    s.reason ? h("span", { class: "sub reason" }, s.reason) : null,
    ...s.urls.map((url) => (/^https?:\/\//.test(url) ? h("a", { href: url, rel: "noopener noreferrer", target: "_blank" }, url) : h("span", {}, url))),
  );
}

/**
 * The tenant's history, newest first, a page at a time; returns what reloads its first page.
 * @param {HTMLElement} box
 * @param {string} name
 * @param {boolean} canWrite
 */
function historyList(box, name, canWrite) {
  const list = h("ol", { class: "history" });
  const more = h("div");
  show(box, list, more);
  /** @param {string} before */
  async function load(before) {
    const query = new URLSearchParams({ limit: "20" });
    if (before) query.set("before", before);
    try {
      /** @type {HistoryPage} */
      const page = await get(`/tenants/${seg(name)}/history?${query}`);
      if (!before) show(list);
      for (const entry of page.entries) list.append(historyEntry(name, entry, canWrite));
      show(more, page.next_before ? h("button", { type: "button", onclick: () => load(page.next_before || "") }, "Older changes") : null);
    } catch (error) {
      show(more, errorBox(error));
    }
  }
  return () => load("");
}

/**
 * @param {string} tenant
 * @param {HistoryEntry} e
 * @param {boolean} canWrite
 */
function historyEntry(tenant, e, canWrite) {
  const diffs = h("div", { class: "diffs" });
  let open = false;
  const toggle = /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "small", "aria-expanded": "false" }, "Show diffs"));
  toggle.addEventListener("click", async () => {
    open = !open;
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Hide diffs" : "Show diffs";
    if (!open) return show(diffs);
    try {
      /** @type {CommitDiffView} */
      const view = await get(`/tenants/${seg(tenant)}/history/${seg(e.commit)}`);
      show(diffs, ...view.files.map((f) => h("figure", {}, h("figcaption", {}, h("code", {}, f.path), ` ${f.change} +${f.lines_added} −${f.lines_removed}`), h("pre", { class: "diff" }, ...diffLines(f.diff)))));
    } catch (error) {
      show(diffs, errorBox(error));
    }
  });
  return h(
    "li",
    { "data-commit": e.commit },
    h("div", { class: "entry-head" }, h("strong", {}, e.title), " ", h("code", { title: e.commit }, shortCommit(e.commit)), " · ", h("span", { title: e.committed_at }, ago(e.committed_at)), " · ", person(e.author), e.by_berth ? null : h("span", { class: "badge badge-git" }, "outside Berth")),
    e.requests.length
      ? h("ul", { class: "requests" }, ...e.requests.map((r) =>
          h("li", {},
            h("a", { href: `#/requests/${seg(r.id)}` }, r.action ? actionWords(r.action) : r.id), " ",
            r.state ? badge(r.state) : null,
            r.requested_by ? ` by ${r.requested_by}` : "",
            r.reverted_by ? h("span", { class: "sub" }, " reverted") : null,
            !r.reverted_by && r.action && r.action !== "revert"
              ? writeOnly(canWrite, () => h("button", { type: "button", class: "small danger", "data-action": "revert", onclick: () => revertRequest({ id: r.id, action: r.action || "", tenant, changes: e.files }) }, "Revert"))
              : null)))
      : null,
    h("ul", { class: "files" }, ...e.files.map((f) => h("li", {}, h("span", { class: `change change-${f.change}` }, f.change), " ", h("code", {}, f.path)))),
    toggle,
    diffs,
  );
}

/**
 * A unified diff's lines, each marked added, removed or context for its colour and its sign.
 * @param {string} diff
 */
function diffLines(diff) {
  return diff.split("\n").map((line) => {
    const kind = line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : "ctx";
    return h("span", { class: `line ${kind}` }, `${line}\n`);
  });
}
