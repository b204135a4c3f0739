"""hunthub's offline graph view (hunthub.graph.view) at 10^4..10^6 edges: Python time to lay out and package a
graph, page load -> first frame and frame times under continuous interaction in headless Chromium (WebGL on
SwiftShader, 2 cores: a worst case, a laptop GPU is far faster), next to pygraphistry's hypergraph build time for
as many events. See README.md.

Graphs are synthetic: communities with heavy-tailed degrees (a few hubs, many low-degree nodes), four node types,
about 4 edges per node, mostly distinct pairs, so every edge is drawn. Small graphs travel inline in the HTML,
bigger ones through the hunthub.graph.server extension of a real `jupyter server` on loopback."""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_startup import ROOT, _terminate, git_state, log  # noqa: E402 - a sibling script, not a package

sys.path.insert(0, str(ROOT))
TYPES = np.array(["user", "host", "process", "domain"])
INTERACTIVE_P95_MS = 100

# 60 synthetic wheel/drag events, one per frame; each frame's interval is taken between requestAnimationFrame
# callbacks, and the view itself times each draw, waiting for the GPU (its `measure` switch).
INTERACT = """async (frames) => {
  const v = document.querySelector('.hh-graph').hunthubGraph, c = v.canvas, r = c.getBoundingClientRect();
  const cx = r.left + r.width / 2, cy = r.top + r.height / 2;
  const next = () => new Promise(done => requestAnimationFrame(() => done(performance.now())));
  v.measure = true; v.stats.frames = [];
  const intervals = [];
  let t = await next();
  for (let i = 0; i < frames; i++) {
    if (i % 3 === 0) {
      c.dispatchEvent(new WheelEvent('wheel', {deltaY: i % 6 ? 90 : -120, clientX: cx + 40, clientY: cy - 20,
                                               bubbles: true, cancelable: true}));
    } else {
      const x = cx + (i % 2 ? 30 : -30), o = {pointerId: 1, bubbles: true};
      c.dispatchEvent(new PointerEvent('pointerdown', {...o, clientX: cx, clientY: cy}));
      c.dispatchEvent(new PointerEvent('pointermove', {...o, clientX: x, clientY: cy + 10}));
      c.dispatchEvent(new PointerEvent('pointerup', {...o, clientX: x, clientY: cy + 10}));
    }
    const now = await next();
    intervals.push(now - t);
    t = now;
  }
  v.measure = false;
  // performance.now() is coarse (0.1 ms) outside isolated pages: time batches of lookups
  const picks = [], w = r.width, h = r.height;
  for (let k = 0; k < 20; k++) {
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) v.pick(((k * 200 + i) * 97) % w, ((k * 200 + i) * 61) % h);
    picks.push((performance.now() - t0) / 200);
  }
  return {intervals, draws: v.stats.frames.slice(1), picks};
}"""


def synthetic_graph(m: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """About m edges over m/4 nodes: communities of ~300, preferential picks inside them, 10% across."""
    rng = np.random.default_rng(seed)
    n = max(m // 4, 10)
    k = max(n // 300, 2)
    community = np.sort(rng.integers(0, k, n))
    cumulative = np.cumsum(rng.pareto(1.5, n) + 1)
    starts, ends = np.searchsorted(community, np.arange(k)), np.searchsorted(community, np.arange(k), "right")

    def pick(lo, hi):
        base = np.where(lo > 0, cumulative[np.maximum(lo - 1, 0)], 0.0)
        return np.searchsorted(cumulative, base + rng.random(lo.size) * (cumulative[hi - 1] - base))

    src = pick(np.zeros(m, np.int64), np.full(m, n))
    dst = pick(starts[community[src]], ends[community[src]])
    far = rng.random(m) < 0.1
    dst[far] = pick(np.zeros(far.sum(), np.int64), np.full(far.sum(), n))
    nodes = pd.DataFrame({"id": np.arange(n), "type": TYPES[rng.integers(0, 4, n)]})
    nodes["label"] = nodes["type"] + "-" + nodes["id"].astype(str)
    return pd.DataFrame({"src": src, "dst": dst, "events": rng.integers(1, 50, m)}), nodes


def synthetic_events(n: int, seed: int = 0) -> pd.DataFrame:
    """n events of a hunt: few users, more hosts, many processes; heavy-tailed like real logs."""
    rng = np.random.default_rng(seed)

    def names(prefix: str, distinct: int) -> np.ndarray:
        return np.char.add(prefix, ((rng.zipf(1.3, n) - 1) % max(distinct, 1)).astype(str))

    return pd.DataFrame({
        "time": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 86400, n), unit="s"),
        "user": names("user", n // 100), "host": names("host", n // 50), "process": names("proc", n // 20),
        "action": rng.choice(["logon", "exec", "connect"], n),
    })  # fmt: skip


def time_hypergraph(events: int) -> float:
    import graphistry

    df = synthetic_events(events)
    t0 = time.perf_counter()
    graphistry.hypergraph(df, ["user", "host", "process"], direct=True, verbose=False)
    return time.perf_counter() - t0


def measure_browser(browser, server, shown, frames: int) -> dict:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        # An HTML page of the server (a 404 page: no notebook UI to load) gives the server's origin, its scripts
        # policy and, from the token, a login cookie: as a notebook page has.
        page.goto(f"{server.url}hunthub-benchmark?token={server.token}")
        config = json.dumps({"baseUrl": "/"})
        doc = f'<script id="jupyter-config-data" type="application/json">{config}</script>{shown._repr_html_()}'
        t0 = time.perf_counter()
        page.set_content(f"<html><body style='margin:0'>{doc}</body></html>", wait_until="commit")
        page.wait_for_function(
            "(() => { const e = document.querySelector('.hh-graph'); return e && (e.dataset.firstFrame"
            " || e.dataset.state === 'error'); })()",
            polling="raf",
            timeout=600_000,
        )
        first_frame = time.perf_counter() - t0
        if page.locator(".hh-graph[data-state='error']").count():
            raise RuntimeError(page.locator(".hh-graph-msg").inner_text())
        # big graphs show a sample first, then refine to the full picture a frame's budget at a time
        progressive = page.evaluate("document.querySelector('.hh-graph').hunthubGraph.progressive")
        if progressive:
            page.locator(".hh-graph[data-refined]").wait_for(timeout=600_000)
        full_picture = time.perf_counter() - t0
        page.wait_for_timeout(300)
        got = page.evaluate(INTERACT, frames)
        outside = [u for u in requests if not u.startswith(("data:", server.url))]
        if outside:
            raise RuntimeError(f"the page asked for {outside[:3]}")
        return {"first_frame": first_frame, "full_picture": full_picture, "progressive": progressive, **got}
    finally:
        page.close()


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run(args, results: dict) -> None:
    from hunthub.graph.view import view
    from tests.e2e.browser import browser
    from tests.e2e.test_graph_view import Server

    server = Server()
    os.environ["HUNTHUB_KERNEL_GRAPH_DIR"] = str(server.home / ".hunthub" / "graphs")  # where the server looks
    try:
        with browser() as b:
            for m in args.sizes:
                row = results.setdefault(m, {})
                log(f"{m:,} edges: building the graph ...")
                edges, nodes = synthetic_graph(m)
                t0 = time.perf_counter()
                shown = view(edges, nodes, source="src", destination="dst", node_id="id", max_edges=max(m, 10**6))
                row |= {"view": time.perf_counter() - t0, **shown.timings, "nodes": shown.graph.n,
                        "drawn": len(shown.pairs), "mode": shown.mode}  # fmt: skip
                log(f"  view() {row['view']:.2f} s (layout {row['layout']:.2f} s), {shown.mode}; in Chromium ...")
                row |= measure_browser(b, server, shown, args.frames)
                log(f"  first frame {row['first_frame']:.2f} s, frame p95 {pct(row['intervals'], 95):.0f} ms")
                if not args.no_hypergraph:
                    row["hypergraph"] = time_hypergraph(m)
                    log(f"  hypergraph of {m:,} events: {row['hypergraph']:.2f} s")
    except BaseException:
        log("--- jupyter server log ---\n" + server.log()[-4000:])
        raise
    finally:
        server.stop()


def report(results: dict, args, elapsed: float, complete: bool, git: dict) -> None:
    print("\nPython (kernel side), seconds")
    print(f"{'edges':>10} {'nodes':>9} {'drawn':>9}  {'view()':>7} {'prepare':>8} {'layout':>7} {'data':>6}  "
          f"{'hypergraph (as many events)':>27}  {'view/hypergraph':>15}")  # fmt: skip
    for m, r in results.items():
        if "view" not in r:
            continue
        hyper = r.get("hypergraph")
        ratio = f"{r['view'] / hyper:.2f}" if hyper else "-"
        hyper_cell = f"{hyper:.2f}" if hyper else "-"
        print(f"{m:>10,} {r['nodes']:>9,} {r['drawn']:>9,}  {r['view']:>7.2f} {r['prepare']:>8.2f} "
              f"{r['layout']:>7.2f} {r['data']:>6.2f}  {hyper_cell:>27}  {ratio:>15}")  # fmt: skip
    print(f"\nheadless Chromium, SwiftShader WebGL; {args.frames} wheel/drag events, one per frame; ms unless marked")
    print(f"{'edges':>10} {'mode':>6} {'load->1st frame':>15} {'->full':>7}  {'frame med':>9} {'p95':>6}  "
          f"{'draw med':>8} {'p95':>6}  {'pick (us)':>9}  verdict")  # fmt: skip
    for m, r in results.items():
        if "intervals" not in r:
            continue
        p95 = pct(r["intervals"], 95)
        verdict = "interactive" if p95 < INTERACTIVE_P95_MS else "sluggish"
        print(f"{m:>10,} {r['mode']:>6} {r['first_frame']:>13.2f} s {r['full_picture']:>5.2f} s  "
              f"{statistics.median(r['intervals']):>9.1f} "
              f"{p95:>6.1f}  {statistics.median(r['draws']):>8.1f} {pct(r['draws'], 95):>6.1f}  "
              f"{1000 * statistics.median(r['picks']):>9.1f}  {verdict}")  # fmt: skip
    print(f"\n'interactive': p95 frame interval < {INTERACTIVE_P95_MS} ms. 'draw': one frame's GPU work, waited for.")
    print("'->full': load until the full picture (big graphs show a sample first and refine it while idle).")
    print(f"total {elapsed / 60:.1f} min" + ("" if complete else " (INCOMPLETE)"))
    print(f"code: {git['commit']}" + (f" + {len(git['modified'])} modified files" if git["modified"] else ""))
    out = ROOT / "benchmarks" / "results" / f"graph-view-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    doc = {"complete": complete, "frames": args.frames, "seconds_total": elapsed, "cores": os.cpu_count(),
           "git": git, "figures": {str(m): r for m, r in results.items()}}  # fmt: skip
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"figures written to {out.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=lambda s: [int(float(x)) for x in s.split(",")],
                        default=[10**4, 10**5, 10**6], help="edge counts (default 1e4,1e5,1e6)")  # fmt: skip
    parser.add_argument("--frames", type=int, default=60, help="interaction events per size (default 60)")
    parser.add_argument("--quick", action="store_true", help="1e4 and 1e5 edges, 30 frames (about a minute)")
    parser.add_argument("--no-hypergraph", action="store_true", help="skip the pygraphistry hypergraph builds")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.frames = [10**4, 10**5], 30
    signal.signal(signal.SIGTERM, _terminate)
    results: dict = {}
    t0, complete, git = time.monotonic(), False, git_state()
    try:
        run(args, results)
        complete = True
    finally:
        if results:
            report(results, args, time.monotonic() - t0, complete, git)
    return 0


if __name__ == "__main__":
    sys.exit(main())
