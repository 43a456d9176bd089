"""Main-window part: file choosers, recent folders, and the other dialogs of the studio.

The export / import / evaluation / training dialogs live in their own modules
and are imported only when their menu action runs; a missing one is reported
as "not available". All masks are saved before any of them opens, and masks
are re-read after an accepted import. Mixed into MainWindow.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog

from segstudio.core.imageio import IMAGE_EXTENSIONS

MAX_RECENT = 8


class DialogsMixin:
    # ----------------------------------------------------------- file dialogs
    def choose_folder(self) -> None:
        start = str(self.project.images_dir) if self.project else str(Path.home())
        d = QFileDialog.getExistingDirectory(self, "Open folder", start)
        if d:
            self.open_path(d)

    def choose_image(self) -> None:
        start = str(self.project.images_dir) if self.project else str(Path.home())
        pattern = "Images (" + " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS)) + ")"
        f, _ = QFileDialog.getOpenFileName(self, "Open image", start, pattern)
        if f:
            self.open_path(f)

    def choose_labelset(self) -> None:
        if self.project is None:
            return
        items = ["camvid", "voc", "From file…"]
        choice, ok = QInputDialog.getItem(self, "Label set", "Label set of this folder:", items, 0, False)
        if not ok:
            return
        if choice == "From file…":
            f, _ = QFileDialog.getOpenFileName(self, "Label set file", str(self.project.images_dir),
                                               "Label sets (*.json *.txt)")
            if not f:
                return
            choice = f
        self.open_path(self.current.path if self.current else self.project.images_dir, labels=choice)

    def choose_masks_dir(self) -> None:
        if self.project is None:
            return
        d = QFileDialog.getExistingDirectory(self, "Masks folder", str(self.project.masks_dir))
        if d:
            self.open_path(self.current.path if self.current else self.project.images_dir, masks=d)

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        recent = [r for r in (self.settings.value("recent", [], list) or []) if r]
        for r in recent:
            a = self.recent_menu.addAction(r)
            a.triggered.connect(lambda _=False, r=r: self.open_path(r))
        self.recent_menu.setEnabled(bool(recent))

    def _add_recent(self, folder: Path) -> None:
        recent = [r for r in (self.settings.value("recent", [], list) or []) if r and r != str(folder)]
        recent.insert(0, str(folder))
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self._rebuild_recent()


    # -------------------------------------------------------- other helpers' dialogs
    def _require_project(self) -> bool:
        if self.project is None:
            self._error("No folder", "Open a folder first.")
            return False
        return True

    def _import_dialog(self, module: str, cls: str):
        try:
            return getattr(importlib.import_module(f"segstudio.gui.{module}"), cls)
        except (ImportError, AttributeError) as e:
            self._error("Not available", f"{cls} is not available in this build ({e}).")
            return None

    def open_export(self, fmt: str) -> None:
        if not self._require_project():
            return
        Dialog = self._import_dialog("export_dialog", "ExportDialog")
        if Dialog is None:
            return
        self.save_all()
        p = self.project
        Dialog(self, p.images_dir, p.masks_dir, p.labelset, fmt).exec()

    def open_import(self, kind: str) -> None:
        if not self._require_project():
            return
        Dialog = self._import_dialog("import_dialog", "ImportDialog")
        if Dialog is None:
            return
        self.save_all()
        p = self.project
        if Dialog(self, p.images_dir, p.masks_dir, p.labelset, kind).exec() == QDialog.DialogCode.Accepted:
            self.reload_masks()

    def reload_masks(self) -> None:
        """Re-read every mask from disk (after an import); histories are dropped."""
        if self.project is None:
            return
        cur = self.current.path if self.current else None
        for doc in self.docs.values():
            self.undo_group.removeStack(doc.stack)
            doc.deleteLater()
        self.docs.clear()
        self.current = None
        self.project.rescan()
        self.file_list.set_images(self.project.images, {q: self.project.state(q) for q in self.project.images})
        if cur is not None and cur in self.project.images:
            self.open_image(cur)

    def open_eval(self) -> None:
        if not self._require_project():
            return
        Dialog = self._import_dialog("eval_dialog", "EvalDialog")
        if Dialog is None:
            return
        self.save_all()
        p = self.project
        dlg = Dialog(self, p.images_dir, p.masks_dir, p.labelset, self.gt_dir, self.model_path,
                     lambda stem: self.open_stem(stem))
        self._dialogs.append(dlg)
        dlg.show()

    def open_train(self) -> None:
        if not self._require_project():
            return
        Dialog = self._import_dialog("train_dialog", "TrainDialog")
        if Dialog is None:
            return
        self.save_all()
        p = self.project
        dlg = Dialog(self, p.images_dir, p.masks_dir, p.labelset, self._model_trained)
        self._dialogs.append(dlg)
        dlg.show()

    def _model_trained(self, path: Path) -> None:
        self.select_model(Path(path))
        self.statusBar().showMessage(f"New model {Path(path).stem} selected", 6000)

    def open_stem(self, stem: str) -> None:
        if self.project is None:
            return
        for p in self.project.images:
            if p.stem == stem:
                self.open_image(p)
                return
