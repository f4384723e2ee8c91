"""Work the latent-space explorer hands to the inspector's thread: plain engine data in
(where the latent is, a class, a truncation, query points), plain arrays out. Each function
returns ``work(generator)`` for :meth:`app.inspector_worker.InspectorWorker.run_task`."""

from __future__ import annotations

from pathlib import Path

from sagan_engine.animation import save_path_frames
from sagan_engine.latent_paths import (
    LatentPosition,
    SeedLatent,
    Truncation,
    class_swap,
    render_frame,
    render_path,
)

FRAME_PRIORITY = 0  # the enlarged sample before strips and rows


def frame_work(position: LatentPosition, label, truncation: Truncation, queries: tuple):
    def work(generator):
        z = position.latent(generator.cfg.z_dim, truncation)
        return render_frame(generator, z, label, queries)

    return work


def path_work(a: SeedLatent, b: SeedLatent, frames: int, label, spherical, truncation):
    def work(generator):
        z_dim = generator.cfg.z_dim
        za, zb = a.latent(z_dim, truncation), b.latent(z_dim, truncation)
        return render_path(generator, za, zb, frames, label, spherical)

    return work


def class_row_work(row: int, position: LatentPosition, truncation: Truncation, classes: range):
    def work(generator):
        z = position.latent(generator.cfg.z_dim, truncation)
        return row, classes, class_swap(generator, z, classes)

    return work


def export_work(frames_work, path: Path, duration_ms: int, metadata: dict[str, str]):
    def work(generator):
        return save_path_frames(frames_work(generator), path, duration_ms, 1, metadata)

    return work
