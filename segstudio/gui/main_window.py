"""The main window: wires the project, documents, canvas, panels, menus and workers together.

It holds no editing or file-format logic of its own: edits come from
core.labelmap through the canvas, storage from core.project. This module
builds the window and handles opening, navigating, editing and saving; the
Model menu and prediction (window_models), ground truth (window_gt) and the
file choosers and other dialogs (window_dialogs) are mixins in their own
modules.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoGroup
from PySide6.QtWidgets import (
    QApplication, QCheckBox, QComboBox, QDockWidget, QLabel,
    QMainWindow, QMessageBox, QProgressBar, QPushButton, QSlider, QSpinBox, QStyle, QToolBar,
    QVBoxLayout, QWidget,
)

from segstudio.core import labelmap as lm
from segstudio.core.errors import SegstudioError
from segstudio.core.imageio import image_size
from segstudio.core.labels import LabelSet
from segstudio.core.project import ImageState, Project

from .canvas import Canvas, Tool
from .class_panel import ClassPanel
from .document import ImageDocument
from .file_list import FileList
from .image_loader import Prefetcher
from .predict_worker import ModelCache, PredictionRun
from .window_dialogs import DialogsMixin
from .window_gt import GroundTruthMixin
from .window_models import ModelsMixin, _ModelScan


def open_settings() -> QSettings:
    """segstudio's settings (INI format, so tests can redirect them with QSettings.setPath)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "segstudio", "segstudio")



class MainWindow(ModelsMixin, DialogsMixin, GroundTruthMixin, QMainWindow):
    imageOpened = Signal(object)       # Path
    predictionFinished = Signal(bool)  # cancelled?
    modelsReady = Signal()

    def __init__(self, settings: QSettings | None = None, autosave_ms: int = 1500, scan_models: bool = True):
        super().__init__()
        self.settings = settings or open_settings()
        self.project: Project | None = None
        self.docs: dict[Path, ImageDocument] = {}
        self.current: ImageDocument | None = None
        self.undo_group = QUndoGroup(self)
        self.prefetcher = Prefetcher()
        self.model_cache = ModelCache()
        self.models: list[tuple[str, Path]] = []
        self.model_path: Path | None = None
        self.run: PredictionRun | None = None
        self.gt_dir: Path | None = None
        self.save_failures: dict[Path, str] = {}
        self.problems: list[str] = []
        self.last_error: str | None = None
        self._dialogs: list[QWidget] = []
        self._requested_model: str | None = None
        self._closing = False
        self._scan_done = False

        self.canvas = Canvas(self)
        self.setCentralWidget(self.canvas)
        self.autosave_timer = QTimer(self, singleShot=True, interval=autosave_ms)
        self.autosave_timer.timeout.connect(self.autosave)
        self.metrics_timer = QTimer(self, singleShot=True, interval=250)
        self.metrics_timer.timeout.connect(self._update_metrics)
        self.counts_timer = QTimer(self, singleShot=True, interval=100)
        self.counts_timer.timeout.connect(self._update_counts)

        self._build_docks()
        self._build_status_bar()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._connect_canvas()
        self._update_title()
        self._set_models([], None)
        self.resize(1280, 820)
        self.resizeDocks([self.images_dock, self.classes_dock], [210, 250], Qt.Orientation.Horizontal)
        geo = self.settings.value("window/geometry")
        if geo is not None:
            self.restoreGeometry(geo)
        self._scan = _ModelScan(self)
        self._scan.done.connect(self._models_scanned)
        if scan_models:
            self._scan.start()

    # ------------------------------------------------------------------ UI
    def _build_docks(self) -> None:
        self.file_list = FileList()
        self.file_list.imageActivated.connect(self.open_image)
        dock = QDockWidget("Images", self)
        dock.setObjectName("images-dock")
        dock.setWidget(self.file_list)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.images_dock = dock

        self.class_panel = ClassPanel()
        self.class_panel.classSelected.connect(self.set_current_class)
        panel = QWidget()
        lay = QVBoxLayout(panel)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.class_panel)
        prot = QVBoxLayout()
        self.protect_box = QCheckBox("Protect other classes")
        self.protect_box.setToolTip("Brush, polygon and fill only change unlabelled pixels (and the class chosen here)")
        self.protect_combo = QComboBox()
        self.protect_box.toggled.connect(self._update_protect)
        self.protect_combo.currentIndexChanged.connect(self._update_protect)
        prot.addWidget(self.protect_box)
        prot.addWidget(self.protect_combo)
        lay.addLayout(prot)
        dock = QDockWidget("Classes", self)
        dock.setObjectName("classes-dock")
        dock.setWidget(panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.classes_dock = dock

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.pos_label = QLabel()
        self.class_label = QLabel()
        self.zoom_label = QLabel()
        self.metrics_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_prediction)
        for w in (self.metrics_label, self.pos_label, self.class_label, self.zoom_label):
            sb.addPermanentWidget(w)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)

    def _action(self, text, slot=None, shortcut=None, checkable=False, tip=None, icon=None) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                a.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                a.setShortcut(QKeySequence(shortcut))
        a.setCheckable(checkable)
        if tip:
            a.setToolTip(tip)
            a.setStatusTip(tip)
        if shortcut is not None and not isinstance(shortcut, (list, tuple)):
            keys = QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)
            if keys:
                a.setToolTip(f"{tip or text.replace('&', '').rstrip('…')} ({keys})")
        if icon is not None:
            a.setIcon(self.style().standardIcon(icon))
        if slot is not None:
            (a.toggled if checkable else a.triggered).connect(slot)
        self.addAction(a)  # shortcuts work even when the menu bar is hidden
        return a

    def _build_actions(self) -> None:
        SP = QStyle.StandardPixmap
        self.act_open_folder = self._action("Open &Folder…", self.choose_folder, "Ctrl+O", icon=SP.SP_DirOpenIcon)
        self.act_open_image = self._action("Open &Image…", self.choose_image, "Ctrl+Shift+O")
        self.act_save = self._action("&Save", self.save_current, QKeySequence.StandardKey.Save,
                                     icon=SP.SP_DialogSaveButton)
        self.act_labels = self._action("Label Set…", self.choose_labelset,
                                       tip="Choose the label set of this folder (preset or file)")
        self.act_masks = self._action("Masks Folder…", self.choose_masks_dir)
        self.act_quit = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_export_voc = self._action("Pascal VOC…", lambda: self.open_export("voc"))
        self.act_export_coco = self._action("COCO JSON…", lambda: self.open_export("coco"))
        self.act_import = {k: self._action(t, lambda _=False, k=k: self.open_import(k)) for k, t in
                           (("voc", "VOC Folder…"), ("coco", "COCO JSON…"), ("labelme", "labelme JSON…"),
                            ("cvat", "CVAT Masks…"))}

        self.act_undo = self.undo_group.createUndoAction(self, "&Undo")
        self.act_undo.setShortcut(QKeySequence("Ctrl+Z"))
        self.act_redo = self.undo_group.createRedoAction(self, "&Redo")
        self.act_redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.addAction(self.act_undo)
        self.addAction(self.act_redo)

        self.act_prev = self._action("&Previous Image", self.prev_image, "A", icon=SP.SP_ArrowBack)
        self.act_next = self._action("&Next Image", self.next_image, "D", icon=SP.SP_ArrowForward)
        self.act_fit = self._action("&Fit to Window", self.canvas.fit, "Ctrl+F")
        self.act_1to1 = self._action("&Actual Pixels (1:1)", self.canvas.zoom_1to1, "Ctrl+0")
        self.act_zoom_in = self._action("Zoom &In", lambda: self._zoom_step(1), QKeySequence.StandardKey.ZoomIn)
        self.act_zoom_out = self._action("Zoom &Out", lambda: self._zoom_step(-1), QKeySequence.StandardKey.ZoomOut)
        self.act_hide = self._action("&Hide Overlay", lambda on: self.canvas.set_overlay_visible(not on), "H",
                                     checkable=True)
        self.act_outline = self._action("&Outline Only", self.canvas.set_outline_mode, "O", checkable=True)
        self.act_gt_dir = self._action("Ground Truth Folder…", self.choose_gt_dir)
        self.act_show_gt = self._action("Show &Ground Truth", self._toggle_show_gt, "G", checkable=True)
        self.act_disagree = self._action("Highlight &Disagreement", self._toggle_disagreement, "Shift+G",
                                         checkable=True)

        self.tool_group = QActionGroup(self)
        self.tool_actions: dict[Tool, QAction] = {}
        for tool, text, key in ((Tool.BRUSH, "&Brush", "B"), (Tool.ERASER, "&Eraser", "E"),
                                (Tool.POLYGON, "&Polygon", "P"), (Tool.FILL, "&Fill", "F")):
            a = self._action(text, lambda on, t=tool: on and self.set_tool(t), key, checkable=True)
            self.tool_group.addAction(a)
            self.tool_actions[tool] = a
        self.tool_actions[Tool.BRUSH].setChecked(True)
        self.act_smaller = self._action("Smaller Brush", lambda: self._brush_step(-1), "[")
        self.act_larger = self._action("Larger Brush", lambda: self._brush_step(1), "]")
        self.act_eval = self._action("&Evaluate Against Ground Truth…", self.open_eval)
        self.class_actions = [self._action(f"Class {i + 1}", lambda _=False, i=i: self.set_current_class(i),
                                           f"Ctrl+{i + 1}") for i in range(9)]

        self.model_group = QActionGroup(self)
        self.act_load_ckpt = self._action("Load Checkpoint…", self.choose_checkpoint)
        self.act_predict = self._action("Predict &This Image", self.predict_current, "Ctrl+R")
        self.act_predict_all = self._action("Predict All &Unlabelled", self.predict_unlabelled, "Ctrl+Shift+R")
        self.act_fill_only = self._action("Fill Only Unlabelled Pixels", None, checkable=True,
                                          tip="A prediction only fills pixels that are still unlabelled")
        self.act_fill_only.setChecked(self.settings.value("predict/fill_only_unlabelled", False, bool))
        self.act_cancel = self._action("Cancel Prediction", self.cancel_prediction)
        self.act_cancel.setEnabled(False)
        self.act_train = self._action("Train on My Annotations…", self.open_train)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addAction(self.act_open_folder)
        m.addAction(self.act_open_image)
        self.recent_menu = m.addMenu("Open &Recent")
        self._rebuild_recent()
        m.addAction(self.act_save)
        m.addSeparator()
        m.addAction(self.act_labels)
        m.addAction(self.act_masks)
        m.addSeparator()
        e = m.addMenu("&Export")
        e.addAction(self.act_export_voc)
        e.addAction(self.act_export_coco)
        i = m.addMenu("&Import")
        for a in self.act_import.values():
            i.addAction(a)
        m.addSeparator()
        m.addAction(self.act_quit)

        m = mb.addMenu("&Edit")
        m.addAction(self.act_undo)
        m.addAction(self.act_redo)

        m = mb.addMenu("&View")
        for a in (self.act_prev, self.act_next, None, self.act_fit, self.act_1to1, self.act_zoom_in,
                  self.act_zoom_out, None, self.act_hide, self.act_outline, None, self.act_gt_dir,
                  self.act_show_gt, self.act_disagree):
            m.addSeparator() if a is None else m.addAction(a)
        m.addSeparator()
        m.addAction(self.images_dock.toggleViewAction())
        m.addAction(self.classes_dock.toggleViewAction())

        m = mb.addMenu("&Tools")
        for a in self.tool_actions.values():
            m.addAction(a)
        m.addAction(self.act_smaller)
        m.addAction(self.act_larger)
        m.addSeparator()
        m.addAction(self.act_eval)

        self.model_menu = mb.addMenu("&Model")

    def _build_toolbar(self) -> None:
        tb = QToolBar("Tools", self)
        tb.setObjectName("tools-toolbar")
        self.addToolBar(tb)
        tb.addAction(self.act_open_folder)
        tb.addAction(self.act_save)
        tb.addAction(self.act_prev)
        tb.addAction(self.act_next)
        tb.addSeparator()
        for a in self.tool_actions.values():
            tb.addAction(a)
        tb.addWidget(QLabel(" Size "))
        self.size_spin = QSpinBox()
        self.size_spin.setRange(1, 500)
        self.size_spin.setValue(self.settings.value("tools/brush_size", 15, int))
        self.size_spin.setToolTip("Brush size in image pixels ([ and ])")
        self.size_spin.valueChanged.connect(self.canvas.set_brush_size)
        self.canvas.set_brush_size(self.size_spin.value())
        tb.addWidget(self.size_spin)
        tb.addSeparator()
        tb.addWidget(QLabel(" Opacity "))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setMaximumWidth(120)
        self.opacity_slider.valueChanged.connect(lambda v: self.canvas.set_opacity(v / 100))
        self.opacity_slider.setValue(self.settings.value("view/opacity", 50, int))
        self.canvas.set_opacity(self.opacity_slider.value() / 100)
        tb.addWidget(self.opacity_slider)
        tb.addAction(self.act_hide)
        tb.addAction(self.act_outline)
        tb.addSeparator()
        tb.addAction(self.act_predict)
        self.model_combo_label = QLabel()
        tb.addWidget(self.model_combo_label)

    def _connect_canvas(self) -> None:
        c = self.canvas
        c.editFinished.connect(self._edit_finished)
        c.classPicked.connect(self.set_current_class)
        c.cursorMoved.connect(self._cursor_moved)
        c.zoomChanged.connect(lambda s: self.zoom_label.setText(f"{s * 100:.0f}%"))
        c.message.connect(lambda t: self.statusBar().showMessage(t, 4000))
        self.undo_group.cleanChanged.connect(lambda _c: self._update_title())

    # ------------------------------------------------------------- project
    def open_path(self, path: str | Path, labels: str | LabelSet | None = None,
                  masks: str | Path | None = None) -> bool:
        """Open a folder or an image file; returns False (with a message) on failure."""
        try:
            project = Project.open(path, labels=labels, masks=masks)
        except SegstudioError as e:
            self._error("Cannot open", str(e))
            return False
        if not self.save_all():
            self._error("Unsaved masks", "Some masks of the current folder could not be saved; "
                        "fix the problem (see the status bar) before opening another folder.")
            return False
        self._close_project()
        self.project = project
        if project.last_save_error:
            self.problems.append(project.last_save_error)
        ls = project.labelset
        self.canvas.set_labelset(ls)
        self.class_panel.set_labelset(ls)
        self.protect_combo.blockSignals(True)
        self.protect_combo.clear()
        self.protect_combo.addItem("paint over unlabelled only", None)
        for i, n in enumerate(ls.names):
            self.protect_combo.addItem(f"paint over unlabelled and {n}", i)
        self.protect_combo.blockSignals(False)
        self.set_current_class(0)
        self.file_list.set_images(project.images, {p: project.state(p) for p in project.images})
        gt = self.settings.value(f"gt/{project.images_dir}", "", str)
        if gt and Path(gt).is_dir():
            self.gt_dir = Path(gt)
        elif (project.images_dir / "ground-truth").is_dir():
            self.gt_dir = project.images_dir / "ground-truth"
        self._add_recent(project.images_dir)
        self._update_title()
        if not project.images:
            self.statusBar().showMessage(f"{project.images_dir}: no images in this folder", 8000)
            return True
        first = project.start_image if project.start_image in project.images else None
        if first is None:
            last = self.settings.value(f"last_image/{project.images_dir}", "", str)
            first = Path(last) if last and Path(last) in project.images else project.images[0]
        if not self.open_image(first):
            self.next_image()
        return True

    def _close_project(self) -> None:
        self.canvas.clear()
        self.current = None
        for doc in self.docs.values():
            self.undo_group.removeStack(doc.stack)
            doc.deleteLater()
        self.docs.clear()
        self.gt_dir = None
        self.save_failures.clear()

    def _doc(self, path: Path) -> ImageDocument:
        doc = self.docs.get(path)
        if doc is None:
            doc = ImageDocument(self.project, path, self)
            doc.stack.indexChanged.connect(lambda _i, d=doc: self._doc_changed(d))
            doc.changed.connect(lambda bbox, d=doc: self._doc_painted(d, bbox))
            self.undo_group.addStack(doc.stack)
            self.docs[path] = doc
        return doc

    def _leave_current(self) -> bool:
        """Save the current image (if changed) and release its pixels; False if the save failed."""
        doc = self.current
        if doc is None:
            return True
        self.canvas.cancel_interaction()
        ok = self._save_doc(doc)
        if ok:
            doc.unload()
        return ok

    def open_image(self, path: str | Path) -> bool:
        """Switch to an image of the project; False (reported) if it cannot be read.

        The image decodes on the prefetch thread (if it is not prefetched
        already) while this thread saves the previous mask and reads the new one.
        """
        if self.project is None:
            return False
        path = Path(path)
        if self.current is not None and self.current.path == path:
            return True
        self.prefetcher.prefetch(path, urgent=True)
        prev = self.current
        prev_saved = True
        if prev is not None:
            self.canvas.cancel_interaction()
            prev_saved = self._save_doc(prev)
        try:
            size = image_size(path)
        except SegstudioError as e:
            self.prefetcher.forget(path)
            self._report_problem(path, str(e))
            return False
        doc = self._doc(path)
        was_loaded = doc.loaded
        mask_error = None
        if not was_loaded:
            try:
                doc.load(size, self.prefetcher.take_mask(self.project.mask_path(path)))
            except SegstudioError as e:
                mask_error = e
        try:
            pixels = self.prefetcher.get(path)
        except SegstudioError as e:
            if not was_loaded:
                doc.unload()
            self._report_problem(path, str(e))
            return False
        if (pixels.shape[1], pixels.shape[0]) != size and mask_error is None and not was_loaded:
            size = (pixels.shape[1], pixels.shape[0])  # the header and the decoder disagree: trust the pixels
            try:
                doc.load(size)
            except SegstudioError as e:
                mask_error = e
        editable = mask_error is None
        if mask_error is not None:
            self._report_problem(path, f"mask not loaded: {mask_error}", state=self.project.state(path))
            doc.set_labels(self.project.empty_labels(size))
        if prev is not None and prev_saved:
            prev.unload()
        self.current = doc
        doc.read_only = not editable
        self.canvas.editable = editable
        self.canvas.set_image(pixels, doc.labels, keep_view=True)
        del pixels
        self.undo_group.setActiveStack(doc.stack)
        self._load_gt()
        self.file_list.select(path)
        self._refresh_state(path)
        self._update_counts()
        self._update_title()
        self.settings.setValue(f"last_image/{self.project.images_dir}", str(path))
        self._prefetch_neighbours(path)
        self.imageOpened.emit(path)
        return True

    def _prefetch_neighbours(self, path: Path) -> None:
        imgs = self.project.images
        i = imgs.index(path)
        for j in (i + 1, i - 1):
            if 0 <= j < len(imgs):
                self.prefetcher.prefetch(imgs[j])
        for j in (i + 1, i - 1):
            if 0 <= j < len(imgs):
                doc = self.docs.get(imgs[j])
                mask = self.project.mask_path(imgs[j])
                if (doc is None or not doc.loaded) and mask.is_file():
                    self.prefetcher.prefetch_mask(mask)

    def _step_image(self, delta: int) -> None:
        if self.project is None:
            return
        order = self.file_list.visible_paths() or self.project.images
        if not order:
            return
        cur = self.current.path if self.current else None
        i = order.index(cur) if cur in order else (-1 if delta > 0 else len(order))
        j = i + delta
        while 0 <= j < len(order):
            if self.open_image(order[j]):
                return
            j += delta

    def next_image(self) -> None:
        self._step_image(1)

    def prev_image(self) -> None:
        self._step_image(-1)

    # --------------------------------------------------------------- edits
    def _edit_finished(self, diff: lm.Diff, text: str) -> None:
        if self.current is not None:
            self.current.push(diff, text)

    def _doc_changed(self, doc: ImageDocument) -> None:
        if self._closing:
            return
        if doc is not self.current:
            self._refresh_state(doc.path)
            return
        self.autosave_timer.start()
        self.counts_timer.start()
        self.metrics_timer.start()
        self._refresh_state(doc.path)
        self._update_title()

    def _doc_painted(self, doc: ImageDocument, bbox) -> None:
        if doc is self.current and self.canvas.labels is doc.labels:
            self.canvas.refresh(bbox)

    def _update_counts(self) -> None:
        self.class_panel.set_counts(self.current.counts if self.current and self.current.loaded else None)

    def set_current_class(self, index: int) -> None:
        if self.project is not None and index == self.project.labelset.ignore_index:
            self.set_tool(Tool.ERASER)
            return
        if self.project is None or not 0 <= index < self.project.labelset.num_classes:
            return
        self.canvas.current_class = index
        self.class_panel.select_class(index)
        if self.canvas.tool == Tool.ERASER:
            self.tool_actions[Tool.BRUSH].setChecked(True)

    def set_tool(self, tool: Tool) -> None:
        self.canvas.set_tool(tool)
        if not self.tool_actions[tool].isChecked():
            self.tool_actions[tool].setChecked(True)

    def _brush_step(self, direction: int) -> None:
        v = self.size_spin.value()
        step = max(1, round(v * 0.15))
        self.size_spin.setValue(max(1, v + direction * step))

    def _zoom_step(self, direction: int) -> None:
        c = self.canvas
        c.zoom_to(c.scale * (1.25 ** direction), c.rect().center().toPointF())

    def _update_protect(self) -> None:
        if self.project is None:
            return
        if not self.protect_box.isChecked():
            self.canvas.only_over = None
        else:
            extra = self.protect_combo.currentData()
            ig = self.project.labelset.ignore_index
            self.canvas.only_over = (ig,) if extra is None else (ig, int(extra))

    # ---------------------------------------------------------------- saving
    def _save_doc(self, doc: ImageDocument) -> bool:
        if not doc.dirty or not doc.loaded:
            return doc.path not in self.save_failures
        if doc.read_only:
            return True
        try:
            path = doc.save()
        except (OSError, SegstudioError) as e:
            msg = f"{self.project.mask_path(doc.path)}: cannot save ({getattr(e, 'strerror', None) or e})"
            if doc.path not in self.save_failures:  # say it once per image, then in the status bar
                self._error("Cannot save mask", msg + "\n\nThe edits are kept in memory; saving is retried "
                            "after the next edit and when you close.")
            self.save_failures[doc.path] = msg
            self.statusBar().showMessage(msg, 10000)
            self.problems.append(msg)
            self._update_title()
            return False
        self.save_failures.pop(doc.path, None)
        self._refresh_state(doc.path)
        self._update_title()
        self.statusBar().showMessage(f"Saved {path.name}", 2000)
        return True

    def autosave(self) -> None:
        if self.canvas.is_busy():
            self.autosave_timer.start()
            return
        if self.current is not None:
            self._save_doc(self.current)

    def save_current(self) -> bool:
        self.canvas.cancel_interaction()
        return self._save_doc(self.current) if self.current is not None else True

    def save_all(self) -> bool:
        self.canvas.cancel_interaction()
        ok = True
        for doc in list(self.docs.values()):
            ok = self._save_doc(doc) and ok
        return ok

    def _refresh_state(self, path: Path) -> None:
        if self.project is None:
            return
        doc = self.docs.get(path)
        state = doc.state() if doc is not None else self.project.state(path)
        prev = self.file_list.state(path)
        if prev is None and path in self._unreadable():
            return
        self.file_list.set_state(path, state, self.save_failures.get(path))

    def _unreadable(self) -> set[Path]:
        return getattr(self, "_bad_images", set())

    def _update_title(self) -> None:
        name = "segstudio"
        if self.current is not None:
            name = f"{self.current.path.name} [*] — {self.project.images_dir.name} — segstudio"
        elif self.project is not None:
            name = f"{self.project.images_dir.name} [*] — segstudio"
        self.setWindowTitle(name)
        dirty = (self.current is not None and self.current.dirty) or bool(self.save_failures)
        self.setWindowModified(dirty)

    def closeEvent(self, event) -> None:
        if self.run is not None:
            self.run.wait(10000)
        ok = self.save_all()
        if not ok:
            text = "These masks could not be saved:\n\n" + "\n".join(self.save_failures.values())
            ans = QMessageBox.question(self, "Unsaved masks", text + "\n\nClose anyway and lose these changes?",
                                       QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                       QMessageBox.StandardButton.No)
            if ans != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("view/opacity", self.opacity_slider.value())
        self.settings.setValue("tools/brush_size", self.size_spin.value())
        self.settings.setValue("predict/fill_only_unlabelled", self.act_fill_only.isChecked())
        self.settings.sync()
        self.prefetcher.shutdown()
        self._closing = True
        event.accept()

    # --------------------------------------------------------------- problems
    def _report_problem(self, path: Path, message: str, state: ImageState | None = None) -> None:
        if state is None:
            bad = self._unreadable()
            bad.add(path)
            self._bad_images = bad
        self.file_list.set_state(path, state, message)
        self.problems.append(message)
        self.statusBar().showMessage(message, 10000)

    def _error(self, title: str, text: str) -> None:
        """Show an error without blocking (tests read `last_error`)."""
        self.last_error = text
        self.problems.append(text)
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.show()
        self._last_box = box

    # ------------------------------------------------------------ status bar
    def _cursor_moved(self, info) -> None:
        if info is None or self.project is None:
            self.pos_label.setText("")
            self.class_label.setText("")
            return
        x, y, v = info
        ls = self.project.labelset
        self.pos_label.setText(f"x {x}  y {y}")
        if v == ls.ignore_index:
            name = "unlabelled"
        elif v < ls.num_classes:
            name = ls.names[v]
        else:
            name = f"invalid value {v}"
        self.class_label.setText(("GT: " if self.canvas.show_gt and self.canvas.gt is not None else "") + name)

def process_events_until(predicate, timeout_s: float = 10.0) -> bool:
    """Spin the event loop until predicate() (used by scripts and the benchmark)."""
    import time

    end = time.monotonic() + timeout_s
    app = QApplication.instance()
    while time.monotonic() < end:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()
