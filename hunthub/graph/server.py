"""Jupyter server extension: serve the data of big graphs drawn by hunthub.graph.view to the analyst's own pages.

    GET {base_url}hunthub/graphs/<32 hex digits>/<part>

Only the analyst who owns the server (authenticated, with read access to contents) gets anything, only the fixed
part names of hunthub.graph.store, only from hunthub.graph.store.graph_dir(). Graphs older than two weeks (or beyond
2 GiB) are removed when the server starts and whenever a kernel writes a new one.

What this cannot do: show a big graph to anyone else, e.g. a colleague opening a copy of the notebook (their own
server has no such files; small graphs, which travel inside the output, redraw anywhere), or serve a graph once it
is pruned.
"""

from __future__ import annotations

import os

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from hunthub.graph import store

CHUNK = 1 << 20


class GraphPartHandler(JupyterHandler):
    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def get(self, graph_id: str, part: str) -> None:
        self.check_xsrf_cookie()  # like /files/: a GET from another site is refused (no cross-site inclusion)
        if not (store.valid_id(graph_id) and store.valid_part(part)):
            raise web.HTTPError(404, "no such graph part")
        root = store.graph_dir()
        directory = root / graph_id
        try:
            if directory.is_symlink() or directory.resolve().parent != root.resolve():
                raise web.HTTPError(404, "no such graph part")
            fd = os.open(directory / part, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as e:
            raise web.HTTPError(404, "no such graph part") from e
        with os.fdopen(fd, "rb") as f:
            binary = not part.endswith(".json")
            self.set_header("Content-Type", "application/octet-stream" if binary else "application/json")
            self.set_header("Content-Length", str(os.fstat(f.fileno()).st_size))
            self.set_header("Cache-Control", "private, max-age=604800, immutable")  # a graph id never changes content
            while data := f.read(CHUNK):
                self.write(data)
                await self.flush()


def handlers(base_url: str) -> list[tuple]:
    return [(url_path_join(base_url, r"hunthub/graphs/([^/]+)/([^/]+)"), GraphPartHandler)]


def _jupyter_server_extension_points():
    return [{"module": "hunthub.graph.server"}]


def _load_jupyter_server_extension(serverapp):
    web_app = serverapp.web_app
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"]))
    removed = store.prune(store.graph_dir())
    serverapp.log.info("hunthub: serving graph views from %s (%d old ones removed)", store.graph_dir(), len(removed))
