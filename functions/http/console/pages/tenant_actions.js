// What a person may do to a tenant, each behind a confirmation that names what goes: enable,
// reconfigure and disable a module; change the tier; suspend and resume; promote between
// environments after reading the dry run's plan. Forms open in the tenant page's panel, which
// live updates leave alone.

import { call, seg, write } from "../api.js";
import { confirmAction, errorBox, h, show, writeOnly } from "../dom.js";

/** @typedef {import("../api.js").TenantDetail} TenantDetail */
/** @typedef {import("../api.js").CatalogResponse} CatalogResponse */
/** @typedef {import("../api.js").CallerView} CallerView */
/** @typedef {import("../api.js").RequestView} RequestView */
/** @typedef {import("../api.js").PlannedChangeView} PlannedChangeView */
/** @typedef {import("../api.js").ModuleChangeBody} ModuleChangeBody */

/**
 * Sends a write and follows its request; a refusal is shown in `where`, naming the field.
 * @param {HTMLElement} where
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
async function submit(where, method, path, body) {
  try {
    /** @type {RequestView} */
    const request = await write(method, path, body);
    location.hash = `#/requests/${seg(request.id)}`;
  } catch (error) {
    where.append(errorBox(error));
  }
}

/**
 * The tenant-wide buttons: tier, suspend or resume, promote.
 * @param {TenantDetail} t
 * @param {CallerView} caller
 * @param {HTMLElement} panel
 * @param {CatalogResponse | null} catalog
 */
export function tenantActions(t, caller, panel, catalog) {
  if (t.state === "invalid") return null;
  const tenantPath = `/tenants/${seg(t.name)}`;
  const suspended = t.state === "suspended";
  return writeOnly(caller.can_write, () =>
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "button", id: "change-tier", onclick: () => tierForm(t, panel, catalog) }, "Change tier…"),
      h("button", {
        type: "button",
        id: suspended ? "resume" : "suspend",
        class: suspended ? "" : "danger",
        onclick: async () => {
          const yes = await confirmAction({
            title: suspended ? `Resume ${t.name}?` : `Suspend ${t.name}?`,
            body: [h("p", {}, suspended ? "Its workloads scale back up in every environment." : "Its workloads scale to zero in every environment; its data is kept.")],
            confirm: suspended ? "Resume" : "Suspend",
            danger: !suspended,
          });
          if (yes) submit(panel, "PATCH", tenantPath, { suspended: !suspended });
        },
      }, suspended ? "Resume" : "Suspend"),
      Object.keys(t.envs).length > 1 ? h("button", { type: "button", id: "promote", onclick: () => promoteForm(t, panel) }, "Promote…") : null,
    ),
  );
}

/**
 * @param {TenantDetail} t
 * @param {HTMLElement} panel
 * @param {CatalogResponse | null} catalog
 */
function tierForm(t, panel, catalog) {
  const tiers = catalog ? catalog.catalog.tiers.map((x) => x.name) : [];
  const select = /** @type {HTMLSelectElement} */ (h("select", { id: "tier" }, ...tiers.map((name) => h("option", { value: name, selected: name === t.tier }, name))));
  const form = h("form", { class: "panel", "aria-labelledby": "tier-title" },
    h("h2", { id: "tier-title" }, `Tier of ${t.name}`),
    h("label", { for: "tier" }, "Tier"), select,
    h("div", { class: "buttons" }, h("button", { type: "button", onclick: () => show(panel) }, "Cancel"), h("button", { type: "submit", class: "primary" }, "Change tier")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (select.value === t.tier) return show(panel);
    const yes = await confirmAction({
      title: `Change ${t.name} from ${t.tier} to ${select.value}?`,
      body: [h("p", {}, `Its quotas and the modules it may run become those of ${select.value}, in every environment.`)],
      confirm: "Change tier",
    });
    if (yes) submit(form, "PATCH", `/tenants/${seg(t.name)}`, { tier: select.value });
  });
  show(panel, form);
  select.focus();
}

/**
 * The values box: JSON, checked here so a typo is named before anything is sent.
 * @param {string} id
 * @param {unknown} values
 */
function valuesBox(id, values) {
  return /** @type {HTMLTextAreaElement} */ (h("textarea", { id, rows: 6, spellcheck: "false" }, JSON.stringify(values || {}, null, 2)));
}

/**
 * @param {HTMLTextAreaElement} box
 * @returns {Record<string, unknown>}
 */
function readValues(box) {
  const text = box.value.trim();
  if (!text) return {};
  const parsed = JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("must be a JSON object");
  return parsed;
}

/**
 * The module form: enable (choose the module) or reconfigure (values and version).
 * @param {TenantDetail} t
 * @param {string} env
 * @param {string | null} module  null to choose one to enable
 * @param {HTMLElement} panel
 * @param {CatalogResponse | null} catalog
 */
function moduleForm(t, env, module, panel, catalog) {
  const enabled = t.envs[env].modules;
  const choices = catalog ? catalog.catalog.modules.filter((m) => !enabled[m.name]) : [];
  if (!module && choices.length === 0) {
    show(panel, h("p", { class: "notice" }, `Every module is already enabled in ${env}.`));
    return;
  }
  const picker = module ? null : /** @type {HTMLSelectElement} */ (h("select", { id: "module" }, ...choices.map((m) => h("option", { value: m.name }, m.description ? `${m.name} (${m.description})` : m.name))));
  const current = module ? enabled[module] : null;
  const version = /** @type {HTMLInputElement} */ (h("input", { id: "module-version", value: (current && current.version) || "", placeholder: "the catalog's default" }));
  const values = valuesBox("module-values", current ? current.values : {});
  const withDependencies = /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: "module-deps" }));
  const problem = h("div");
  const title = module ? `Reconfigure ${module} in ${env}` : `Enable a module in ${env}`;
  const form = h("form", { class: "panel", "aria-labelledby": "module-title" },
    h("h2", { id: "module-title" }, title),
    picker ? [h("label", { for: "module" }, "Module"), picker] : null,
    h("label", { for: "module-version" }, "Chart version"), version,
    h("label", { for: "module-values" }, "Values (JSON, over the chart's defaults)"), values,
    module ? null : h("label", { class: "check" }, withDependencies, " Also enable the modules it depends on"),
    problem,
    h("div", { class: "buttons" }, h("button", { type: "button", onclick: () => show(panel) }, "Cancel"), h("button", { type: "submit", class: "primary", id: "module-submit" }, module ? "Reconfigure" : "Enable")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    show(problem);
    const name = module || (picker ? picker.value : "");
    /** @type {ModuleChangeBody} */
    const body = {};
    try {
      // The schema says only "an object"; the chart's own schema is checked by the server.
      body.values = /** @type {any} */ (readValues(values));
    } catch (error) {
      show(problem, errorBox({ field: "values", message: /** @type {Error} */ (error).message }));
      return;
    }
    if (version.value.trim()) body.version = version.value.trim();
    if (withDependencies.checked) body.enable_dependencies = true;
    const yes = await confirmAction({
      title: module ? `Reconfigure ${name} in ${t.name}/${env}?` : `Enable ${name} in ${t.name}/${env}?`,
      body: [h("p", {}, `Berth validates the values against the chart's schema and commits tenants/${t.name}/${env}/modules/${name}.yaml.`)],
      confirm: module ? "Reconfigure" : "Enable",
    });
    if (yes) submit(problem, "PUT", `/tenants/${seg(t.name)}/envs/${seg(env)}/modules/${seg(name)}`, body);
  });
  show(panel, form);
  (picker || values).focus();
}

export const moduleActions = {
  /**
   * @param {TenantDetail} t
   * @param {string} env
   * @param {HTMLElement} panel
   * @param {CatalogResponse | null} catalog
   */
  enable: (t, env, panel, catalog) => moduleForm(t, env, null, panel, catalog),
  /**
   * @param {TenantDetail} t
   * @param {string} env
   * @param {string} module
   * @param {HTMLElement} panel
   */
  reconfigure: (t, env, module, panel) => moduleForm(t, env, module, panel, null),
  /**
   * @param {TenantDetail} t
   * @param {string} env
   * @param {string} module
   * @param {HTMLElement} panel
   */
  disable: async (t, env, module, panel) => {
    const yes = await confirmAction({
      title: `Disable ${module} in ${t.name}/${env}?`,
      body: [h("p", {}, `Its values file leaves Git and Argo CD removes its workloads from ${t.name}-${env}, with any data they keep.`)],
      confirm: `Disable ${module}`,
      danger: true,
    });
    if (yes) submit(panel, "DELETE", `/tenants/${seg(t.name)}/envs/${seg(env)}/modules/${seg(module)}`);
  },
};

/**
 * Promotion: the dry run's plan first, then the real one.
 * @param {TenantDetail} t
 * @param {HTMLElement} panel
 */
function promoteForm(t, panel) {
  const envs = Object.keys(t.envs).sort();
  const from = /** @type {HTMLSelectElement} */ (h("select", { id: "promote-from" }, ...envs.map((e) => h("option", { value: e }, e))));
  const to = /** @type {HTMLSelectElement} */ (h("select", { id: "promote-to" }, ...envs.map((e, i) => h("option", { value: e, selected: i === envs.length - 1 }, e))));
  const plan = h("div", { id: "promote-plan" });
  const form = h("form", { class: "panel", "aria-labelledby": "promote-title" },
    h("h2", { id: "promote-title" }, `Promote ${t.name}`),
    h("label", { for: "promote-from" }, "From"), from,
    h("label", { for: "promote-to" }, "To"), to,
    h("div", { class: "buttons" }, h("button", { type: "button", onclick: () => show(panel) }, "Cancel"), h("button", { type: "submit", class: "primary" }, "Show the plan")),
    plan);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const path = `/tenants/${seg(t.name)}/envs/${seg(to.value)}/promote`;
    const body = { from: from.value };
    show(plan, h("p", {}, "Planning…"));
    try {
      const answer = await call("POST", `${path}?dry_run=true`, { body });
      const planned = /** @type {PlannedChangeView} */ (answer.data);
      if (!planned || !("files" in planned) || planned.files.length === 0) {
        show(plan, h("p", { class: "notice" }, `${to.value} already matches ${from.value}: nothing to promote.`));
        return;
      }
      show(plan,
        h("h3", {}, "The plan"),
        h("p", {}, planned.message),
        ...planned.files.map((f) => h("figure", {}, h("figcaption", {}, h("code", {}, f.path), ` ${f.change}`), h("pre", { class: "diff" }, f.diff))),
        h("button", { type: "button", class: "primary", id: "promote-confirm", onclick: async () => {
          const yes = await confirmAction({
            title: `Promote ${t.name} from ${from.value} to ${to.value}?`,
            body: [h("p", {}, `Berth commits the ${planned.files.length} file(s) of the plan to ${to.value}.`)],
            confirm: "Promote",
          });
          if (yes) submit(plan, "POST", path, body);
        } }, "Promote"));
    } catch (error) {
      show(plan, errorBox(error));
    }
  });
  show(panel, form);
  from.focus();
}
