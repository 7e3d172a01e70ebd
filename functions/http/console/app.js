// The console's entry: how to sign in, who is signed in, and which page the address shows.
// Pages are addressed by the fragment (#/tenants/acme), so the server serves files only.

import { get } from "./api.js";
import { authorization, finishSignIn, signOut, whenSignedOut } from "./auth.js";
import { h, show, errorBox } from "./dom.js";
import { stopAll } from "./poll.js";
import { fleetPage } from "./pages/fleet.js";
import { requestPage } from "./pages/request.js";
import { rolloutPage, rolloutsPage } from "./pages/rollouts.js";
import { signInPage } from "./pages/signin.js";
import { tenantPage } from "./pages/tenant.js";

/** @typedef {import("./api.js").CallerView} CallerView */
/** @typedef {import("./api.js").ConsoleSettings} ConsoleSettings */

const main = /** @type {HTMLElement} */ (document.getElementById("main"));
const nav = /** @type {HTMLElement} */ (document.getElementById("nav"));
const callerBox = /** @type {HTMLElement} */ (document.getElementById("caller"));

/** @type {CallerView | null} */
let caller = null;
/** @type {ConsoleSettings} */
let settings = { auth: "tokens" };

async function start() {
  whenSignedOut((reason) => {
    caller = null;
    showSignIn(reason);
  });
  try {
    const response = await fetch("/console/config.json", { cache: "no-store" });
    settings = await response.json();
    if (settings.auth === "jwt" && settings.oidc) await finishSignIn(settings.oidc);
  } catch (error) {
    show(main, errorBox(error));
    return;
  }
  window.addEventListener("hashchange", route);
  // The skip link moves focus, not the route: its `#main` would be read as a page otherwise.
  document.querySelector("a.skip")?.addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  await signedIn();
}

/** Who the credentials belong to, then the page; the sign-in page when there are none. */
async function signedIn() {
  if (!authorization()) {
    showSignIn("");
    return;
  }
  try {
    caller = await get("/me");
  } catch (error) {
    signOut(/** @type {Error} */ (error).message);
    return;
  }
  showCaller();
  route();
}

/** @param {string} reason */
function showSignIn(reason) {
  stopAll();
  show(nav);
  show(callerBox);
  signInPage(main, settings, reason, signedIn);
}

function showCaller() {
  if (!caller) return;
  const links = [h("a", { href: "#/" }, "Tenants")];
  // Rollouts change many tenants: a caller scoped to one tenant has none to see.
  if (!caller.tenant) links.push(h("a", { href: "#/rollouts" }, "Rollouts"));
  show(nav, ...links);
  show(
    callerBox,
    h("span", { class: "who" }, caller.identity),
    " ",
    h("span", { class: "role", "data-role": caller.role }, caller.role),
    caller.tenant ? h("span", { class: "scope" }, ` · tenant ${caller.tenant} only`) : null,
    " ",
    h("button", { type: "button", class: "link", onclick: () => signOut("Signed out.") }, "Sign out"),
  );
}

/** Shows the page the fragment names. */
function route() {
  if (!caller) return;
  stopAll();
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const context = { caller, main };
  if (parts[0] === "tenants" && parts[1]) {
    tenantPage(context, parts[1]);
  } else if (parts[0] === "requests" && parts[1]) {
    requestPage(context, parts[1]);
  } else if (parts[0] === "rollouts" && parts[1] === "before" && parts[2]) {
    rolloutsPage(context, parts[2]);
  } else if (parts[0] === "rollouts" && parts[1]) {
    rolloutPage(context, parts[1]);
  } else if (parts[0] === "rollouts") {
    rolloutsPage(context);
  } else if (caller.tenant) {
    // A caller scoped to one tenant has no fleet: their tenant is the first page.
    location.replace(`#/tenants/${encodeURIComponent(caller.tenant)}`);
    return;
  } else {
    fleetPage(context);
  }
  main.focus({ preventScroll: true });
}

/** @typedef {{ caller: CallerView, main: HTMLElement }} PageContext */

start();
