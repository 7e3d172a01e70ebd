"""Drives the Berth console in a real headless Chromium, one step per line of standard input.

The Rust test (functions/cli/tests/console.rs) owns the scenario and checks Git and the cluster;
this script owns the browser. Each line in is a JSON object with an "op"; each line out is a
JSON object, {"ok": true, ...} or {"ok": false, "error": "..."}. Every wait is bounded (15 s by
default) and the script stops at end of input or after 10 minutes, whichever comes first.

Arguments: the console's URL, Chromium's path, axe-core's axe.min.js, the screenshots folder.
"""

import json
import os
import re
import sys
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

WAIT_MS = 15_000
LIFETIME_S = 600


class Console:
    def __init__(self, url, chromium, axe, shots):
        self.url = url.rstrip("/")
        self.axe = Path(axe).read_text()
        self.shots = Path(shots)
        self.shots.mkdir(parents=True, exist_ok=True)
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        self.page = None
        self.requested = []
        self.statuses = []
        self.csp_violations = []

    def new_page(self, width=1280, height=900):
        if self.page is not None:
            self.page.context.close()
        context = self.browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("request", lambda r: self.requested.append(r.url))
        page.on("response", lambda r: self.statuses.append([r.url, r.status]))
        page.on(
            "console",
            lambda m: self.csp_violations.append(m.text)
            if "Content Security Policy" in m.text
            else None,
        )
        self.page = page
        return page

    # Steps -------------------------------------------------------------------------------

    def signin(self, token, width=1280):
        page = self.new_page(width=width)
        page.goto(f"{self.url}/console/")
        page.fill("#token", token)
        page.click("form.signin button[type=submit]")
        page.wait_for_selector("#caller .role")
        return {"caller": page.inner_text("#caller")}

    def goto(self, hash):
        self.page.goto(f"{self.url}/console/{hash}")
        self.page.wait_for_load_state("networkidle")
        return {"title": self.page.title()}

    def create_tenant(self, name, tier, envs, display_name=None):
        page = self.page
        page.goto(f"{self.url}/console/#/")
        page.click("#new-tenant")
        page.fill("#new-name", name)
        if display_name:
            page.fill("#new-display", display_name)
        page.select_option("#new-tier", tier)
        for env in envs:
            page.check(f"#new-env-{env}")
        page.click("#create-tenant")
        return {"dialog": self.confirm(), "request": self.request_page_id()}

    def confirm(self, typed=None):
        """Reads the confirmation's words and confirms."""
        dialog = self.page.wait_for_selector("dialog.confirm[open]")
        words = dialog.inner_text()
        if typed:
            self.page.fill("#confirm-typed", typed)
        dialog.query_selector("button[type=submit]").click()
        return words

    def request_page_id(self):
        self.page.wait_for_url(re.compile(r".*#/requests/[0-9A-Z]{26}$"))
        return self.page.url.rsplit("/", 1)[1]

    def wait_request_state(self, id, state, timeout_ms=60_000):
        page = self.page
        if not page.url.endswith(f"#/requests/{id}"):
            page.goto(f"{self.url}/console/#/requests/{id}")
        page.wait_for_function(
            "(s) => { const e = document.getElementById('request-state'); return e && e.innerText.trim() === s; }",
            arg=state,
            timeout=timeout_ms,
        )
        return {"lifecycle": page.inner_text("ol.lifecycle")}

    def enable_module(self, tenant, env, module, values):
        page = self.page
        page.goto(f"{self.url}/console/#/tenants/{tenant}")
        page.click(f"tr[data-env='{env}'] button[data-action=enable]")
        page.select_option("#module", module)
        page.fill("#module-values", json.dumps(values))
        page.click("#module-submit")
        return {"dialog": self.confirm(), "request": self.request_page_id()}

    def revert_from_history(self, tenant, request):
        page = self.page
        page.goto(f"{self.url}/console/#/tenants/{tenant}")
        entry = page.wait_for_selector(f"ol.history li:has(a[href='#/requests/{request}'])")
        entry.query_selector("button[data-action=revert]").click()
        return {"dialog": self.confirm(), "request": self.request_page_id()}

    def show_diffs(self, tenant, commit):
        page = self.page
        page.goto(f"{self.url}/console/#/tenants/{tenant}")
        entry = page.wait_for_selector(f"ol.history li[data-commit='{commit}']")
        entry.query_selector("button[aria-expanded]").click()
        page.wait_for_selector(f"ol.history li[data-commit='{commit}'] pre.diff")
        return {"diffs": entry.query_selector(".diffs").inner_text()}

    def skip_to_content(self):
        """By keyboard: Shift+Tab from the header's first link reaches the skip link, Enter
        moves focus into the page without leaving it, and Tab goes on to the page's first
        control. Each focus is shown by its outline."""
        page = self.page
        hash_before = page.evaluate("location.hash")
        focused = "({text: document.activeElement.innerText.trim(), id: document.activeElement.id, outline: getComputedStyle(document.activeElement).outlineStyle})"
        page.focus("a.brand")
        page.keyboard.press("Shift+Tab")
        skip = page.evaluate(focused)
        page.keyboard.press("Enter")
        page.wait_for_timeout(200)
        landed = page.evaluate(focused)
        page.keyboard.press("Tab")
        control = page.evaluate(focused)
        return {
            "skip": skip,
            "landed": landed["id"],
            "control": control,
            "hash_before": hash_before,
            "hash_after": page.evaluate("location.hash"),
        }

    def text(self, selector):
        return {"text": self.page.inner_text(selector)}

    def wait_text(self, selector, text, timeout_ms=WAIT_MS):
        self.page.wait_for_function(
            "([sel, t]) => { const e = document.querySelector(sel); return e && e.innerText.includes(t); }",
            arg=[selector, text],
            timeout=timeout_ms,
        )
        return {"text": self.page.inner_text(selector)}

    def html_of(self, selector):
        """The element's markup and how many elements the page has of a tag an XSS would add."""
        return {
            "html": self.page.inner_html(selector),
            "injected": self.page.evaluate("document.querySelectorAll('img[src=x], script:not([src])').length"),
            "alerted": self.page.evaluate("window.__xss === true"),
        }

    def write_buttons(self):
        page = self.page
        return {
            "write": page.evaluate("document.querySelectorAll('[data-write]').length"),
            "buttons": page.evaluate(
                "[...document.querySelectorAll('main button')].map(b => b.innerText.trim())"
            ),
        }

    def requests_seen(self, wait_ms=0):
        """What the page asked for, and the answers' statuses, since the last call.

        Playwright's sync API delivers the page's events only while a call into it runs, so
        the wait happens here, in the browser's time, rather than in the test's thread."""
        self.page.wait_for_timeout(wait_ms)
        seen, self.requested = self.requested, []
        statuses, self.statuses = self.statuses, []
        return {"urls": seen, "statuses": statuses}

    def axe_check(self):
        page = self.page
        page.evaluate(self.axe)
        result = page.evaluate(
            "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
            " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
        )
        serious = [v for v in result if v["impact"] in ("serious", "critical")]
        return {"serious": serious, "all": [v["id"] for v in result]}

    def screenshot(self, name, width=None):
        """Saves the page; at another `width`, also says by how many pixels the page is wider
        than the window (a layout that works there scrolls only down), then restores 1280."""
        page = self.page
        overflow = 0
        if width:
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(200)
            overflow = page.evaluate("document.documentElement.scrollWidth") - width
        path = self.shots / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if width:
            page.set_viewport_size({"width": 1280, "height": 900})
        return {"path": str(path), "overflow": overflow}

    def violations(self):
        return {"csp": list(self.csp_violations)}

    def close(self):
        self.browser.close()
        self.playwright.stop()


def main():
    url, chromium, axe, shots = sys.argv[1:5]
    # Stops by itself, whatever its caller does: a daemon timer, so a driver that is done
    # exits at once rather than waiting out the timer.
    timer = threading.Timer(LIFETIME_S, lambda: os._exit(3))
    timer.daemon = True
    timer.start()
    console = Console(url, chromium, axe, shots)
    print(json.dumps({"ok": True, "ready": True}), flush=True)
    started = time.monotonic()
    for line in sys.stdin:
        if time.monotonic() - started > LIFETIME_S:
            break
        step = json.loads(line)
        op = step.pop("op")
        if op == "quit":
            break
        try:
            answer = getattr(console, op)(**step)
            print(json.dumps({"ok": True, **answer}), flush=True)
        except Exception as error:  # the test reads it, with a screenshot of the moment
            try:
                console.page.screenshot(path=str(console.shots / f"failed-{op}.png"))
            except Exception:
                pass
            print(json.dumps({"ok": False, "error": f"{op}: {error}"}), flush=True)
    console.close()


if __name__ == "__main__":
    main()
