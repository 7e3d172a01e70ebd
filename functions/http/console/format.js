// How times, commits and people are written on the page.

/**
 * "3 min ago", with the exact time in the title for those who hover or focus.
 * @param {string | null | undefined} iso
 */
export function ago(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

/** @param {string | null | undefined} sha */
export function shortCommit(sha) {
  return sha ? sha.slice(0, 8) : "";
}

/**
 * `Ada <ada@example.com>` as `Ada`.
 * @param {string | null | undefined} author
 */
export function person(author) {
  if (!author) return "";
  const at = author.indexOf(" <");
  return at > 0 ? author.slice(0, at) : author;
}

/** @param {string} action */
export function actionWords(action) {
  return action.replace(/_/g, " ");
}
