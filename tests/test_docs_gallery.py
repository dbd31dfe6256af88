"""docs/_gallery.py: the figures of the docs' gallery page, drawn at build time."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from skposter.metrics import genre_report

pytest.importorskip("matplotlib")

_SPEC = importlib.util.spec_from_file_location(
    "_gallery", Path(__file__).resolve().parents[1] / "docs" / "_gallery.py")
gallery = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(gallery)


def test_summary_table_is_the_report_summary_in_markdown():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, size=(40, 3))
    report = genre_report(y_true, rng.random((40, 3)), target_names=["a", "b", "c"],
                          y_prior=y_true)
    lines = gallery.summary_table(report).splitlines()
    assert lines[0] == "|  | " + " | ".join(report.summary.columns) + " |"
    assert len(lines) == 2 + len(report.summary)
    model = lines[2].split(" | ")
    assert model[0] == "| **model**"
    assert float(model[1]) == pytest.approx(report.summary.iloc[0, 0], abs=5e-4)


@pytest.mark.slow
def test_draw_gallery_writes_every_figure(tmp_path):
    drawn = gallery.draw_gallery(tmp_path)
    assert set(drawn["figures"]) == {"plots", "heatmaps"}
    assert len(drawn["figures"]["heatmaps"]) == gallery.N_HEATMAPS
    for figures in drawn["figures"].values():
        for name in figures:
            assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert drawn["report"].summary.loc["model", "macro_ap"] > drawn["report"].summary.loc[
        "prior", "macro_ap"]
