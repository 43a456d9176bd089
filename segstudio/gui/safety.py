"""The studio's warnings that must not be missed, and what it does about each fault.

- A folder held by another studio (core/folder_lock.py): a banner says who
  holds it; the project is read-only, so nothing is saved over their work.
- Autosave failing (read-only masks folder, full disk): a banner says why,
  the edits stay in memory, saving is retried on a growing delay
  (core/autosave.SaveRetry) and with "Retry now"; the banner goes when every
  mask is saved. Masks are written atomically, so no file is truncated.
- A mask changed on disk by another program since it was loaded: instead of
  saving over it, the user chooses Reload (theirs), Keep mine (overwrite) or
  Save a copy (mine beside theirs, as <stem>.mine-N.png, then theirs shown).
- An image deleted or renamed while the folder is open: reported on the
  image's row and in the status bar; its mask is kept.
- A damaged project file recovered on opening: said once.

Qt lives here; the decisions (lock, retry policy, change detection) are core's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QMessageBox, QPushButton, QToolBar, QWidget

from segstudio.core.autosave import SaveRetry
from segstudio.core.errors import SegstudioError
from segstudio.core.states import ImageState

if TYPE_CHECKING:  # core.document and core.project (numpy, PIL, OpenCV) load with the first folder
    from segstudio.core.document import Document

WARN_STYLE = "QLabel { background: #fff3cd; color: #5c4400; padding: 4px 8px; border-radius: 3px; }"


class SafetyController(QObject):
    def __init__(self, win, watch_ms: int = 3000):
        super().__init__(win)
        self.win = win
        self.retry = SaveRetry()
        self._project = None
        self.vanished: set[Path] = set()
        self.conflict_box: QMessageBox | None = None
        self.bar = QToolBar("Warnings", win)
        self.bar.setObjectName("warnings-bar")
        self.bar.setMovable(False)
        box = QWidget()
        lay = QHBoxLayout(box)
        lay.setContentsMargins(2, 2, 2, 2)
        self.readonly_label, self.save_label = QLabel(), QLabel()
        for label in (self.readonly_label, self.save_label):
            label.setStyleSheet(WARN_STYLE)
            label.setWordWrap(True)
            label.hide()
            lay.addWidget(label, 1)
        self.retry_button = QPushButton("Retry now")
        self.retry_button.clicked.connect(self.retry_now)
        self.retry_button.hide()
        lay.addWidget(self.retry_button)
        self.bar.addWidget(box)
        win.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        win.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.bar)
        self.bar.hide()
        self.retry_timer = QTimer(self, singleShot=True)
        self.retry_timer.timeout.connect(self.retry_now)
        self.watch_timer = QTimer(self, interval=watch_ms)
        self.watch_timer.timeout.connect(self.check_files)
        self.watch_timer.start()
        win.imageOpened.connect(self.sync_project)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.release)

    # --- the open folder -------------------------------------------------------
    def sync_project(self, _path=None) -> None:
        """Follow the window's project: release the old lock, listen to saves, say what must be said."""
        project, session = self.win.project, self.win.session
        if session is not None and self.save_result not in session.save_listeners:
            session.save_listeners.append(self.save_result)
        if project is self._project:
            return
        if self._project is not None:
            self._project.release_lock()
        self._project, self.retry, self.vanished = project, SaveRetry(), set()
        self.retry_timer.stop()
        if project is not None and project.notice:
            self.win.show_error("Project file recovered", project.notice)
            project.notice = None
        self.refresh()

    def release(self) -> None:
        if self._project is not None:
            self._project.release_lock()

    def refresh(self) -> None:
        """Show or hide the banners for the current state."""
        p = self._project
        ro = p.read_only_reason if p is not None else None
        save = self.retry.message(p.masks_dir) if p is not None else ""
        self.readonly_label.setText(ro or "")
        self.readonly_label.setVisible(bool(ro))
        self.save_label.setText(save)
        self.save_label.setVisible(bool(save))
        self.retry_button.setVisible(bool(save))
        self.bar.setVisible(bool(ro or save))

    # --- saving ------------------------------------------------------------------
    def save_result(self, path: Path, error: Exception | None) -> None:
        """Called by the session after every save attempt."""
        if error is None:
            self.retry.saved(path)
        elif isinstance(error, OSError):
            self.retry_timer.start(int(1000 * self.retry.failed(path, error)))
        self.refresh()

    def retry_now(self) -> None:
        win = self.win
        for doc in list(win.docs or []):
            if doc.path in self.retry.pending:
                win.save_doc(doc)
        win.update_title()

    # --- a mask changed by another program --------------------------------------
    def conflict(self, doc: Document, error: Exception) -> bool:
        """Ask what to do with a mask changed on disk; False if `error` is not that."""
        from segstudio.core.project import MaskChangedOnDisk

        if not isinstance(error, MaskChangedOnDisk):
            return False
        if self.conflict_box is not None:
            return True
        box = QMessageBox(QMessageBox.Icon.Warning, "Mask changed on disk",
                          f"{error.path.name} was changed by another program since you opened it.\n\n"
                          "Reload: show the file's version (your edits can be undone back).\n"
                          "Keep mine: save your version over it.\n"
                          "Save a copy: write your version beside it, then show the file's version.",
                          QMessageBox.StandardButton.NoButton, self.win)
        buttons = {box.addButton(text, QMessageBox.ButtonRole.ActionRole): what
                   for text, what in (("Reload", "reload"), ("Keep mine", "keep"), ("Save a copy", "copy"))}
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.buttonClicked.connect(lambda b: self.resolve(doc, buttons.get(b)))
        box.finished.connect(lambda _r: setattr(self, "conflict_box", None))
        self.conflict_box = box
        box.show()
        return True

    def resolve(self, doc: Document, what: str | None) -> None:
        """Carry out the user's choice for a mask changed on disk: reload, keep or copy."""
        win, project = self.win, self.win.project
        if what is None or project is None or not doc.loaded:
            return
        try:
            if what == "keep":
                project.save_mask(doc.path, doc.labels, ImageState.SAVED, force=True)
                doc.mark_clean()
            else:
                if what == "copy":
                    copy = project.save_mask_copy(doc.path, doc.labels)
                    win.statusBar().showMessage(f"Your version saved as {copy.name}", 8000)
                theirs = project.load_mask(doc.path, (doc.labels.shape[1], doc.labels.shape[0]))
                if theirs is None:
                    theirs = project.empty_labels((doc.labels.shape[1], doc.labels.shape[0]))
                doc.apply_prediction(theirs)
                doc.origin = ImageState.SAVED
                doc.mark_clean()
        except (OSError, SegstudioError) as e:
            win.show_error("Cannot resolve the change", str(e))
            return
        win.session.save_failures.pop(doc.path, None)
        win.refresh_state(doc.path)
        win.update_title()

    # --- images deleted or renamed -----------------------------------------------
    def check_files(self) -> None:
        project = self.win.project
        if project is None:
            return
        for path in project.vanished_images():
            if path in self.vanished:
                continue
            self.vanished.add(path)
            mask = project.mask_path(path)
            kept = f"its mask {mask.name} is kept" if mask.exists() else "it had no mask yet"
            if self.win.current is not None and self.win.current.path == path and self.win.current.dirty:
                kept = f"your edits are saved to {mask.name}"
                self.win.save_doc(self.win.current)
            self.win.report_problem(path, f"{path.name} was deleted or renamed by another program; {kept}",
                                     project.state(path))
