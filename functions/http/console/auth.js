// Signing in. With static tokens (BERTH_API_AUTH=tokens) a person pastes a token, kept in this
// tab's sessionStorage only and sent only to this origin. With a JWT authorizer the console
// runs OAuth 2.0's authorization-code flow with PKCE against the identity provider and keeps
// the access token in memory only (a reload signs in again, through the provider's session).

const TOKEN_KEY = "berth.token";
const PKCE_KEY = "berth.pkce";

/** @type {string | null} */
let accessToken = null;
/** @type {((reason: string) => void) | null} */
let onSignOut = null;

/** @typedef {import("./api.js").ConsoleSettings} ConsoleSettings */

/** The Authorization header's value, or null when nobody is signed in. */
export function authorization() {
  const token = accessToken || sessionStorage.getItem(TOKEN_KEY);
  return token ? `Bearer ${token}` : null;
}

/** @param {(reason: string) => void} handler */
export function whenSignedOut(handler) {
  onSignOut = handler;
}

/** @param {string} token */
export function useToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

/** @param {string} [reason] */
export function signOut(reason = "") {
  accessToken = null;
  sessionStorage.removeItem(TOKEN_KEY);
  if (onSignOut) onSignOut(reason);
}

/** @param {Uint8Array} bytes */
function base64url(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

function redirectUri() {
  return `${location.origin}/console/`;
}

/**
 * Sends the browser to the identity provider, with a PKCE challenge and a state kept in this
 * tab for the way back.
 * @param {NonNullable<ConsoleSettings["oidc"]>} oidc
 */
export async function startSignIn(oidc) {
  const verifier = randomString();
  const state = randomString();
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
  const url = new URL(oidc.authorize_url);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", oidc.client_id);
  url.searchParams.set("redirect_uri", redirectUri());
  url.searchParams.set("scope", oidc.scope);
  url.searchParams.set("state", state);
  url.searchParams.set("code_challenge", base64url(new Uint8Array(digest)));
  url.searchParams.set("code_challenge_method", "S256");
  location.assign(url.toString());
}

/**
 * On the way back from the identity provider: checks the state, exchanges the code with the
 * verifier, keeps the access token in memory and takes the code out of the address bar.
 * Resolves to false when this page load is not such a return.
 * @param {NonNullable<ConsoleSettings["oidc"]>} oidc
 * @returns {Promise<boolean>}
 */
export async function finishSignIn(oidc) {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  const error = params.get("error");
  if (!code && !error) return false;
  history.replaceState(null, "", "/console/");
  const saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
  sessionStorage.removeItem(PKCE_KEY);
  if (error) throw new Error(`the identity provider refused the sign-in: ${error}`);
  if (!saved || saved.state !== params.get("state")) {
    throw new Error("the sign-in's state does not match this tab's: start again");
  }
  const response = await fetch(oidc.token_url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri(),
      client_id: oidc.client_id,
      code_verifier: saved.verifier,
    }),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok || typeof answer.access_token !== "string") {
    throw new Error(`the identity provider did not issue a token (HTTP ${response.status})`);
  }
  accessToken = answer.access_token;
  return true;
}
