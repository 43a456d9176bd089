"""Building the main window's widgets: docks, status bar, actions, menus and the tool bar.

Only construction lives here; what the actions do is `MainWindow`'s (and its
controllers') business. Every action is added to the window too, so its
shortcut works even when the menu bar is hidden.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDockWidget, QLabel, QSlider, QSpinBox, QStyle, QToolBar,
                               QVBoxLayout, QWidget)

from .canvas import Tool
from .class_panel import ClassPanel
from .file_list import FileList
from .learning_loop import LearningLoop
from .model_menu import ModelMenu, ScaleMenu, TtaMenu
from .safety import SafetyController
from .status_bar import StatusBar
from .tools import ToolState


def build_ui(win) -> None:
    """Create the window's widgets and actions (attributes of `win`)."""
    build_docks(win)
    build_status_bar(win)
    build_actions(win)
    build_menus(win)
    build_toolbar(win)
    win.tools = ToolState(win.canvas, win.class_panel, win.tool_actions, win.size_spin, win.protect_box,
                          win.protect_combo)
    win.safety = SafetyController(win)  # warning banners: read-only folder, failing autosave
    win.scale_menu = ScaleMenu(win.model_menu, win.prediction, win.settings)
    win.tta_menu = TtaMenu(win.model_menu, win.prediction, win.settings)
    win.model_menu_view = ModelMenu(win.model_menu, win.prediction, load=win.act_load_ckpt, predict=win.act_predict,
                                    predict_all=win.act_predict_all, fill_only=win.act_fill_only,
                                    cancel=win.act_cancel, train=win.act_train, label=win.model_combo_label,
                                    submenus=(win.scale_menu, win.tta_menu))
    win.learning = LearningLoop(win)  # Model > Learn As I Annotate, its status-bar line


def build_docks(win) -> None:
    win.file_list = FileList()
    win.file_list.imageActivated.connect(win.open_image)
    dock = QDockWidget("Images", win)
    dock.setObjectName("images-dock")
    dock.setWidget(win.file_list)
    win.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    win.images_dock = dock

    win.class_panel = ClassPanel()
    win.class_panel.classSelected.connect(lambda i: win.tools.set_current_class(i))
    panel = QWidget()
    lay = QVBoxLayout(panel)
    lay.setContentsMargins(2, 2, 2, 2)
    lay.addWidget(win.class_panel)
    prot = QVBoxLayout()
    win.protect_box = QCheckBox("Protect other classes")
    win.protect_box.setToolTip("Brush, polygon and fill only change unlabelled pixels (and the class chosen here)")
    win.protect_combo = QComboBox()
    prot.addWidget(win.protect_box)
    prot.addWidget(win.protect_combo)
    lay.addLayout(prot)
    dock = QDockWidget("Classes", win)
    dock.setObjectName("classes-dock")
    dock.setWidget(panel)
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    win.classes_dock = dock

def build_status_bar(win) -> None:
    win.status = StatusBar(win.statusBar())
    win.metrics_label, win.cancel_button = win.status.metrics_label, win.status.cancel_button
    win.cancel_button.clicked.connect(win.cancel_prediction)


def action(win, text, slot=None, shortcut=None, checkable=False, tip=None, icon=None) -> QAction:
    a = QAction(text, win)
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
        a.setIcon(win.style().standardIcon(icon))
    if slot is not None:
        (a.toggled if checkable else a.triggered).connect(slot)
    win.addAction(a)  # shortcuts work even when the menu bar is hidden
    return a

def build_actions(win) -> None:
    SP = QStyle.StandardPixmap
    win.act_open_folder = action(win, "Open &Folder…", win.choose_folder, "Ctrl+O", icon=SP.SP_DirOpenIcon)
    win.act_open_image = action(win, "Open &Image…", win.choose_image, "Ctrl+Shift+O")
    win.act_save = action(win, "&Save", win.save_current, QKeySequence.StandardKey.Save,
                                 icon=SP.SP_DialogSaveButton)
    win.act_labels = action(win, "Label Set…", win.choose_labelset,
                                   tip="Choose the label set of this folder (preset or file)")
    win.act_masks = action(win, "Masks Folder…", win.choose_masks_dir)
    win.act_quit = action(win, "&Quit", win.close, QKeySequence.StandardKey.Quit)
    win.act_export_voc = action(win, "Pascal VOC…", lambda: win.open_export("voc"))
    win.act_export_coco = action(win, "COCO JSON…", lambda: win.open_export("coco"))
    win.act_import = {k: action(win, t, lambda _=False, k=k: win.open_import(k)) for k, t in
                       (("voc", "VOC Folder…"), ("coco", "COCO JSON…"), ("labelme", "labelme JSON…"),
                        ("cvat", "CVAT Masks…"))}

    win.act_undo = action(win, "&Undo", win.undo, "Ctrl+Z")
    win.act_redo = action(win, "&Redo", win.redo, ["Ctrl+Shift+Z", "Ctrl+Y"])

    win.act_prev = action(win, "&Previous Image", win.prev_image, "A", icon=SP.SP_ArrowBack)
    win.act_next = action(win, "&Next Image", win.next_image, "D", icon=SP.SP_ArrowForward)
    win.act_fit = action(win, "&Fit to Window", win.canvas.fit, "Ctrl+F")
    win.act_1to1 = action(win, "&Actual Pixels (1:1)", win.canvas.zoom_1to1, "Ctrl+0")
    win.act_zoom_in = action(win, "Zoom &In", lambda: win.canvas.zoom_step(1), QKeySequence.StandardKey.ZoomIn)
    win.act_zoom_out = action(win, "Zoom &Out", lambda: win.canvas.zoom_step(-1), QKeySequence.StandardKey.ZoomOut)
    win.act_hide = action(win, "&Hide Overlay", lambda on: win.canvas.set_overlay_visible(not on), "H",
                                 checkable=True)
    win.act_outline = action(win, "&Outline Only", win.canvas.set_outline_mode, "O", checkable=True)
    win.act_gt_dir = action(win, "Ground Truth Folder…", win.choose_gt_dir)
    win.act_show_gt = action(win, "Show &Ground Truth", win._toggle_show_gt, "G", checkable=True)
    win.act_disagree = action(win, "Highlight &Disagreement", win.canvas.set_show_disagreement, "Shift+G",
                              checkable=True)

    win.tool_group = QActionGroup(win)
    win.tool_actions: dict[Tool, QAction] = {}
    for tool, text, key in ((Tool.BRUSH, "&Brush", "B"), (Tool.ERASER, "&Eraser", "E"),
                            (Tool.POLYGON, "&Polygon", "P"), (Tool.FILL, "&Fill", "F")):
        a = action(win, text, lambda on, t=tool: on and win.canvas.set_tool(t), key, checkable=True)
        win.tool_group.addAction(a)
        win.tool_actions[tool] = a
    win.tool_actions[Tool.BRUSH].setChecked(True)
    win.act_smaller = action(win, "Smaller Brush", lambda: win.tools.brush_step(-1), "[")
    win.act_larger = action(win, "Larger Brush", lambda: win.tools.brush_step(1), "]")
    win.act_eval = action(win, "&Evaluate Against Ground Truth…", win.open_eval)
    win.class_actions = [action(win, f"Class {i + 1}", lambda _=False, i=i: win.tools.set_current_class(i),
                                       f"Ctrl+{i + 1}") for i in range(9)]

    win.model_group = QActionGroup(win)
    win.act_load_ckpt = action(win, "Load Checkpoint…", win.choose_checkpoint)
    win.act_predict = action(win, "Predict &This Image", win.predict_current, "Ctrl+R")
    win.act_predict_all = action(win, "Predict All &Unlabelled", win.predict_unlabelled, "Ctrl+Shift+R")
    win.act_fill_only = action(win, "Fill Only Unlabelled Pixels", None, checkable=True,
                                      tip="A prediction only fills pixels that are still unlabelled")
    win.act_fill_only.setChecked(win.settings.value("predict/fill_only_unlabelled", False, bool))
    win.act_cancel = action(win, "Cancel Prediction", win.cancel_prediction)
    win.act_cancel.setEnabled(False)
    win.act_train = action(win, "Train on My Annotations…", win.open_train)
    win.act_shortcuts = action(win, "&Keyboard Shortcuts…", lambda: _help_dialog(win, "ShortcutsDialog"),
                               QKeySequence.StandardKey.HelpContents)
    win.act_about = action(win, "&About segstudio…", lambda: _help_dialog(win, "AboutDialog"))

def build_menus(win) -> None:
    mb = win.menuBar()
    m = mb.addMenu("&File")
    m.addAction(win.act_open_folder)
    m.addAction(win.act_open_image)
    win.recent_menu = m.addMenu("Open &Recent")
    m.addAction(win.act_save)
    m.addSeparator()
    m.addAction(win.act_labels)
    m.addAction(win.act_masks)
    m.addSeparator()
    e = m.addMenu("&Export")
    e.addAction(win.act_export_voc)
    e.addAction(win.act_export_coco)
    i = m.addMenu("&Import")
    for a in win.act_import.values():
        i.addAction(a)
    m.addSeparator()
    m.addAction(win.act_quit)

    m = mb.addMenu("&Edit")
    m.addAction(win.act_undo)
    m.addAction(win.act_redo)

    m = mb.addMenu("&View")
    for a in (win.act_prev, win.act_next, None, win.act_fit, win.act_1to1, win.act_zoom_in,
              win.act_zoom_out, None, win.act_hide, win.act_outline, None, win.act_gt_dir,
              win.act_show_gt, win.act_disagree):
        m.addSeparator() if a is None else m.addAction(a)
    m.addSeparator()
    m.addAction(win.images_dock.toggleViewAction())
    m.addAction(win.classes_dock.toggleViewAction())

    m = mb.addMenu("&Tools")
    for a in win.tool_actions.values():
        m.addAction(a)
    m.addAction(win.act_smaller)
    m.addAction(win.act_larger)
    m.addSeparator()
    m.addAction(win.act_eval)

    win.model_menu = mb.addMenu("&Model")
    m = mb.addMenu("&Help")
    win.act_guide = m.addAction("&User Guide…", lambda: _help_dialog(win, "UserGuideDialog"))
    m.addAction(win.act_shortcuts)
    m.addAction(win.act_about)

def build_toolbar(win) -> None:
    tb = QToolBar("Tools", win)
    tb.setObjectName("tools-toolbar")
    win.addToolBar(tb)
    tb.addAction(win.act_open_folder)
    tb.addAction(win.act_save)
    tb.addAction(win.act_prev)
    tb.addAction(win.act_next)
    tb.addSeparator()
    for a in win.tool_actions.values():
        tb.addAction(a)
    tb.addWidget(QLabel(" Size "))
    win.size_spin = QSpinBox()
    win.size_spin.setRange(1, 500)
    win.size_spin.setValue(win.settings.value("tools/brush_size", 15, int))
    win.size_spin.setToolTip("Brush size in image pixels ([ and ])")
    win.size_spin.valueChanged.connect(win.canvas.set_brush_size)
    win.canvas.set_brush_size(win.size_spin.value())
    tb.addWidget(win.size_spin)
    tb.addSeparator()
    tb.addWidget(QLabel(" Opacity "))
    win.opacity_slider = QSlider(Qt.Orientation.Horizontal)
    win.opacity_slider.setRange(0, 100)
    win.opacity_slider.setMaximumWidth(120)
    win.opacity_slider.valueChanged.connect(lambda v: win.canvas.set_opacity(v / 100))
    win.opacity_slider.setValue(win.settings.value("view/opacity", 50, int))
    win.canvas.set_opacity(win.opacity_slider.value() / 100)
    tb.addWidget(win.opacity_slider)
    tb.addAction(win.act_hide)
    tb.addAction(win.act_outline)
    tb.addSeparator()
    tb.addAction(win.act_predict)
    win.model_combo_label = QLabel()
    tb.addWidget(win.model_combo_label)


def restore_layout(win) -> None:
    """Window geometry, docks and toolbar, and the tool, as the last session left them."""
    for key, restore in (("window/geometry", win.restoreGeometry), ("window/state", win.restoreState)):
        value = win.settings.value(key)
        if value is not None:
            restore(value)
    win.tools.restore(win.settings)
    assisted = win.settings.value("tools/assist", "", str)
    if assisted in win.assist.actions:
        win.assist.actions[assisted].trigger()


def save_layout(win) -> None:
    """What restore_layout and the toolbar read back next time (brush size, opacity)."""
    for key, value in (("window/geometry", win.saveGeometry()), ("window/state", win.saveState()),
                       ("view/opacity", win.opacity_slider.value()), ("tools/brush_size", win.size_spin.value()),
                       ("predict/fill_only_unlabelled", win.act_fill_only.isChecked())):
        win.settings.setValue(key, value)
    win.tools.save(win.settings)
    win.settings.setValue("tools/assist", win.assist.active.name if win.assist.active is not None else "")


def _help_dialog(win, name: str) -> None:
    """Show a Help dialog; its module (importlib.metadata and all) is imported on first use, not at startup."""
    from . import help_dialogs

    help_dialogs.show_dialog(win, getattr(help_dialogs, name)(win))
