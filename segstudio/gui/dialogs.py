"""The studio's dialogs as a controller: file choosers, recent folders, export / import / evaluate / train.

`DialogsController` gets everything it needs as arguments (the parent
window, the project, the ground-truth folder, the model) and reports back
through signals: `openRequested(path, labels, masks)` when the user chose a
folder, image, label set or masks folder; `masksReplaced()` after an accepted
import; `modelTrained(path)`; `openStem(stem)` when the evaluation asks to
show an image. The big dialogs are imported when their menu action runs, so
the studio starts without loading them (and torch).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QMenu, QWidget

if TYPE_CHECKING:  # core.project (numpy, PIL) loads with the first folder, not at startup
    from segstudio.core.project import Project

MAX_RECENT = 8


class DialogsController(QObject):
    openRequested = Signal(object, object, object)  # path, labels or None, masks or None
    masksReplaced = Signal()
    modelTrained = Signal(object)  # weights path
    openStem = Signal(str)

    def __init__(self, window: QWidget, settings: QSettings, recent_menu: QMenu):
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.recent_menu = recent_menu
        self.open_dialogs: list[QWidget] = []  # non-modal dialogs kept alive
        self.rebuild_recent()

    # --- file choosers ---------------------------------------------------------------
    def choose_folder(self, start: Path | None) -> None:
        d = QFileDialog.getExistingDirectory(self.window, "Open folder", str(start or Path.home()))
        if d:
            self.openRequested.emit(Path(d), None, None)

    def choose_image(self, start: Path | None) -> None:
        from segstudio.core.imageio import IMAGE_EXTENSIONS

        pattern = "Images (" + " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS)) + ")"
        f, _ = QFileDialog.getOpenFileName(self.window, "Open image", str(start or Path.home()), pattern)
        if f:
            self.openRequested.emit(Path(f), None, None)

    def choose_labelset(self, project: Project, reopen: Path) -> None:
        items = ["camvid", "voc", "From file…"]
        choice, ok = QInputDialog.getItem(self.window, "Label set", "Label set of this folder:", items, 0, False)
        if not ok:
            return
        if choice == "From file…":
            choice, _ = QFileDialog.getOpenFileName(self.window, "Label set file", str(project.images_dir),
                                                    "Label sets (*.json *.txt)")
            if not choice:
                return
        self.openRequested.emit(reopen, choice, None)

    def choose_masks_dir(self, project: Project, reopen: Path) -> None:
        d = QFileDialog.getExistingDirectory(self.window, "Masks folder", str(project.masks_dir))
        if d:
            self.openRequested.emit(reopen, None, Path(d))

    def choose_checkpoint(self) -> Path | None:
        f, _ = QFileDialog.getOpenFileName(self.window, "Load checkpoint", str(Path.home()),
                                           "segstudio checkpoints (*.safetensors)")
        return Path(f) if f else None

    def choose_gt_dir(self, start: Path) -> Path | None:
        d = QFileDialog.getExistingDirectory(self.window, "Ground-truth folder", str(start))
        return Path(d) if d else None

    # --- recent folders --------------------------------------------------------------
    def rebuild_recent(self) -> None:
        self.recent_menu.clear()
        recent = [r for r in (self.settings.value("recent", [], list) or []) if r]
        for r in recent:
            a = self.recent_menu.addAction(r)
            a.triggered.connect(lambda _=False, r=r: self.openRequested.emit(Path(r), None, None))
        self.recent_menu.setEnabled(bool(recent))

    def add_recent(self, folder: Path) -> None:
        recent = [r for r in (self.settings.value("recent", [], list) or []) if r and r != str(folder)]
        recent.insert(0, str(folder))
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self.rebuild_recent()

    # --- the big dialogs (the caller saves every mask first) ---------------------------
    def open_export(self, project: Project, fmt: str) -> None:
        from .export_dialog import ExportDialog

        ExportDialog(self.window, project.images_dir, project.masks_dir, project.labelset, fmt).exec()

    def open_import(self, project: Project, kind: str) -> None:
        from .import_dialog import ImportDialog

        dlg = ImportDialog(self.window, project.images_dir, project.masks_dir, project.labelset, kind)
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.masksReplaced.emit()

    def open_eval(self, project: Project, gt_dir: Path | None, model_path: Path | None) -> None:
        from .eval_dialog import EvalDialog

        dlg = EvalDialog(self.window, project.images_dir, project.masks_dir, project.labelset, gt_dir, model_path,
                         self.openStem.emit)
        self.open_dialogs.append(dlg)
        dlg.show()

    def open_train(self, project: Project) -> None:
        from .train_dialog import TrainDialog

        dlg = TrainDialog(self.window, project.images_dir, project.masks_dir, project.labelset,
                          self.modelTrained.emit)
        self.open_dialogs.append(dlg)
        dlg.show()
