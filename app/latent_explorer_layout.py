"""How the latent-space explorer is put together: the path's ends, strip and slider, the
enlarged sample's class, class-swap row and nudges, and the keyboard actions. A mixin of
:class:`app.latent_explorer.LatentExplorer`, kept apart so that the explorer's behaviour reads
without its layout in the way."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
)

from app.image_strip import ImageStrip
from app.latent_path_export import EXPORT_TEXT
from app.style import MUTED
from sagan_engine.latent_paths import MAX_SEED, SeedLatent

SLIDER_STEPS = 1000  # positions of the path slider


class LatentExplorerLayout:
    """Builds the explorer's widgets and actions (``self`` is the explorer, a QWidget)."""

    def _build(self) -> None:
        self.seed_a, self.use_a, self.label_a = self._endpoint_widgets("A")
        self.seed_b, self.use_b, self.label_b = self._endpoint_widgets("B")
        self.seed_a.setValue(self.a.seed)  # before the signals are connected: the path's ends
        self.seed_b.setValue(self.b.seed)
        self.frames = QSpinBox()
        self.frames.setRange(2, 16)
        self.frames.setValue(8)
        self.frames.setToolTip("Images in the strip")
        self.linear = QCheckBox("Linear")
        self.linear.setToolTip(
            "A straight line between the latents; unchecked: spherical, which keeps the norm "
            "of Gaussian latents"
        )
        self.strip = ImageStrip("The path between A and B appears here.")
        self.strip.setToolTip("Click a frame to move the enlarged sample there")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setToolTip(
            "Move the enlarged sample along the path from A to B; its query points stay put "
            "and their maps follow"
        )
        self.position_label = QLabel("0%")
        self.position_label.setMinimumWidth(40)
        self.export_frames = QSpinBox()
        self.export_frames.setRange(2, 600)
        self.export_frames.setValue(32)
        self.export_frames.setToolTip("Frames of the exported animation or strip")
        self.export_button = QPushButton(EXPORT_TEXT)
        self.export_button.setToolTip("Save the path as an animated GIF or WebP, or a PNG strip")

        ends = QHBoxLayout()
        for widget in (self.label_a, self.seed_a, self.use_a):
            ends.addWidget(widget)
        ends.addSpacing(12)
        for widget in (self.label_b, self.seed_b, self.use_b):
            ends.addWidget(widget)
        ends.addSpacing(12)
        ends.addWidget(QLabel("Frames"))
        ends.addWidget(self.frames)
        ends.addWidget(self.linear)
        ends.addStretch(1)
        slide = QHBoxLayout()
        slide.addWidget(QLabel("Position"))
        slide.addWidget(self.slider, 1)
        slide.addWidget(self.position_label)
        slide.addWidget(self.export_frames)
        slide.addWidget(self.export_button)
        path_box = QGroupBox("Interpolation")
        path_layout = QVBoxLayout(path_box)
        path_layout.addLayout(ends)
        path_layout.addWidget(self.strip, 1)
        path_layout.addLayout(slide)

        self.class_choice = QComboBox()
        self.class_choice.setToolTip("Render the enlarged sample's latent under this class")
        self.class_strip = ImageStrip("The enlarged sample under every class.")
        self.class_strip.setToolTip("The same latent under every class; click one to enlarge it")
        self.nudge_step = QDoubleSpinBox()
        self.nudge_step.setRange(0.01, 2.0)
        self.nudge_step.setSingleStep(0.05)
        self.nudge_step.setValue(0.15)
        self.nudge_step.setToolTip("How far a nudge moves the latent, as a fraction of |z|")
        self.nudge_button = QPushButton("Nudge")
        self.nudge_button.setToolTip("Move the latent a little along a random direction (Alt+N)")
        self.reset_button = QPushButton("Back to sample")
        self.reset_button.setToolTip("Undo nudges and path moves: the grid sample again")
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.where.setStyleSheet(f"color: {MUTED};")
        nudges = QHBoxLayout()
        nudges.addWidget(QLabel("Step"))
        nudges.addWidget(self.nudge_step)
        nudges.addWidget(self.nudge_button)
        nudges.addWidget(self.reset_button)
        form = QFormLayout()
        self.class_label = QLabel("Class")
        form.addRow(self.class_label, self.class_choice)
        sample_box = QGroupBox("Enlarged sample")
        sample_layout = QVBoxLayout(sample_box)
        sample_layout.addLayout(form)
        sample_layout.addWidget(self.class_strip, 1)
        sample_layout.addLayout(nudges)
        sample_layout.addWidget(self.where)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 4)
        layout.addWidget(path_box, 3)
        layout.addWidget(sample_box, 2)

        self.slider.valueChanged.connect(self._on_slider)
        self.strip.clicked.connect(self._on_strip_click)
        self.frames.valueChanged.connect(lambda _v: self.render_path())
        self.linear.toggled.connect(self._on_path_changed)
        self.seed_a.valueChanged.connect(lambda seed: self.set_endpoint("a", SeedLatent(seed)))
        self.seed_b.valueChanged.connect(lambda seed: self.set_endpoint("b", SeedLatent(seed)))
        self.use_a.clicked.connect(lambda: self.use_enlarged("a"))
        self.use_b.clicked.connect(lambda: self.use_enlarged("b"))
        self.export_button.clicked.connect(self.export_path)
        self.class_choice.currentIndexChanged.connect(self._on_class)
        self.class_strip.clicked.connect(self.class_choice.setCurrentIndex)
        self.nudge_button.clicked.connect(self.nudge)
        self.reset_button.clicked.connect(self.reset)

    def _endpoint_widgets(self, name: str) -> tuple[QSpinBox, QPushButton, QLabel]:
        seed = QSpinBox()
        seed.setRange(0, MAX_SEED)
        seed.setToolTip(f"End {name} of the path: the latent of this seed")
        use = QPushButton("← sample")
        use.setToolTip(f"End {name} of the path: the enlarged grid sample")
        label = QLabel(name)
        label.setStyleSheet("font-weight: 600;")
        return seed, use, label

    def _build_actions(self) -> None:
        def action(text: str, shortcut: str, tip: str, slot) -> QAction:
            item = QAction(text, self)
            item.setShortcut(QKeySequence(shortcut))
            item.setToolTip(f"{tip} ({shortcut})")
            item.setStatusTip(tip)
            item.triggered.connect(slot)
            return item

        self.previous_seed_action = action(
            "Previous seed", "Alt+Left", "Draw from the previous seed", lambda: self.walk(-1)
        )
        self.next_seed_action = action(
            "Next seed", "Alt+Right", "Draw from the next seed", lambda: self.walk(1)
        )
        self.nudge_action = action(
            "Nudge the latent", "Alt+N", "Move the enlarged sample's latent a little", self.nudge
        )
        self.back_action = action(
            "Step back along the path",
            "Alt+Down",
            "Move one frame towards A",
            lambda: self.step(-1),
        )
        self.forward_action = action(
            "Step along the path", "Alt+Up", "Move one frame towards B", lambda: self.step(1)
        )

    @property
    def menu_actions(self) -> list[QAction]:
        return [
            self.previous_seed_action,
            self.next_seed_action,
            self.nudge_action,
            self.back_action,
            self.forward_action,
        ]
