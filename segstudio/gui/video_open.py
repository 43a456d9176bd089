"""File > Open Video… and `segstudio VIDEO`: extract the frames with a progress dialog, then open them.

`VideoOpener.open_video(path)` reads the video's header (a broken or
unsupported file is reported at once, naming it), asks for the rate (every N-th
frame or F frames a second, with the number of frames it will give), and
extracts the frames on a worker (core.video.extract_frames) into
`<video stem>_frames/` beside the video, with a progress dialog whose Cancel
stops within a frame (the frames written so far stay). The folder then opens
as the project, with the label set of the folder open before (unless it has its
own project file); its names sort as a sequence, so J / Shift+J propagate
masks along it. Opening the same video at the same rate again reuses a
complete extraction. The worker never touches widgets.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QButtonGroup, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QGridLayout,
                               QLabel, QProgressDialog, QRadioButton, QSpinBox, QVBoxLayout)

from segstudio.core.video_files import VIDEO_EXTENSIONS

from .jobs import JobRunner, progress_dialog

VIDEO_PATTERN = f"Videos ({' '.join('*' + e for e in sorted(VIDEO_EXTENSIONS))})"
#: The rate the dialog proposes: about this many frames a second.
DEFAULT_FPS = 5.0


class RateDialog(QDialog):
    """Every N-th frame or F frames a second of a video, with the count it gives."""

    def __init__(self, info, parent=None):
        super().__init__(parent)
        self.info = info
        self.setWindowTitle("Extract frames")
        lay = QVBoxLayout(self)
        secs = f", {info.seconds:.1f} s" if info.seconds else ""
        lay.addWidget(QLabel(f"<b>{info.path.name}</b>: {info.width}×{info.height}, {info.frame_count or '?'} "
                             f"frames at {info.fps:g} fps{secs}"))
        grid = QGridLayout()
        self.by_every, self.by_fps = QRadioButton("Every"), QRadioButton("Frames per second")
        group = QButtonGroup(self)
        group.addButton(self.by_every)
        group.addButton(self.by_fps)
        self.every = QSpinBox(minimum=1, maximum=100000)
        self.every.setSuffix(" th frame")
        self.fps = QDoubleSpinBox(minimum=0.01, maximum=max(1.0, info.fps or 1000.0), decimals=2)
        self.every.setValue(max(1, round(info.fps / DEFAULT_FPS)) if info.fps else 1)
        self.fps.setValue(min(DEFAULT_FPS, info.fps) if info.fps else DEFAULT_FPS)
        self.by_fps.setEnabled(info.fps > 0)
        self.by_every.setChecked(True)
        grid.addWidget(self.by_every, 0, 0)
        grid.addWidget(self.every, 0, 1)
        grid.addWidget(self.by_fps, 1, 0)
        grid.addWidget(self.fps, 1, 1)
        lay.addLayout(grid)
        self.count = QLabel()
        lay.addWidget(self.count)
        from segstudio.core.video import frames_folder

        lay.addWidget(QLabel(f"Into: {frames_folder(info.path)}"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        for sig in (self.every.valueChanged, self.fps.valueChanged, self.by_every.toggled):
            sig.connect(lambda *_: self._update())
        self._update()

    def rate(self) -> tuple[int | None, float | None]:
        """(every, fps) as core.video.extract_frames takes them."""
        return (int(self.every.value()), None) if self.by_every.isChecked() else (None, float(self.fps.value()))

    def _update(self) -> None:
        from segstudio.core.video import frame_step, picked_indices

        every, fps = self.rate()
        n = len(picked_indices(self.info.frame_count, frame_step(self.info, every, fps)))
        self.count.setText(f"{n} frames will be extracted as PNG files" if self.info.frame_count else "")


class VideoOpener(QObject):
    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.runner = JobRunner(self)
        self.dialog: QProgressDialog | None = None
        self.act_open_video = QAction("Open &Video…", win)
        self.act_open_video.setShortcut(QKeySequence("Ctrl+Shift+V"))
        self.act_open_video.setStatusTip("Extract a video's frames into a folder beside it and open them "
                                         "(Ctrl+Shift+V)")
        self.act_open_video.triggered.connect(self.choose_video)
        win.addAction(self.act_open_video)
        image_action = getattr(win, "act_open_image", None)
        menu = next((w for w in (image_action.associatedObjects() if image_action else [])
                     if hasattr(w, "insertAction") and w is not win), None)
        if menu is not None:
            actions = menu.actions()
            i = actions.index(image_action)
            menu.insertAction(actions[i + 1] if i + 1 < len(actions) else None, self.act_open_video)

    def choose_video(self) -> None:
        start = self.win.project.images_dir if self.win.project else Path.home()
        f, _ = QFileDialog.getOpenFileName(self.win, "Open video", str(start), VIDEO_PATTERN)
        if f:
            self.open_video(Path(f))

    def open_video(self, path, labels=None, rate: tuple[int | None, float | None] | None = None) -> bool:
        """Extract and open `path`; `rate` (every, fps) skips the dialog. False if it cannot be read."""
        from segstudio.core.errors import SegstudioError
        from segstudio.core.video import frames_folder, probe_video, reusable_extraction

        path = Path(path)
        try:
            info = probe_video(path)
        except SegstudioError as e:
            self.win.show_error("Cannot open video", str(e))
            return False
        if rate is None:
            d = RateDialog(info, self.win)
            if d.exec() != QDialog.DialogCode.Accepted:
                return False
            rate = d.rate()
        out = frames_folder(path)
        done = reusable_extraction(path, out, *rate)
        if done is not None:
            self.win.statusBar().showMessage(f"{out.name}: the {len(done)} frames were extracted before", 6000)
            return self._open_folder(out, labels)
        if self.runner.running():
            self.win.statusBar().showMessage("Still extracting another video…", 5000)
            return False
        self._start(path, out, rate, labels, info)
        return True

    def _start(self, path: Path, out: Path, rate, labels, info) -> None:
        from segstudio.core.video import extract_frames, picked_indices, frame_step

        n = len(picked_indices(info.frame_count, frame_step(info, *rate))) if info.frame_count else 0
        self.dialog = progress_dialog(self.win, f"Extracting frames of {path.name}…", "Open video", n,
                                      self.runner.cancel, modal=True)
        every, fps = rate
        self.runner.start(
            lambda progress, cancelled: extract_frames(path, out, every=every, fps=fps, progress=progress,
                                                       cancelled=cancelled, info=info),
            on_progress=self._progress,
            on_succeeded=lambda r: self._done(r, labels),
            on_failed=lambda m, _e: (self._close(), self.win.show_error("Cannot extract the video's frames", m)),
            on_cancelled=lambda: (self._close(), self.win.statusBar().showMessage(
                f"Extraction cancelled; the frames written so far are in {out}", 10000)))

    def _progress(self, i: int, n: int) -> None:
        d = self.dialog  # setValue runs the event loop (a modal dialog): the job may end inside it
        if d is not None:
            d.setLabelText(f"Extracting frames: {i} of {n}")
            d.setMaximum(n)
            d.setValue(i)

    def _close(self) -> None:
        if self.dialog is not None:
            self.dialog.close()
            self.dialog = None

    def _done(self, result, labels) -> None:
        self._close()
        if self._open_folder(result.out_dir, labels) and result.warning:
            self.win.problems.append(result.warning)
            self.win.statusBar().showMessage(result.warning, 12000)

    def _open_folder(self, folder: Path, labels) -> bool:
        from segstudio.core.project import PROJECT_FILE

        if labels is None and not (folder / PROJECT_FILE).is_file() and self.win.project is not None:
            labels = self.win.project.labelset  # a new frames folder takes the label set in use
        return self.win.open_path(folder, labels=labels)

    def stop(self) -> None:
        self.runner.stop()
