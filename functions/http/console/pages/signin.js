// The sign-in page: paste a token, or sign in at the identity provider.

import { startSignIn, useToken } from "../auth.js";
import { h, show, errorBox } from "../dom.js";

/** @typedef {import("../api.js").ConsoleSettings} ConsoleSettings */

/**
 * @param {HTMLElement} main
 * @param {ConsoleSettings} settings
 * @param {string} reason  why the person is asked to sign in (again), or empty
 * @param {() => Promise<void>} signedIn
 */
export function signInPage(main, settings, reason, signedIn) {
  document.title = "Sign in · Berth";
  const note = reason ? h("p", { class: "notice", role: "status" }, reason) : null;
  if (settings.auth === "jwt") {
    const oidc = settings.oidc;
    show(
      main,
      h("h1", {}, "Sign in"),
      note,
      oidc
        ? h("button", { type: "button", class: "primary", onclick: () => startSignIn(oidc) }, "Sign in with your identity provider")
        : errorBox(new Error("This deployment has no console client: set ConsoleClientId (BERTH_CONSOLE_CLIENT_ID) and its endpoints.")),
    );
    return;
  }
  const input = /** @type {HTMLInputElement} */ (
    h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true, "aria-describedby": "token-help" })
  );
  const form = h(
    "form",
    { class: "signin" },
    h("label", { for: "token" }, "Berth token"),
    input,
    h("p", { id: "token-help", class: "help" }, "Kept in this tab only, and sent only to this server."),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!input.value.trim()) return;
    useToken(input.value);
    signedIn();
  });
  show(main, h("h1", {}, "Sign in"), note, form);
  input.focus();
}
