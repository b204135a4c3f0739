"""The graph view in a real Notebook 7 page, in headless Chromium (WebGL on SwiftShader): drawn, zoomed, clicked,
and never reaching beyond the Jupyter server. Needs no hunthub stack: a plain `jupyter server` with the graph
extension enabled by the config file hunthub ships."""

from __future__ import annotations

import base64
import functools
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import numpy as np
import pandas as pd
import pytest
import requests

from hunthub.graph.view import view
from tests.e2e.browser import browser, run_all_cells, screenshot
from tests.harness import ROOT, free_port

pytestmark = pytest.mark.e2e

SMALL = """
import pandas as pd, graphistry
from hunthub.graph.view import view
events = pd.DataFrame({
    "user": ["alice", "bob", "alice", "carol", "dave", "alice", "bob", "erin"] * 3,
    "host": ["ws-01", "ws-02", "dc-01", "ws-03", "dc-01", "ws-01", "dc-01", "ws-04"] * 3,
    "process": ["cmd.exe", "ssh", "powershell.exe", "excel.exe", "rundll32.exe", "mimikatz.exe", "ssh", "cmd.exe"] * 3,
})
g = graphistry.hypergraph(events, ["user", "host", "process"], direct=True, verbose=False)["graph"]
v = view(g)
print("node", v.graph.labels.tolist().index("mimikatz.exe"), "mode", v.mode)
v
"""
SECOND = """
view(events[events.user == "bob"], source="user", destination="host")  # a second view in the same notebook
"""
BIG = """
import numpy as np, pandas as pd
from hunthub.graph.view import view
rng = np.random.default_rng(7)
n, m = 30_000, 120_000
edges = pd.DataFrame({"src": rng.integers(0, n, m), "dst": (rng.zipf(1.6, m) - 1) % n})
nodes = pd.DataFrame({"id": np.arange(n), "type": np.where(np.arange(n) % 3 == 0, "host", "process")})
v = view(edges, nodes, source="src", destination="dst", node_id="id")
print("mode", v.mode, "id", v.graph_id)
v
"""


class Server:
    """`jupyter server` on loopback, private HOME/config/runtime dirs, our extension enabled from its shipped file."""

    def __init__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="hunthub-graph-e2e-"))
        self.home, self.root, config = self.tmp / "home", self.tmp / "notebooks", self.tmp / "config"
        for d in (self.home, self.root, config / "jupyter_server_config.d"):
            d.mkdir(parents=True)
        shutil.copy(ROOT / "kernels/jupyter-config/hunthub-graphs.json", config / "jupyter_server_config.d")
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUNTHUB_", "JUPYTERHUB_", "JUPYTER_"))}
        env |= {"HOME": str(self.home), "JUPYTER_CONFIG_PATH": str(config), "PYTHONUNBUFFERED": "1",
                "JUPYTER_CONFIG_DIR": str(self.tmp / "user-config"),
                "JUPYTER_RUNTIME_DIR": str(self.tmp / "run")}  # fmt: skip
        self.log_path = self.tmp / "server.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                 f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                 *(["--allow-root"] if os.geteuid() == 0 else [])],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "api/status", params={"token": self.token}, timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        log = self.log()
        self.stop()
        raise AssertionError("jupyter server did not start:\n" + log)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def notebook(self, name: str, *cells: str) -> str:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in cells])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, self.root / name)
        return f"{self.url}notebooks/{name}?token={self.token}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def page(server):
    with browser() as b:
        ctx = b.new_context(viewport={"width": 1280, "height": 1000})
        pg = ctx.new_page()
        pg.requests = []
        pg.on("request", lambda r: pg.requests.append(r.url))
        pg.console = []
        pg.on("console", lambda m: pg.console.append(f"{m.type}: {m.text}"))
        try:
            yield pg
        finally:
            ctx.close()


def explained(test):
    """On failure, print (pytest shows it) the page's screenshot path and console, and the Jupyter server's log."""

    @functools.wraps(test)
    def run(**fixtures):
        try:
            return test(**fixtures)
        except BaseException:
            if "page" in fixtures:
                shot = screenshot(fixtures["page"], f"{test.__name__}-failure")
                print(f"screenshot: {shot}\nbrowser console:\n" + "\n".join(fixtures["page"].console))
            if "server" in fixtures:
                print("--- jupyter server log ---\n" + fixtures["server"].log())
            raise

    return run


def run_all(page, url: str) -> None:
    page.goto(url)
    run_all_cells(page, url.split("notebooks/")[0])


def pixels(page) -> np.ndarray:
    shot = page.evaluate("document.querySelector('.hh-graph').hunthubGraph.snapshot()")
    rgba = np.frombuffer(base64.b64decode(shot["rgba"]), np.uint8).reshape(shot["height"], shot["width"], 4)
    return rgba[::-1, :, :3]  # readPixels starts at the bottom row


def colour_counts(rgb: np.ndarray, colours: list[str]) -> dict[str, int]:
    counts = {}
    for hex_colour in colours:
        want = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
        counts[hex_colour] = int((np.abs(rgb.astype(int) - want).max(axis=2) <= 3).sum())
    return counts


def assert_only_local(page) -> None:
    hosts = {urlparse(u).hostname for u in page.requests if not u.startswith(("data:", "blob:"))}
    assert hosts <= {"127.0.0.1", "localhost"}, f"requests beyond the Jupyter server: {sorted(hosts)}"


@explained
def test_small_graph_draws_zooms_and_selects(server, page):
    run_all(page, server.notebook("small.ipynb", SMALL, SECOND))
    graphs = page.locator(".hh-graph[data-state='ready']")
    graphs.nth(1).wait_for(timeout=120_000)
    assert graphs.nth(0).get_attribute("id") != graphs.nth(1).get_attribute("id")
    assert "3 nodes" in graphs.nth(1).locator(".hh-graph-status").inner_text()
    first = graphs.nth(0)
    page.wait_for_function("document.querySelector('.hh-graph').hasAttribute('data-first-frame')")
    out = page.locator(".jp-OutputArea-output pre").first.inner_text()
    node = int(re.search(r"node (\d+) mode inline", out).group(1))
    screenshot(page, "graph-view-small")

    legend = first.locator(".hh-graph-legend").inner_text()
    for kind in ("user", "host", "process"):
        assert kind in legend
    colours = page.evaluate("document.querySelector('.hh-graph').hunthubGraph.meta.types.map(t => t.color)")
    before = pixels(page)
    background = np.array([251, 251, 253])
    assert (np.abs(before.astype(int) - background).max(axis=2) > 8).mean() > 0.002, "nothing drawn"
    seen = colour_counts(before, colours)
    assert all(count >= 20 for count in seen.values()), f"pixels per type colour: {seen}"

    box = first.locator("canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.4)
    for _ in range(5):
        page.mouse.wheel(0, -200)
        page.wait_for_timeout(50)
    page.wait_for_function("+document.querySelector('.hh-graph').dataset.zoom > 2")
    after = pixels(page)
    assert (np.abs(after.astype(int) - before.astype(int)).max(axis=2) > 8).mean() > 0.003, "zoom changed nothing"
    assert "zoom" in first.locator(".hh-graph-status").inner_text()

    first.locator(".hh-graph-fit").click()
    page.wait_for_function("Math.abs(document.querySelector('.hh-graph').dataset.zoom - 1) < 1e-3")
    at = page.evaluate(f"document.querySelector('.hh-graph').hunthubGraph.screenPosition({node})")
    page.mouse.move(at["x"], at["y"])
    tip = first.locator(".hh-graph-tip")
    tip.filter(has_text="mimikatz.exe").wait_for(timeout=5_000)
    assert "process" in tip.inner_text()
    page.mouse.click(at["x"], at["y"])
    panel = first.locator(".hh-graph-panel")
    panel.locator("td", has_text="process::mimikatz.exe").wait_for(timeout=5_000)
    text = panel.inner_text()
    assert "mimikatz.exe" in text and "nodeID" in text and "type" in text
    assert "degree 6 (edges), 2 neighbours" in text  # 3 events x (user, host); alice on ws-01
    screenshot(page, "graph-view-selected")
    assert_only_local(page)


@explained
def test_big_graph_comes_through_the_server_extension(server, page):
    run_all(page, server.notebook("big.ipynb", BIG))
    page.locator(".hh-graph[data-state='ready']").wait_for(timeout=240_000)
    page.wait_for_function("document.querySelector('.hh-graph').hasAttribute('data-first-frame')")
    if page.evaluate("document.querySelector('.hh-graph').hunthubGraph.progressive"):  # too slow for one frame
        page.locator(".hh-graph[data-refined]").wait_for(timeout=60_000)
    out = page.locator(".jp-OutputArea-output pre").first.inner_text()
    graph_id = re.search(r"mode file id ([0-9a-f]{32})", out).group(1)
    assert (server.home / ".hunthub" / "graphs" / graph_id / "edges.u32").is_file()
    served = [u for u in page.requests if f"/hunthub/graphs/{graph_id}/" in u]
    assert {u.rsplit("/", 1)[1] for u in served} >= {"pos.f32", "edges.u32", "types.u8", "degree.u32"}
    screenshot(page, "graph-view-big")
    rgb = pixels(page)
    colours = page.evaluate("document.querySelector('.hh-graph').hunthubGraph.meta.types.map(t => t.color)")
    seen = colour_counts(rgb, colours)
    assert all(count >= 50 for count in seen.values()), f"pixels per type colour: {seen}"
    # labels and attributes come lazily, chunk by chunk, when pointed at
    at = page.evaluate("document.querySelector('.hh-graph').hunthubGraph.screenPosition(20000)")
    page.evaluate("document.querySelector('.hh-graph').hunthubGraph.select(20000)")
    page.locator(".hh-graph-panel td", has_text="20000").first.wait_for(timeout=10_000)
    assert any(u.endswith("/nodes-1.json") for u in page.requests)
    assert at["x"] > 0 and at["y"] > 0
    assert_only_local(page)


@explained
def test_graph_parts_need_a_login_and_a_valid_name(server, monkeypatch):
    graphs = server.home / ".hunthub" / "graphs"
    monkeypatch.setenv("HUNTHUB_KERNEL_GRAPH_DIR", str(graphs))  # this process writes where the server reads
    graph_id = view(pd.DataFrame({"src": [1, 2, 3], "dst": [2, 3, 1]}), mode="file").graph_id
    base = f"{server.url}hunthub/graphs/"
    auth = {"Authorization": f"token {server.token}"}

    def get(path: str, **kw) -> requests.Response:
        return requests.get(base + path, timeout=10, allow_redirects=False, **kw)

    ok = get(f"{graph_id}/types.u8", headers=auth)
    assert ok.status_code == 200 and ok.content == bytes([0, 0, 0])
    assert ok.headers["Content-Type"] == "application/octet-stream"
    assert get(f"{graph_id}/nodes-0.json", headers=auth).json()["labels"] == ["1", "2", "3"]
    anonymous = get(f"{graph_id}/types.u8")
    assert anonymous.status_code in (302, 403) and not anonymous.content
    assert get(f"{graph_id}/types.u8", headers={"Authorization": "token wrong"}).status_code in (302, 403)
    elsewhere = server.tmp / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "pos.f32").write_bytes(b"secret")
    (graphs / ("f" * 32)).symlink_to(elsewhere)
    (graphs / graph_id / "degree.u32").unlink()
    (graphs / graph_id / "degree.u32").symlink_to(elsewhere / "pos.f32")
    bad_paths = [
        f"{graph_id}/..%2F..%2F.bashrc",
        f"{graph_id}/other.bin",
        f"{graph_id[:-1]}x/types.u8",
        "x/types.u8",
        f"{graph_id.upper()}/types.u8",
        f"{'0' * 32}/pos.f32",
        f"{'f' * 32}/pos.f32",
        f"{graph_id}/degree.u32",
    ]  # the last two: symlinks out
    for bad in bad_paths:
        answer = get(bad, headers=auth)
        assert answer.status_code == 404 and b"secret" not in answer.content, bad


def test_without_webgl_the_output_says_so():
    shown = view(pd.DataFrame({"src": ["alice", "bob"], "dst": ["ws-01", "ws-01"]}))
    with browser() as b:
        page = b.new_page()
        page.evaluate("HTMLCanvasElement.prototype.getContext = () => null")  # as with WebGL switched off
        page.set_content(f"<html><body>{shown._repr_html_()}</body></html>")
        page.locator(".hh-graph[data-state='error']").wait_for(timeout=10_000)
        message = page.locator(".hh-graph-msg").inner_text()
        assert "WebGL is not available" in message and "3 nodes, 2 edges" in message
