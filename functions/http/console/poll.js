// Live updates: each view polls what it shows with If-None-Match, so unchanged data costs a 304
// and no body. Polling pauses while the tab is hidden and catches up when it shows again.

import { call } from "./api.js";

/** @type {Set<Poller>} */
const running = new Set();

class Poller {
  /**
   * @param {string} path
   * @param {(data: any) => void} onData
   * @param {(error: unknown) => void} onError
   * @param {number} everyMs
   */
  constructor(path, onData, onError, everyMs) {
    this.path = path;
    this.onData = onData;
    this.onError = onError;
    this.everyMs = everyMs;
    /** @type {string | null} */
    this.etag = null;
    /** @type {number | undefined} */
    this.timer = undefined;
    this.stopped = false;
    this.busy = false;
  }

  async tick() {
    this.timer = undefined;
    if (this.stopped || document.hidden || this.busy) return;
    this.busy = true;
    try {
      const answer = await call("GET", this.path, { etag: this.etag });
      if (this.stopped) return;
      if (!answer.notModified) {
        this.etag = answer.etag;
        this.onData(answer.data);
      }
    } catch (error) {
      if (!this.stopped) this.onError(error);
    }
    this.busy = false;
    this.schedule();
  }

  schedule() {
    if (!this.stopped && !document.hidden && this.timer === undefined) {
      this.timer = window.setTimeout(() => this.tick(), this.everyMs);
    }
  }

  stop() {
    this.stopped = true;
    window.clearTimeout(this.timer);
    running.delete(this);
  }
}

/**
 * Calls `onData` with the body at `path` now and whenever it changes.
 * @param {string} path
 * @param {(data: any) => void} onData
 * @param {(error: unknown) => void} onError
 * @param {number} [everyMs]
 * @returns {{ stop: () => void, refresh: () => void }}
 */
export function poll(path, onData, onError, everyMs = 3000) {
  const poller = new Poller(path, onData, onError, everyMs);
  running.add(poller);
  poller.tick();
  return {
    stop: () => poller.stop(),
    refresh: () => {
      window.clearTimeout(poller.timer);
      poller.timer = undefined;
      poller.tick();
    },
  };
}

/** Stops every poller: a page's are stopped when another page is shown. */
export function stopAll() {
  for (const poller of [...running]) poller.stop();
}

document.addEventListener("visibilitychange", () => {
  if (document.hidden) return;
  for (const poller of running) {
    if (poller.timer === undefined) poller.tick();
  }
});
