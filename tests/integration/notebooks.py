"""Execute a bundled notebook through its real kernel with nbclient, as an analyst's "Run All" would."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def run_notebook(name: str, env: dict[str, str], workdir: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """Copy `notebooks/<name>` into `workdir`, run every cell with the kernel the notebook names, and return
    the executed notebook. A failing cell raises nbclient's CellExecutionError naming the cell."""
    (workdir / name).parent.mkdir(parents=True, exist_ok=True)  # names may have a folder: "hunts/..."
    path = Path(shutil.copy(NOTEBOOKS / name, workdir / name))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        startup_timeout=120,
        kernel_name=nb.metadata.kernelspec.name,
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute(env=env, cwd=str(workdir))
    nbformat.write(nb, path)
    return nb


def cell_text(cell) -> str:
    """Everything a cell shows as text: streams and the text/plain of results and displays."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "\n".join(parts)


def tagged(nb, tag: str):
    """The cells carrying a metadata tag (notebooks tag the cells whose results tests check)."""
    return [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
