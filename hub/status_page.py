"""The admins' page of who holds what: `hunthub status` as a live table at /services/hunthub-status/.

A JupyterHub-managed service (a small tornado app the hub starts and routes to), not a page inside the hub
(`JupyterHub.extra_handlers`), because
- a snapshot reads /proc for every process on the host and asks every analyst's server for its kernels. Done in
  the hub's own event loop, that work would slow every login and spawn of a busy hub; here it runs in another
  process, on a thread, and at most once per `--min-interval` however many admins watch;
- the hub's handler classes are internals that change between releases, while a service uses JupyterHub's public
  service API (HubOAuth) and its REST API with a token of its own, whose role names exactly what it may do
  (list users and servers, reach servers' APIs) — the same token `hunthub status` uses;
- if the page breaks, the hub does not.

Who may look: whoever holds `access:services!service=hunthub-status`. Of JupyterHub's default roles only `admin`
does (`user` does not), so analysts are refused with 403 by HubOAuth itself. The hub lists the page under
Services for those who may open it, and hunthub's admin page template links it.

Endpoints (under the service prefix): `` (the page), `table` (the table alone, which the page fetches every
`--refresh` seconds), `snapshot.json` (the snapshot for scripts; token or cookie), `oauth_callback`.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import time

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import ioloop, web
from traitlets import Float, Integer, Unicode, default
from traitlets.config import Application

from hunthub import status


class Snapshots:
    """Snapshots shared by every viewer: a new one at most every `min_interval` seconds, taken on a thread."""

    def __init__(self, sources: status.Sources, min_interval: float):
        self.sources, self.min_interval = sources, min_interval
        self._last: tuple[float, dict] | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> dict:
        async with self._lock:
            if self._last is None or time.monotonic() - self._last[0] >= self.min_interval:
                try:
                    snap = await asyncio.get_running_loop().run_in_executor(None, status.snapshot, self.sources)
                except status.StatusError as e:
                    snap = {"error": str(e), "time": None, "analysts": [], "other_apps": [], "cluster": {}}
                self._last = (time.monotonic(), snap)
            return self._last[1]


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def render_table(snap: dict) -> str:
    """The snapshot as HTML: one row per analyst, then applications of no analyst, then the cluster's totals."""
    if snap.get("error"):
        return f'<div class="alert alert-danger" id="status-error">{_e(snap["error"])}</div>'
    rows = []
    for a in snap["analysts"]:
        apps = "<br>".join(
            f"<code>{_e(x['id'])}</code> {_e(x['state'].lower())}, OS user {_e(x['user'] or '?')}" for x in a["apps"]
        )
        kinds = ", ".join(f"{k} {status.size(v)}" for k, v in a["pss_by_kind"].items() if v)
        badge = ' <span class="badge text-bg-secondary">admin</span>' if a["admin"] else ""
        rows.append(
            f'<tr data-analyst="{_e(a["name"])}">'
            f"<td>{_e(a['name'])}{badge}</td>"
            f"<td>{_e(status.server_text(a))}</td>"
            f'<td class="kernels">{_e(status.kernels_text(a))}</td>'
            f'<td class="apps">{apps or _e(status.apps_text(a))}</td>'
            f'<td class="cores">{a["cores"]}</td>'
            f"<td>{_e(status.size(a['executor_memory_mb'], 'MB'))}</td>"
            f'<td class="pss" title="{_e(kinds)}">{_e(status.size(a["pss_bytes"]))}'
            f'<div class="small text-body-secondary">{_e(kinds)}</div></td>'
            f'<td class="caps">{_e(status.caps_text(a))}</td>'
            "</tr>"
        )
    if not rows:
        rows.append('<tr><td colspan="8">No analyst has a server or holds anything on the cluster.</td></tr>')
    parts = [
        '<table class="table table-sm table-striped" id="analysts"><thead><tr><th>Analyst</th><th>Server</th>'
        "<th>Kernels</th><th>Spark applications</th><th>Cores</th><th>Executor memory</th><th>Memory (PSS)</th>"
        "<th>Caps (memory used)</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    ]
    if snap["other_apps"]:
        items = "".join(
            f"<li><code>{_e(x['id'])}</code> {_e(x['name'])} ({_e(x['holder'])}; OS user {_e(x['user'] or '?')}): "
            f"{_e(x['state'].lower())}, {x['cores']} cores, {_e(status.size(x['executor_memory_mb'], 'MB'))} "
            "executor memory</li>"
            for x in snap["other_apps"]
        )
        parts.append(f'<h2 class="h5">Spark applications of no analyst</h2><ul id="other-apps">{items}</ul>')
    parts.append(f'<p id="cluster">{_e(status.cluster_text(snap["cluster"]))}</p>')
    parts += [f'<p class="text-warning">{_e(p)}</p>' for p in snap.get("problems", [])]
    parts.append(f'<p class="small text-body-secondary" id="taken">snapshot {_e(snap.get("time") or "")}</p>')
    return "\n".join(parts)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>hunthub: who holds what</title>
<link rel="stylesheet" href="{hub}static/css/style.min.css"></head>
<body><div class="container-fluid p-3">
<h1 class="h3">Who holds what</h1>
<p>Analysts' servers, kernels, Spark applications, the executor cores and memory they hold, and the memory (PSS)
of all their processes on this host. Refreshes every {refresh:g} s; <code>hunthub status</code> shows the same.
<a href="{hub}admin">Back to the admin page</a> · <a href="{prefix}snapshot.json">JSON</a></p>
<div id="status" data-xsrf="{xsrf}" data-refresh="{refresh_ms}">{table}</div>
<script src="{prefix}page.js"></script>
</div></body></html>
"""

# fetches the table again and again; keeps the last one (and says so) when the service cannot be reached
SCRIPT = """(function () {
  var box = document.getElementById("status");
  var every = parseInt(box.dataset.refresh, 10);
  function again() {
    fetch("table", {headers: {"X-XSRFToken": box.dataset.xsrf}, credentials: "same-origin"})
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (text) { box.innerHTML = text; })
      .catch(function (err) {
        var note = document.getElementById("stale") || document.createElement("p");
        note.id = "stale"; note.className = "text-danger";
        note.textContent = "Not updated: " + err.message + " (log in again if this persists)";
        box.appendChild(note);
      })
      .finally(function () { setTimeout(again, every); });
  }
  setTimeout(again, every);
})();
"""


class Base(HubOAuthenticated, web.RequestHandler):
    def initialize(self, page: StatusPage):
        self.page = page

    def set_default_headers(self):
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")


class PageHandler(Base):
    @web.authenticated
    async def get(self):
        snap = await self.page.snapshots.get()
        xsrf = self.xsrf_token
        self.set_header("Content-Security-Policy", "default-src 'self'; frame-ancestors 'self'")
        self.finish(
            PAGE.format(
                hub=_e(self.page.hub_prefix), prefix=_e(self.page.service_prefix), refresh=self.page.refresh,
                refresh_ms=int(self.page.refresh * 1000), table=render_table(snap),
                xsrf=_e(xsrf.decode() if isinstance(xsrf, bytes) else xsrf),
            )
        )  # fmt: skip


class TableHandler(Base):
    @web.authenticated
    async def get(self):
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(render_table(await self.page.snapshots.get()))


class JSONHandler(Base):
    @web.authenticated
    async def get(self):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(await self.page.snapshots.get(), indent=1))


class ScriptHandler(web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/javascript; charset=utf-8")
        self.finish(SCRIPT)


class StatusPage(Application):
    name = "hunthub-status"
    description = "The admins' live page of who holds what on a hunthub hub."

    ip = Unicode("127.0.0.1", help="Address to listen on.").tag(config=True)
    port = Integer(8083, help="Port to listen on.").tag(config=True)
    public_url = Unicode(
        "http://127.0.0.1:8000/", help="The hub's public URL: servers whose own address is not visible are asked there."
    ).tag(config=True)
    master_webui = Unicode("", help="The Spark master's web UI (its /json/ is read); empty: no Spark view.").tag(
        config=True
    )
    account_prefix = Unicode(
        status.ACCOUNT_PREFIX, help="Prefix of analysts' OS accounts (HuntHub.account_prefix): whose process is whose."
    ).tag(config=True)
    refresh = Float(5, help="Seconds between two refreshes of an open page.").tag(config=True)
    min_interval = Float(
        3, help="Seconds a snapshot is reused for every viewer before a new one is taken (bounds the load)."
    ).tag(config=True)

    hub_api_url = Unicode(help="The hub's REST API. Default: $JUPYTERHUB_API_URL.").tag(config=True)

    @default("hub_api_url")
    def _default_hub_api_url(self):
        return os.environ.get("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")

    service_prefix = Unicode(help="The service's URL prefix. Default: $JUPYTERHUB_SERVICE_PREFIX.").tag(config=True)

    @default("service_prefix")
    def _default_service_prefix(self):
        return os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{status.SERVICE_NAME}/")

    hub_prefix = Unicode(help="The hub's own URL prefix (its static files, admin page).").tag(config=True)

    @default("hub_prefix")
    def _default_hub_prefix(self):
        return os.environ.get("JUPYTERHUB_BASE_URL", "/").rstrip("/") + "/hub/"

    aliases = {
        "ip": "StatusPage.ip",
        "port": "StatusPage.port",
        "public-url": "StatusPage.public_url",
        "master-webui": "StatusPage.master_webui",
        "account-prefix": "StatusPage.account_prefix",
        "refresh": "StatusPage.refresh",
        "min-interval": "StatusPage.min_interval",
    }

    def make_app(self) -> web.Application:
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        if not token:
            raise SystemExit("hunthub-status needs JUPYTERHUB_API_TOKEN: it runs as a hub-managed service")
        self.snapshots = Snapshots(
            status.Sources(self.hub_api_url, token, self.public_url, self.master_webui or None, self.account_prefix),
            self.min_interval,
        )
        HubOAuth.instance(api_token=token)  # what every handler's `hub_auth` is
        prefix = self.service_prefix
        args = {"page": self}
        return web.Application(
            [
                (prefix, PageHandler, args),
                (url_path_join(prefix, "table"), TableHandler, args),
                (url_path_join(prefix, "snapshot.json"), JSONHandler, args),
                (url_path_join(prefix, "page.js"), ScriptHandler),
                (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
            ],
            # HubOAuth signs its login state with this; a restart only means logging in to the page again
            cookie_secret=os.urandom(32),
            log_function=self._log_request,
        )

    def _log_request(self, handler: web.RequestHandler) -> None:
        # method, path and status only: never headers or query strings, which may carry tokens
        status_code = handler.get_status()
        level = self.log.info if status_code < 400 else self.log.warning
        level("%d %s %s %.0fms", status_code, handler.request.method, handler.request.path,
              1000 * handler.request.request_time())  # fmt: skip

    def start(self):
        from hunthub.processes import die_with_parent

        # a hub that crashes and is restarted must find this port free for its new service
        die_with_parent()
        self.make_app().listen(self.port, self.ip)
        self.log.info("hunthub-status on http://%s:%d%s", self.ip, self.port, self.service_prefix)
        ioloop.IOLoop.current().start()


main = StatusPage.launch_instance

if __name__ == "__main__":
    main()
