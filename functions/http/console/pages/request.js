// One request: where it is in its life (accepted → committed → synced → ready, or where it
// stopped and why), its commit, its pull request and its files. Followed live until it settles.

import { seg, write } from "../api.js";
import { badge, confirmAction, errorBox, h, show, writeOnly } from "../dom.js";
import { actionWords, ago, shortCommit } from "../format.js";
import { poll } from "../poll.js";

/** @typedef {import("../api.js").RequestView} RequestView */
/** @typedef {import("../api.js").RequestState} RequestState */
/** @typedef {import("../app.js").PageContext} PageContext */

/** The road a request travels; pull-request mode takes the branch, PR and merge steps. */
const DIRECT = ["accepted", "committed", "synced", "ready"];
const REVIEWED = ["accepted", "branch_pushed", "pr_opened", "merged", "synced", "ready"];
/** Where a request stops. */
const SETTLED = ["ready", "no_change", "rejected", "failed", "degraded", "expired"];

/**
 * @param {PageContext} context
 * @param {string} id
 */
export function requestPage({ caller, main }, id) {
  document.title = `Request ${id} · Berth`;
  const body = h("div", {}, h("p", {}, "Loading…"));
  show(main, h("h1", {}, "Request ", h("code", {}, id)), body);
  const poller = poll(
    `/requests/${seg(id)}`,
    (/** @type {RequestView} */ request) => {
      render(body, request, caller.can_write);
      if (SETTLED.includes(request.state)) poller.stop();
    },
    (error) => show(body, errorBox(error)),
    2000,
  );
}

/**
 * @param {HTMLElement} body
 * @param {RequestView} r
 * @param {boolean} canWrite
 */
function render(body, r, canWrite) {
  show(
    body,
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Action"), h("dd", {}, actionWords(r.action)),
      h("dt", {}, "Tenant"), h("dd", {}, h("a", { href: `#/tenants/${seg(r.tenant)}` }, r.tenant)),
      h("dt", {}, "State"), h("dd", { id: "request-state" }, badge(r.state)),
      h("dt", {}, "Asked by"), h("dd", {}, r.requested_by || r.source),
      h("dt", {}, "Asked"), h("dd", { title: r.created_at }, ago(r.created_at)),
      r.commit ? [h("dt", {}, "Commit"), h("dd", {}, h("code", { title: r.commit }, shortCommit(r.commit)), r.batch_size && r.batch_size > 1 ? ` (with ${r.batch_size - 1} other requests)` : "")] : null,
      r.pr_url ? [h("dt", {}, "Pull request"), h("dd", {}, h("a", { href: r.pr_url, rel: "noopener noreferrer", target: "_blank" }, r.pr_number ? `#${r.pr_number}` : r.pr_url))] : null,
      !r.pr_url && r.branch ? [h("dt", {}, "Branch"), h("dd", {}, h("code", {}, r.branch))] : null,
      r.reverts ? [h("dt", {}, "Reverts"), h("dd", {}, h("a", { href: `#/requests/${seg(r.reverts)}` }, r.reverts))] : null,
      r.reverted_by ? [h("dt", {}, "Reverted by"), h("dd", {}, h("a", { href: `#/requests/${seg(r.reverted_by)}` }, r.reverted_by))] : null,
    ),
    lifecycle(r),
    r.error ? h("div", { class: "error", role: "alert" }, h("strong", {}, `Why it stopped (${r.error.code}): `), r.error.field ? `${r.error.field}: ` : "", r.error.message) : null,
    r.notice ? h("p", { class: "notice" }, r.notice) : null,
    h("h2", {}, "Files"),
    r.changes && r.changes.length
      ? h("ul", { class: "files" }, ...r.changes.map((f) => h("li", {}, h("span", { class: `change change-${f.change}` }, f.change), " ", h("code", {}, f.path), f.lines_added !== undefined && f.lines_added !== null ? ` +${f.lines_added} −${f.lines_removed}` : "")))
      : h("p", {}, r.commit ? "No file of the tenant changed." : "Not committed yet."),
    r.commit && !r.reverted_by && r.action !== "revert" && ["committed", "merged", "synced", "ready", "degraded"].includes(r.state)
      ? writeOnly(canWrite, () => h("button", { type: "button", class: "danger", id: "revert-request", onclick: () => revertRequest(r) }, "Revert this change"))
      : null,
  );
}

/**
 * The lifecycle as steps: done, current, or not reached; a request that stopped says where.
 * @param {RequestView} r
 */
function lifecycle(r) {
  const road = r.pr_url || r.branch || ["branch_pushed", "pr_opened", "merged"].includes(r.state) ? REVIEWED : DIRECT;
  const at = road.indexOf(r.state);
  const stopped = at < 0;
  return h(
    "ol",
    { class: "lifecycle", "aria-label": "Lifecycle" },
    ...road.map((step, i) => {
      const status = stopped ? "" : i < at || (i === at && r.state === "ready") ? "done" : i === at ? "current" : "todo";
      return h("li", { class: status, "aria-current": i === at ? "step" : false }, step.replace(/_/g, " "), status === "done" ? " ✓" : status === "current" ? " …" : "");
    }),
    stopped ? h("li", { class: "stopped" }, `stopped: ${r.state.replace(/_/g, " ")}`) : null,
  );
}

/**
 * Asks, then reverts the request's change; shows the revert's own request.
 * @param {{ id: string, action: string, tenant: string, changes?: { path: string }[] | null }} r
 */
export async function revertRequest(r) {
  const deletes = r.action === "create_tenant";
  const yes = await confirmAction({
    title: `Revert ${actionWords(r.action)} on ${r.tenant}?`,
    body: [
      h("p", {}, deletes ? `Reverting the creation deletes tenant ${r.tenant}: its files leave Git and Argo CD removes its workloads.` : `Berth commits the files as they were before request ${r.id}.`),
      r.changes && r.changes.length ? h("ul", {}, ...r.changes.map((f) => h("li", {}, h("code", {}, f.path)))) : null,
    ],
    confirm: deletes ? `Delete ${r.tenant}` : "Revert",
    danger: true,
    typed: deletes ? r.tenant : undefined,
  });
  if (!yes) return;
  const query = deletes ? `?confirm=${seg(r.tenant)}` : "";
  try {
    /** @type {RequestView} */
    const revert = await write("POST", `/requests/${seg(r.id)}/revert${query}`);
    location.hash = `#/requests/${seg(revert.id)}`;
  } catch (error) {
    document.getElementById("main").append(errorBox(error));
  }
}

