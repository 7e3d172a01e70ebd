// Fleet rollouts: each one's waves and gates and its live progress, and the steering an
// operator needs (pause, resume, abort, revert), each behind a confirmation.

import { seg, write } from "../api.js";
import { badge, confirmAction, errorBox, h, show, writeOnly } from "../dom.js";
import { ago, shortCommit } from "../format.js";
import { poll } from "../poll.js";

/** @typedef {import("../api.js").RolloutList} RolloutList */
/** @typedef {import("../api.js").RolloutView} RolloutView */
/** @typedef {import("../app.js").PageContext} PageContext */

const FINISHED = ["done", "aborted", "reverting", "reverted"];

/**
 * What the rollout changes, in a few words.
 * @param {RolloutView} r
 */
function changeWords(r) {
  const change = /** @type {Record<string, { module: string, version?: string | null }>} */ (/** @type {unknown} */ (r.spec.change));
  const [kind] = Object.keys(change);
  const detail = change[kind];
  return `${kind} ${detail.module}${detail.version ? ` ${detail.version}` : ""}`;
}

/** @param {Record<string, number>} counts */
function countWords(counts) {
  return Object.entries(counts).filter(([, n]) => n > 0).map(([state, n]) => h("span", { class: "count" }, badge(state), ` ${n}`));
}

/**
 * Open rollouts and the newest finished ones; with `before`, finished ones older than it.
 * @param {PageContext} context
 * @param {string} [before]
 */
export function rolloutsPage({ main }, before) {
  document.title = "Rollouts · Berth";
  const body = h("div", {}, h("p", {}, "Loading…"));
  show(main, h("h1", {}, before ? "Older rollouts" : "Rollouts"), body);
  poll(
    before ? `/rollouts?before=${encodeURIComponent(before)}` : "/rollouts",
    (/** @type {RolloutList} */ list) =>
      show(
        body,
        list.rollouts.length === 0
          ? h("p", {}, before ? "No older rollout." : "No rollout yet. Start one with berth rollouts start, or POST /v1/rollouts.")
          : h("div", { class: "table-wrap" }, h("table", {},
              h("thead", {}, h("tr", {}, ...["Rollout", "Change", "State", "Tenants", "Started"].map((t) => h("th", { scope: "col" }, t)))),
              h("tbody", {}, ...list.rollouts.map((r) => h("tr", {},
                h("th", { scope: "row" }, h("a", { href: `#/rollouts/${seg(r.id)}` }, h("code", {}, r.id))),
                h("td", {}, changeWords(r)),
                h("td", {}, badge(r.state)),
                h("td", {}, ...countWords(r.counts)),
                h("td", { title: r.created_at }, ago(r.created_at))))))),
        h("p", { class: "buttons" },
          before ? h("a", { href: "#/rollouts" }, "Newest rollouts") : null,
          list.next_before ? h("a", { href: `#/rollouts/before/${seg(list.next_before)}` }, "Older rollouts") : null)),
    (error) => show(body, errorBox(error)),
    5000,
  );
}

/**
 * @param {PageContext} context
 * @param {string} id
 */
export function rolloutPage({ caller, main }, id) {
  document.title = `Rollout ${id} · Berth`;
  const body = h("div", {}, h("p", {}, "Loading…"));
  show(main, h("h1", {}, "Rollout ", h("code", {}, id)), body);
  const poller = poll(
    `/rollouts/${seg(id)}`,
    (/** @type {RolloutView} */ r) => {
      show(body, ...rolloutView(r, caller.can_write, () => poller.refresh()));
    },
    (error) => show(body, errorBox(error)),
    3000,
  );
}

/**
 * @param {RolloutView} r
 * @param {boolean} canWrite
 * @param {() => void} refresh
 */
function rolloutView(r, canWrite, refresh) {
  const gates = r.spec.gates;
  const budget = gates && gates.failure_budget;
  const problem = h("div");
  /** @param {string} action @param {string} words */
  const steer = (action, words) =>
    h("button", { type: "button", class: action === "pause" || action === "resume" ? "" : "danger", "data-action": action, onclick: async () => {
      const yes = await confirmAction({ title: `${words} rollout ${r.id}?`, body: [h("p", {}, `${changeWords(r)}: ${words.toLowerCase()} applies to every wave not yet finished.`)], confirm: words, danger: action === "abort" || action === "revert" });
      if (!yes) return;
      try {
        await write("POST", `/rollouts/${seg(r.id)}/${action}`);
        refresh();
      } catch (error) {
        show(problem, errorBox(error));
      }
    } }, words);
  const finished = FINISHED.includes(r.state);
  return [
    h("dl", { class: "facts" },
      h("dt", {}, "Change"), h("dd", {}, changeWords(r)),
      h("dt", {}, "State"), h("dd", {}, badge(r.state), r.pause_reason ? ` (${r.pause_reason})` : ""),
      h("dt", {}, "Mode"), h("dd", {}, r.mode),
      h("dt", {}, "Gates"), h("dd", {},
        gates && gates.soak ? `soak ${gates.soak}; ` : "no soak; ",
        gates && gates.progress_deadline ? `deadline ${gates.progress_deadline}; ` : "",
        budget ? `failure budget ${budget.count !== undefined && budget.count !== null ? budget.count : `${budget.percent}%`}` : "no failure budget"),
      h("dt", {}, "Tenants"), h("dd", {}, ...countWords(r.counts)),
      h("dt", {}, "Started"), h("dd", { title: r.created_at }, `${ago(r.created_at)}${r.requested_by ? ` by ${r.requested_by}` : ""}`)),
    finished ? null : writeOnly(canWrite, () => h("div", { class: "buttons" },
      r.state === "paused" ? steer("resume", "Resume") : steer("pause", "Pause"),
      steer("abort", "Abort"),
      steer("revert", "Revert"))),
    problem,
    h("h2", {}, "Waves"),
    h("ol", { class: "waves" }, ...r.waves.map((w) => h("li", { "data-wave": w.number },
      h("div", { class: "entry-head" }, h("strong", {}, `Wave ${w.number}`), " ", badge(w.state), " ", ...countWords(w.counts)),
      h("p", { class: "sub" },
        w.commit ? ["commit ", h("code", { title: w.commit }, shortCommit(w.commit)), " "] : null,
        w.pull_request ? ["pull request ", /^https:\/\//.test(w.pull_request) ? h("a", { href: w.pull_request, rel: "noopener noreferrer", target: "_blank" }, w.pull_request) : w.pull_request, " "] : null,
        w.ready_at ? `ready ${ago(w.ready_at)} ` : "",
        w.reverted_at ? `reverted ${ago(w.reverted_at)}` : ""),
      w.tenants && w.tenants.length ? h("ul", { class: "wave-tenants" }, ...w.tenants.map((t) => h("li", {}, h("a", { href: `#/tenants/${seg(t.tenant)}` }, t.tenant), " ", badge(t.state), t.reason ? h("span", { class: "sub" }, ` ${t.reason}`) : null))) : null))),
    r.left_out.length ? [h("h2", {}, "Left out"), h("ul", {}, ...r.left_out.map((l) => h("li", {}, h("a", { href: `#/tenants/${seg(l.tenant)}` }, l.tenant), ` ${l.reason}`, l.detail ? `: ${l.detail}` : "")))] : null,
  ];
}
