"""File → Import → …: bring VOC / COCO / labelme / CVAT annotations into the working masks.

A thin shell over the core importers. Unknown class names stop the import
before anything is written; the dialog lists them and offers to skip them or
map them (`name=class`, one per line). The dialog is accepted only when masks
were written, so the main window knows to reload them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPlainTextEdit, QPushButton, QWidget)

from segstudio.core.formats.classmap import UnknownClassesError, parse_mapping
from segstudio.core.errors import SegstudioError
from segstudio.core.labels import LabelSet

from .batch_dialog import BatchJobDialog

KINDS = {
    "voc": ("Import a Pascal VOC folder", "VOC folder (with SegmentationClass/)"),
    "coco": ("Import COCO JSON", "COCO .json file"),
    "labelme": ("Import labelme JSON", "labelme .json file or folder"),
    "cvat": ("Import CVAT segmentation masks", "CVAT 'Segmentation mask 1.1' folder or .zip"),
}

OVERLAP_NOTE = ("Overlapping annotations: later ones in the file are drawn on top. "
                "Pixels nothing covers stay unlabelled.")


def importer(kind: str):
    if kind == "voc":
        from segstudio.core.formats.voc import import_voc
        return import_voc
    if kind == "coco":
        from segstudio.core.formats.coco import import_coco
        return import_coco
    if kind == "labelme":
        from segstudio.core.formats.labelme import import_labelme
        return import_labelme
    from segstudio.core.formats.cvat import import_cvat
    return import_cvat


class ImportDialog(BatchJobDialog):
    verb = "Import"
    running_text = "Importing…"
    failed_text = "Import failed; no mask was changed."
    cancelled_text = "Import cancelled; no mask was changed."

    def __init__(self, parent: QWidget | None, images_dir: Path, masks_dir: Path, labelset: LabelSet, kind: str):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        super().__init__(parent)
        self.images_dir, self.masks_dir, self.labelset, self.kind = Path(images_dir), Path(masks_dir), labelset, kind
        title, what = KINDS[kind]
        self.setWindowTitle(title)
        self.setMinimumWidth(600)

        form = QFormLayout()
        self.src_edit = QLineEdit()
        self.src_edit.setPlaceholderText(what)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.src_edit, 1)
        row.addWidget(browse)
        form.addRow("Source:", row)
        form.addRow("Images:", QLabel(str(self.images_dir)))
        form.addRow("Write masks to:", QLabel(str(self.masks_dir)))
        self.overwrite_check = QCheckBox("Replace masks that already exist")
        self.skip_check = QCheckBox("Skip classes that are not in the label set (they are listed)")
        self.map_edit = QPlainTextEdit()
        self.map_edit.setPlaceholderText("Optional class mapping, one per line: name=class  (or name=ignore)")
        self.map_edit.setMaximumHeight(70)
        form.addRow("", self.overwrite_check)
        form.addRow("", self.skip_check)
        form.addRow("Class mapping:", self.map_edit)
        if kind == "coco":
            self.fill_combo = QComboBox()
            self.fill_combo.addItem("unlabelled", None)
            for name in labelset.names:
                self.fill_combo.addItem(name, name)
            form.addRow("Uncovered pixels:", self.fill_combo)
        if kind == "labelme":  # labelme's own convention: _background_ and uncovered pixels are one class
            self.background_combo = QComboBox()
            self.background_combo.addItem("the label set's background class, else unlabelled", "auto")
            self.background_combo.addItem("unlabelled", "void")
            for name in labelset.names:
                self.background_combo.addItem(name, name)
            form.addRow("_background_ and uncovered pixels:", self.background_combo)
        if kind in ("coco", "labelme"):
            note = QLabel(OVERLAP_NOTE if kind == "coco" else OVERLAP_NOTE.split(". ")[0] + ".")
            note.setWordWrap(True)
            form.addRow("", note)

        self._lay_out(form)

    def _browse(self) -> None:
        start = self.src_edit.text() or str(self.images_dir.parent)
        if self.kind == "coco":
            path, _ = QFileDialog.getOpenFileName(self, "COCO JSON", start, "JSON (*.json)")
        elif self.kind == "cvat":
            path, _ = QFileDialog.getOpenFileName(self, "CVAT export (.zip)", start, "Zip (*.zip)")
            if not path:
                path = QFileDialog.getExistingDirectory(self, "CVAT export folder", start)
        else:
            path = QFileDialog.getExistingDirectory(self, "Folder", start)
        if path:
            self.src_edit.setText(path)

    def start(self) -> None:
        if self.state == "running" or self.runner.running():
            return
        src = self.src_edit.text().strip()
        if not src:
            self.summary_view.setPlainText("Choose what to import.")
            return
        try:
            mapping = parse_mapping([ln for ln in self.map_edit.toPlainText().splitlines() if ln.strip()])
        except SegstudioError as e:
            self.summary_view.setPlainText(str(e))
            return
        kw = dict(mapping=mapping, skip_unknown=self.skip_check.isChecked(), overwrite=self.overwrite_check.isChecked())
        if self.kind == "coco":
            kw["fill"] = self.fill_combo.currentData()
        if self.kind == "labelme":
            kw["background"] = self.background_combo.currentData()
        fn = importer(self.kind)
        images, masks, ls = self.images_dir, self.masks_dir, self.labelset
        self._run(lambda progress, cancelled: fn(Path(src).expanduser(), images, ls, masks,
                                                 progress=progress, cancelled=cancelled, **kw))

    def describe_failure(self, message: str, exc) -> str:
        text = super().describe_failure(message, exc)
        if isinstance(exc, UnknownClassesError):
            text += ("\n\nTick 'Skip classes that are not in the label set', or map them "
                     "(one 'name=class' per line), then import again.")
        return text

    def accepts_on_close(self) -> bool:
        # Masks changed on disk: the caller must reload them, however the dialog is closed.
        return self.summary is not None and bool(self.summary.written)
