"""Choosing the training data: the bundled demo set or a folder (chooser, typed path or a folder
dropped on the window), and a summary of what the folder holds, found by a background scan
that shows progress and can be cancelled."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.data_loader_worker import FolderSummary, summarise_folder
from app.jobs import Job, JobRunner
from app.style import ERROR, MUTED
from sagan_engine.imaging import make_grid

MAX_SKIPS_LISTED = 500
# data.cache: where the decoded images live while training (sagan_engine.training_data).
CACHE_MODES = (
    ("auto", "Decoded images: auto (in memory when they fit)"),
    ("memory", "Decoded images: in memory"),
    ("disk", "Decoded images: disk cache (memory-mapped)"),
)


def pixmap_of(image: np.ndarray) -> QPixmap:
    """A QPixmap of a uint8 (H, W, 3) array (copied, so the array may go)."""
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    qimage = QImage(image.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(qimage.copy())


class DataPanel(QGroupBox):
    """Emits ``source_changed`` with a folder path, or None for the demo set."""

    source_changed = Signal(object)
    summary_ready = Signal(object)  # FolderSummary
    summary_changed = Signal()  # ``summary`` was replaced or cleared (a scan began)
    scan_failed = Signal(str)

    def __init__(self, jobs: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__("Data", parent)
        self._jobs = jobs
        self._scan: Job | None = None
        self.summary: FolderSummary | None = None
        self._source: str | None = ""  # the source last announced ("" = none yet)
        self._summary_html = ""

        self.demo_choice = QRadioButton("Bundled demo set (emoji)")
        self.demo_choice.setToolTip(
            "462 emoji in 8 classes (clocks, faces, flags, fruit, shapes, hands, hearts, mammals), "
            "bundled with SAGAN Studio"
        )
        self.folder_choice = QRadioButton("Image folder")
        self.folder_choice.setToolTip(
            "Any folder of images, searched recursively. Images in two or more sub-folders "
            "make a class-conditional model, one class per sub-folder."
        )
        group = QButtonGroup(self)
        group.addButton(self.demo_choice)
        group.addButton(self.folder_choice)
        self.demo_choice.setChecked(True)
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("a folder of images, or drop one on the window")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.setToolTip("Choose a folder of images")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.path_edit, 1)
        folder_row.addWidget(self.browse_button)

        self.classes_check = QCheckBox("Class labels from sub-folders (auto)")
        self.classes_check.setChecked(True)
        self.classes_check.setToolTip(
            "On: when two or more sub-folders hold every image, each sub-folder is a class "
            "(a class-conditional model). Off: one unconditional model, whatever the folders "
            "(e.g. icon themes sorted by size)."
        )

        self.cache_choice = QComboBox()
        for mode, text in CACHE_MODES:
            self.cache_choice.addItem(text, mode)
        self.cache_choice.setToolTip(
            "Memory: every decoded image in RAM (fast for small folders). Disk cache: decoded "
            "once into memory-mapped files under the user cache folder (a folder larger than "
            "memory trains; a stopped build continues). Auto: memory below 2 GB decoded or a "
            "quarter of the RAM, the disk cache above."
        )

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop scanning the folder")
        scan_row = QHBoxLayout()
        scan_row.addWidget(self.progress, 1)
        scan_row.addWidget(self.cancel_button)
        self.scan_row = QWidget()
        self.scan_row.setLayout(scan_row)
        scan_row.setContentsMargins(0, 0, 0, 0)
        self.scan_row.setVisible(False)

        self.summary_label = QLabel("")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.thumbnails = QLabel()
        self.thumbnails.setAlignment(Qt.AlignmentFlag.AlignLeft)
        self.skipped_list = QListWidget()
        self.skipped_list.setMaximumHeight(90)
        self.skipped_list.setToolTip("Files left out, and why")
        self.skipped_list.setVisible(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self.demo_choice)
        layout.addWidget(self.folder_choice)
        layout.addLayout(folder_row)
        layout.addWidget(self.classes_check)
        layout.addWidget(self.cache_choice)
        layout.addWidget(self.scan_row)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.thumbnails)
        layout.addWidget(self.skipped_list)

        self.demo_choice.toggled.connect(self._on_choice)
        self.browse_button.clicked.connect(self.browse)
        self.path_edit.editingFinished.connect(self._on_path_edited)
        self.cancel_button.clicked.connect(self.cancel_scan)
        self.classes_check.toggled.connect(self._on_classes_toggled)

    # ------------------------------------------------------------------ the source
    @property
    def folder(self) -> str | None:
        """The chosen folder, or None for the demo set."""
        if self.demo_choice.isChecked():
            return None
        return self.path_edit.text().strip()

    @property
    def classes(self) -> str:
        """The data.classes setting shown: "auto" or "none"."""
        return "auto" if self.classes_check.isChecked() else "none"

    def set_classes(self, mode: str) -> None:
        self.classes_check.setChecked(mode != "none")  # a change rescans

    @property
    def cache_mode(self) -> str:
        """The data.cache setting shown: "auto", "memory" or "disk"."""
        return self.cache_choice.currentData()

    def set_cache_mode(self, mode: str) -> None:
        index = self.cache_choice.findData(mode)
        self.cache_choice.setCurrentIndex(max(index, 0))

    def _on_classes_toggled(self, _checked: bool) -> None:
        if self._source != "":
            self.scan(self._source)

    def use_demo(self) -> None:
        if not self.demo_choice.isChecked():
            self.demo_choice.setChecked(True)  # _on_choice rescans
        else:
            self._source_changed()

    def set_folder(self, path: str | Path) -> None:
        self.path_edit.setText(str(path))
        if not self.folder_choice.isChecked():
            self.folder_choice.setChecked(True)
        else:
            self._source_changed()

    def browse(self) -> None:
        start = self.path_edit.text() or str(Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Choose a folder of images", start)
        if chosen:
            self.set_folder(chosen)

    def _on_choice(self, _checked: bool) -> None:
        self._source_changed()

    def _on_path_edited(self) -> None:
        text = self.path_edit.text().strip()
        if text and (self.demo_choice.isChecked() or text != self._source):
            self.set_folder(text)

    def _source_changed(self) -> None:
        folder = self.folder
        self._source = folder
        self._set_summary(None)  # before source_changed: listeners read the new folder's
        if folder == "":
            self._show_message("Choose a folder of images (Browse…, or drop it on the window).")
            return
        self.source_changed.emit(folder)
        self.scan(folder)

    # ------------------------------------------------------------------ scanning
    def scan(self, folder: str | None) -> None:
        self.cancel_scan()
        self._set_summary(None)
        self.scan_row.setVisible(True)
        self._show_message("Scanning…")
        classes = self.classes
        job = self._jobs.start(
            lambda job: summarise_folder(folder, job.should_stop, job.report, classes), "scan"
        )
        self._scan = job
        # A scan job reports (images found, folders scanned): no total until it ends.
        job.progress.connect(lambda found, folders: self._on_scan_progress(job, found, folders))
        job.succeeded.connect(lambda summary: self._on_summary(job, summary))
        job.failed.connect(lambda message, _details: self._on_failed(job, message))
        job.cancelled.connect(lambda: self._on_cancelled(job))

    def _on_scan_progress(self, job: Job, found: int, folders: int) -> None:
        if job is self._scan:
            self._show_message(
                f"Scanning… {found:,} image file{'s' if found != 1 else ''} found "
                f"in {folders:,} folder{'s' if folders != 1 else ''}"
            )

    @property
    def nothing_usable(self) -> bool:
        """True when every file of the folder was tried and none can be decoded."""
        return self.summary is not None and self.summary.unusable

    def cancel_scan(self) -> None:
        if self._scan is not None:
            self._scan.cancel()

    @property
    def scanning(self) -> bool:
        return self._scan is not None

    def _finish(self, job: Job) -> bool:
        if job is not self._scan:
            return False  # an older scan, replaced by a newer one
        self._scan = None
        self.scan_row.setVisible(False)
        return True

    def _on_cancelled(self, job: Job) -> None:
        if self._finish(job):
            self._show_message("Scan cancelled.")

    def _on_failed(self, job: Job, message: str) -> None:
        if self._finish(job):
            self._show_message(message, error=True)
            self.scan_failed.emit(message)

    def _on_summary(self, job: Job, summary: FolderSummary) -> None:
        if not self._finish(job):
            return
        self._set_summary(summary)
        self.show_summary(summary)
        self.summary_ready.emit(summary)

    def _set_summary(self, summary: FolderSummary | None) -> None:
        self.summary = summary
        self.summary_changed.emit()

    # ------------------------------------------------------------------ showing
    def _show_message(self, text: str, error: bool = False) -> None:
        colour = ERROR if error else MUTED
        self._summary_html = f'<span style="color:{colour}">{html.escape(text)}</span>'
        self.summary_label.setText(self._summary_html)
        self.thumbnails.clear()
        self.skipped_list.clear()
        self.skipped_list.setVisible(False)

    def show_summary(self, summary: FolderSummary) -> None:
        noun = "image file" if summary.files == 1 else "image files"
        lines = [f"<b>{summary.files}</b> {noun}"]
        if summary.cache_resolution:  # trains at this resolution only, from the disk
            r = summary.cache_resolution
            lines = [f"<b>{summary.files}</b> images in a decoded cache at {r}×{r}"]
        if summary.class_names:
            classes = ", ".join(
                f"{html.escape(name)} ({count})"
                for name, count in zip(summary.class_names, summary.class_counts, strict=True)
            )
            lines.append(
                f"<b>{len(summary.class_names)}</b> classes → a class-conditional model: {classes}"
            )
        else:
            lines.append("an unconditional model")
        if summary.class_reason:
            lines.append(f'<span style="color:{MUTED}">{html.escape(summary.class_reason)}</span>')
        lines.append(f"{len(summary.skipped)} skipped" if summary.skipped else "nothing skipped")
        if summary.unusable:
            lines.append(
                f'<span style="color:{ERROR}">none of these files can be decoded: '
                "see the reasons below</span>"
            )
        self._summary_html = "<br>".join(lines)
        self.summary_label.setText(self._summary_html)
        if len(summary.thumbnails):
            strip = make_grid(summary.thumbnails, columns=6, padding=2, background=43)
            self.thumbnails.setPixmap(pixmap_of(strip))
        else:
            self.thumbnails.clear()
        self.show_skipped(summary.skipped)

    def show_skipped(self, skipped) -> None:
        self.skipped_list.clear()
        for skip in list(skipped)[:MAX_SKIPS_LISTED]:
            self.skipped_list.addItem(f"{skip.path} — {skip.reason}")
        if len(skipped) > MAX_SKIPS_LISTED:
            self.skipped_list.addItem(f"… and {len(skipped) - MAX_SKIPS_LISTED} more")
        self.skipped_list.setVisible(bool(skipped))

    def show_loaded(self, images: int, skipped, disk_cache: str | None = None) -> None:
        """After training loaded the data: how many images it really uses, and from where."""
        note = f"training uses {images} images" + (f", {len(skipped)} skipped" if skipped else "")
        if disk_cache is not None:
            note += f" from the disk cache {html.escape(disk_cache)}"
        self.summary_label.setText(
            f'{self._summary_html}<br><span style="color:{MUTED}">{note}</span>'
        )
        self.show_skipped(skipped)
