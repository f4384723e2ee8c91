"""Exporting from the latent-space explorer: the path as an animated GIF/WebP or a PNG strip
(rendered on the inspector's thread), and what an export of the enlarged sample records about
where its latent is. A mixin of :class:`app.latent_explorer.LatentExplorer`."""

from __future__ import annotations

from pathlib import Path

from app.latent_tasks import export_work, path_work
from app.save_paths import choose_save_path
from sagan_engine.animation import FRAME_SUFFIXES
from sagan_engine.latent_paths import Truncation

EXPORT_TEXT = "Export path…"
PATH_FILTERS = "Animated GIF (*.gif);;Animated WebP (*.webp);;PNG strip of frames (*.png)"


class LatentPathExport:
    """Path exports and export metadata (``self`` is the explorer)."""

    def export_path(self) -> None:
        if self.info is None:
            return
        start = Path(self.info.run_dir or Path.home()) / "path.gif"
        path = choose_save_path(self, "Export the path", start, PATH_FILTERS, FRAME_SUFFIXES)
        if path is not None:
            self.write_path(path)

    def write_path(self, path: str | Path) -> None:
        """Render ``export_frames`` frames of the path and save them (off the GUI thread)."""
        if self.info is None:
            return
        truncation = self.panel.truncation()
        label = self.path_label()
        spherical = not self.linear.isChecked()
        frames = self.export_frames.value()
        work = path_work(self.a, self.b, frames, label, spherical, truncation)
        metadata = {
            "software": "SAGAN Studio",
            "from": self.a.describe(),
            "to": self.b.describe(),
            "frames": str(frames),
            "interpolation": "spherical" if spherical else "linear",
            "step": str(self.info.step),
            **truncation.metadata(),
        }
        if label is not None:
            metadata["class"] = str(label)
        self.inspector.run_task("export", export_work(work, Path(path), 80, metadata))
        self.exporting = Path(path)
        self.export_button.setEnabled(False)  # one at a time; says it is under way
        self.export_button.setText(f"Exporting {frames} frames…")

    def export_finished(self) -> None:
        self.exporting = None
        self.export_button.setEnabled(True)
        self.export_button.setText(EXPORT_TEXT)

    def metadata(self) -> dict[str, str]:
        """What an export of the enlarged sample records: truncation and where the latent is."""
        truncation = self.panel.truncation() if self.info is not None else Truncation()
        data = truncation.metadata()
        if self.active and self.position is not None:
            data["latent"] = self._describe(self.position, self.label, truncation)
        return data
