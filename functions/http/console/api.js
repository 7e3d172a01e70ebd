// The console's only way to the server: `/v1` on this origin, with the caller's credentials.
// Every body type comes from the contract (openapi.json, through openapi-typescript), so a
// contract change that breaks the console fails the type check in scripts/test.

import { authorization, signOut } from "./auth.js";

/** @typedef {import("berth-api").components["schemas"]} Schemas */
/** @typedef {Schemas["TenantList"]} TenantList */
/** @typedef {Schemas["TenantSummary"]} TenantSummary */
/** @typedef {Schemas["TenantDetail"]} TenantDetail */
/** @typedef {Schemas["ModuleStatus"]} ModuleStatus */
/** @typedef {Schemas["RequestView"]} RequestView */
/** @typedef {Schemas["RequestState"]} RequestState */
/** @typedef {Schemas["HistoryPage"]} HistoryPage */
/** @typedef {Schemas["HistoryEntry"]} HistoryEntry */
/** @typedef {Schemas["CommitDiffView"]} CommitDiffView */
/** @typedef {Schemas["FileDiffView"]} FileDiffView */
/** @typedef {Schemas["CatalogResponse"]} CatalogResponse */
/** @typedef {Schemas["CallerView"]} CallerView */
/** @typedef {Schemas["CreateTenantBody"]} CreateTenantBody */
/** @typedef {Schemas["PatchTenantBody"]} PatchTenantBody */
/** @typedef {Schemas["ModuleChangeBody"]} ModuleChangeBody */
/** @typedef {Schemas["PromoteBody"]} PromoteBody */
/** @typedef {Schemas["PlannedChangeView"]} PlannedChangeView */
/** @typedef {Schemas["RolloutList"]} RolloutList */
/** @typedef {Schemas["RolloutView"]} RolloutView */
/** @typedef {Schemas["ErrorResponse"]} ErrorResponse */
/** @typedef {Schemas["ConsoleSettings"]} ConsoleSettings */

/** An answer the API refused, with its code, message and the field it names. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {ErrorResponse["error"]} detail
   */
  constructor(status, detail) {
    super(detail.message);
    this.status = status;
    this.code = detail.code;
    this.field = detail.field || null;
  }
}

/**
 * One call to `/v1`. `etag` makes it conditional: a 304 answers `{ notModified: true }`.
 * @template T
 * @param {string} method
 * @param {string} path  under /v1, already encoded (see `seg`)
 * @param {{ body?: unknown, etag?: string | null, idempotent?: boolean }} [options]
 * @returns {Promise<{ data: T | null, etag: string | null, status: number, notModified: boolean }>}
 */
export async function call(method, path, { body, etag, idempotent } = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  const auth = authorization();
  if (auth) headers.Authorization = auth;
  if (etag) headers["If-None-Match"] = etag;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // A retry of the same write (a double click, a lost answer) gets the first answer.
  if (idempotent) headers["Idempotency-Key"] = crypto.randomUUID();
  const response = await fetch(`/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  const tag = response.headers.get("ETag");
  if (response.status === 304) {
    return { data: null, etag: tag || etag || null, status: 304, notModified: true };
  }
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) {
    if (response.status === 401) signOut("Your sign-in is no longer valid; sign in again.");
    const detail = parsed && parsed.error ? parsed.error : { code: "http", message: `HTTP ${response.status}` };
    throw new ApiError(response.status, detail);
  }
  return { data: /** @type {T} */ (parsed), etag: tag, status: response.status, notModified: false };
}

/**
 * A GET's body.
 * @template T
 * @param {string} path
 * @returns {Promise<T>}
 */
export async function get(path) {
  const answer = await call("GET", path);
  return /** @type {T} */ (answer.data);
}

/**
 * A write, with an idempotency key; resolves to the request (or plan) it answered.
 * @template T
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<T>}
 */
export async function write(method, path, body) {
  const answer = await call(method, path, { body, idempotent: true });
  return /** @type {T} */ (answer.data);
}

/**
 * A path segment, encoded: names come from the API or a person and are never trusted as paths.
 * @param {string} text
 */
export function seg(text) {
  return encodeURIComponent(text);
}
