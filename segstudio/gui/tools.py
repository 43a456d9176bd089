"""The editing tools' state as the user sets it: tool, current class, brush size, protect other classes.

`ToolState` keeps the canvas, the class panel, the tool actions, the brush
size box and the "Protect other classes" controls in step, whichever of them
the user touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCheckBox, QComboBox, QSpinBox

from .canvas import Canvas, Tool
from .class_panel import ClassPanel

if TYPE_CHECKING:
    from segstudio.core.labels import LabelSet


#: The protect drop-down's entry that takes the class from where each edit starts.
PRESS = "press"
PRESS_TIP = ("Each edit may change unlabelled pixels and pixels of the class where it starts: the press of a "
             "stroke or click, a polygon's first vertex, a box's centre")


class ToolState:
    def __init__(self, canvas: Canvas, class_panel: ClassPanel, tool_actions: dict[Tool, QAction],
                 size_spin: QSpinBox, protect_box: QCheckBox, protect_combo: QComboBox):
        self.canvas, self.class_panel, self.tool_actions = canvas, class_panel, tool_actions
        self.size_spin, self.protect_box, self.protect_combo = size_spin, protect_box, protect_combo
        self.labelset: LabelSet | None = None
        protect_box.toggled.connect(self.update_protect)
        protect_combo.currentIndexChanged.connect(self.update_protect)

    def set_labelset(self, ls: LabelSet | None) -> None:
        self.labelset = ls
        if ls is None:
            return
        self.canvas.set_labelset(ls)
        self.class_panel.set_labelset(ls)
        self.protect_combo.blockSignals(True)
        self.protect_combo.clear()
        self.protect_combo.addItem("paint over unlabelled only", None)
        self.protect_combo.addItem("paint over unlabelled and start class", PRESS)
        self.protect_combo.setItemData(1, PRESS_TIP, Qt.ItemDataRole.ToolTipRole)
        for i, n in enumerate(ls.names):
            self.protect_combo.addItem(f"paint over unlabelled and {n}", i)
        self.protect_combo.blockSignals(False)
        self.update_protect()
        self.set_current_class(0)

    def set_current_class(self, index: int) -> None:
        ls = self.labelset
        if ls is not None and index == ls.ignore_index:
            self.set_tool(Tool.ERASER)
            return
        if ls is None or not 0 <= index < ls.num_classes:
            return
        self.canvas.current_class = index
        self.class_panel.select_class(index)
        if self.canvas.tool == Tool.ERASER:
            self.tool_actions[Tool.BRUSH].setChecked(True)

    def set_tool(self, tool: Tool) -> None:
        self.canvas.set_tool(tool)
        if not self.tool_actions[tool].isChecked():
            self.tool_actions[tool].setChecked(True)

    def restore(self, settings) -> None:
        """The tool of the last session (the brush if the remembered one is unknown)."""
        try:
            tool = Tool(settings.value("tools/tool", Tool.BRUSH.value, str))
        except ValueError:
            tool = Tool.BRUSH
        self.set_tool(tool)

    def save(self, settings) -> None:
        """The checked tool; none is checked while an assisted tool holds the group (the canvas is then on Fill)."""
        for tool, action in self.tool_actions.items():
            if action.isChecked():
                settings.setValue("tools/tool", tool.value)

    def brush_step(self, direction: int) -> None:
        """Grow or shrink the brush by about 15 %."""
        v = self.size_spin.value()
        self.size_spin.setValue(max(1, v + direction * max(1, round(v * 0.15))))

    def update_protect(self) -> None:
        self.canvas.protect_under_press = False
        if self.labelset is None or not self.protect_box.isChecked():
            self.canvas.protect = None
            return
        extra = self.protect_combo.currentData()
        ig = self.labelset.ignore_index
        from segstudio.core.document import protect_all_but

        self.canvas.protect_under_press = extra == PRESS
        self.canvas.protect = protect_all_but((ig,) if extra in (None, PRESS) else (ig, int(extra)))
