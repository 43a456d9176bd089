"""The Qt-free editing document: every edit, undo / redo, the clean state and what listeners hear."""

import numpy as np
import pytest
from PIL import Image

from segstudio.core import labelmap as lm
from segstudio.core.document import Document, protect_all_but, protect_for_press
from segstudio.core.document_set import DocumentSet
from segstudio.core.labels import preset
from segstudio.core.project import ImageState, Project

IGN = 255


def _doc(h=40, w=60, fill=IGN):
    d = Document("im.png", IGN)
    d.set_labels(np.full((h, w), fill, np.uint8))
    return d


class Ear:
    def __init__(self, doc):
        self.changes, self.history = [], 0
        doc.subscribe(on_change=self.changes.append, on_history=self._h)

    def _h(self):
        self.history += 1


def test_a_stroke_is_one_step_painted_once_per_move_and_undo_redo_are_bit_exact():
    d = _doc()
    ear = Ear(d)
    before = d.labels.copy()
    pts = [(5.2, 5.7), (30, 8), (50, 30)]
    d.begin_stroke(3, 5)
    assert d.stroking and not d.can_undo
    boxes = [d.extend_stroke(x, y) for x, y in pts]
    assert ear.changes == boxes and all(b is not None for b in boxes)  # one repaint per move, nothing else
    assert ear.history == 0 and d.history_length == 0  # nothing recorded mid-stroke
    diff = d.end_stroke()
    expected = lm.stroke_mask(before.shape, pts, 5)
    assert np.array_equal(d.labels == 3, expected)
    assert d.history_length == 1 and d.history_index == 1 and d.undo_text() == "Brush stroke"
    assert ear.changes == boxes  # ending the stroke does not repaint again
    assert d.counts[3] == expected.sum() and d.counts[IGN] == before.size - expected.sum()
    after = d.labels.copy()
    assert d.undo() == diff.bbox and np.array_equal(d.labels, before) and d.counts[3] == 0
    assert d.redo() == diff.bbox and np.array_equal(d.labels, after)
    assert d.undo() and d.undo() is None  # nothing left to undo


def test_eraser_polygon_fill_and_protect():
    d = _doc(fill=1)
    d.labels[:, 30:] = 2
    d.begin_stroke(IGN, 3)
    d.extend_stroke(2, 2)
    d.extend_stroke(20, 2)
    assert d.end_stroke() is not None and d.undo_text() == "Erase"
    assert (d.labels[2, 2:20] == IGN).all()
    # protect class 2: a polygon across both halves only paints class-1 and unlabelled pixels
    before = d.labels.copy()
    d.polygon([(10, 10), (50, 10), (50, 30), (10, 30)], 4, protect={2})
    inside = np.zeros_like(before, bool)
    inside[10:31, 10:51] = True
    assert (d.labels[inside & (before != 2)] == 4).all() and (d.labels[before == 2] == 2).all()
    assert d.undo_text() == "Polygon"
    # fill the class-1 region (4-connected) with 5, protect all but class 1 and unlabelled
    d.fill(0.5, 39.5, 5, protect=protect_all_but({1, IGN}))
    assert d.labels[39, 0] == 5 and (d.labels[before == 2] == 2).all()
    assert d.fill(45.5, 35.5, 6, protect=protect_all_but({1, IGN})) is None  # seed is class 2: protected
    assert d.history_length == 3
    while d.undo():
        pass
    assert (d.labels[:, :30] == 1).all() and (d.labels[:, 30:] == 2).all()


def test_apply_mask_is_one_step_with_protect_and_checks_its_shape():
    d = _doc()
    d.labels[:20] = 7
    ear = Ear(d)
    m = np.zeros(d.labels.shape, bool)
    m[10:30, 5:25] = True
    diff = d.apply_mask(m, 2, protect={7}, text="Grow region")
    assert diff.bbox == (5, 10, 25, 30) and ear.changes == [diff.bbox]
    assert (d.labels[20:30, 5:25] == 2).all() and (d.labels[10:20, 5:25] == 7).all()
    assert d.undo_text() == "Grow region" and d.history_length == 1
    assert d.apply_mask(np.zeros_like(m), 2) is None and d.history_length == 1
    with pytest.raises(ValueError, match="mask is"):
        d.apply_mask(np.ones((3, 3), bool), 2)


def test_protect_for_press_lets_an_edit_change_only_unlabelled_and_the_class_where_it_starts():
    d = _doc(fill=1)
    d.labels[:, 20:40] = 2
    d.labels[:, 40:] = IGN
    before = d.labels.copy()
    everything = np.ones(d.labels.shape, bool)
    d.apply_mask(everything, 5, protect=protect_for_press(d.labels, 25.5, 10.2, IGN))  # starts on class 2
    assert np.array_equal(d.labels == 5, (before == 2) | (before == IGN))
    assert np.array_equal(d.labels[before == 1], before[before == 1])
    d.undo()
    d.apply_mask(everything, 5, protect=protect_for_press(d.labels, 45, 3, IGN))  # starts on unlabelled
    assert np.array_equal(d.labels == 5, before == IGN)
    # outside the map (a box dragged past the edge): only unlabelled pixels
    assert protect_for_press(before, -1, 3, IGN) == protect_for_press(before, 45, 3, IGN) == protect_all_but((IGN,))
    assert protect_for_press(before, 5.9, 39.9, IGN) == protect_all_but((IGN, 1))


def test_prediction_sets_the_origin_and_fill_only_unlabelled():
    d = _doc()
    d.labels[0, 0] = 4
    pred = np.full(d.labels.shape, 6, np.uint8)
    d.apply_prediction(pred, fill_only_unlabelled=True)
    assert d.labels[0, 0] == 4 and (d.labels.ravel()[1:] == 6).all()
    assert d.origin is ImageState.PREDICTED and d.undo_text() == "Prediction"
    d.undo()
    assert d.origin is ImageState.EDITED
    d.redo()
    assert d.origin is ImageState.PREDICTED


def test_dirty_follows_the_clean_index_through_undo_redo_and_new_edits():
    d = _doc()
    ear = Ear(d)
    assert not d.dirty
    d.apply_mask(np.eye(40, 60, dtype=bool), 1)
    assert d.dirty
    d.mark_clean()
    assert not d.dirty and ear.history == 2
    d.undo()
    assert d.dirty
    d.redo()
    assert not d.dirty
    d.undo()
    d.apply_mask(np.eye(40, 60, k=3, dtype=bool), 2)  # a new branch: the saved state is gone for good
    assert d.dirty and d.history_length == 1
    d.undo()
    assert d.dirty


def test_unload_keeps_the_history_and_finishes_a_stroke():
    d = _doc()
    d.begin_stroke(3, 4)
    d.extend_stroke(5, 5)
    d.unload()
    assert not d.loaded and d.history_length == 1 and not d.stroking
    assert d.undo() is None  # no pixels to undo on
    d.set_labels(np.full((40, 60), IGN, np.uint8))
    d.labels[5, 5] = 3  # as saved
    assert d.undo() is not None and d.labels[5, 5] == IGN


def test_document_set_loads_saves_and_reports_state(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.zeros((8, 12, 3), np.uint8)).save(images / "a.png")
    project = Project.open(images, labels=preset("camvid"))
    docs = DocumentSet(project)
    doc = docs.open(images / "a.png")
    assert docs.open(images / "a.png") is doc and len(docs) == 1
    docs.load(doc, (12, 8))
    assert (doc.labels == project.labelset.ignore_index).all()
    assert docs.state(doc.path) is ImageState.UNLABELLED
    doc.apply_mask(np.ones((8, 12), bool), 2)
    assert docs.state(doc.path) is ImageState.EDITED
    saved = docs.save(doc)
    assert not doc.dirty and docs.state(doc.path) is ImageState.SAVED
    again = DocumentSet(Project.open(images, labels=preset("camvid")))
    d2 = again.open(images / "a.png")
    again.load(d2, (12, 8))
    assert saved.is_file() and (d2.labels == 2).all()
