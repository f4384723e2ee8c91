"""The data-pipeline benchmark runs end to end on tiny settings and reports every row."""

from __future__ import annotations

import json

from sagan_engine import bench_data


def test_bench_data_reports_build_pipeline_and_memory_rates(tmp_path):
    out = tmp_path / "rows.json"
    argv = ["--resolutions", "32", "--images", "64", "--workers", "0", "--seconds", "0.2"]
    assert (
        bench_data.main([*argv, "--batch-size", "8", "--train-steps", "0", "--json", str(out)]) == 0
    )
    rows = json.loads(out.read_text())
    assert [r["what"] for r in rows] == ["build", "pipeline", "memory"]
    assert all(r.get("images_per_s", r.get("files_per_s", 0)) > 0 for r in rows)
