"""Frame extraction from real (tiny) videos written with OpenCV, broken files, and image sequences."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from segstudio.core.errors import VideoError
from segstudio.core.jobs import Cancelled
from segstudio.core.video import (MANIFEST, extract_frames, following, frame_name, frames_folder, is_video_file,
                                  list_frames, neighbours, picked_indices, probe_video, reusable_extraction,
                                  sequence_key, sequences)

W, H = 96, 64


def write_video(path: Path, n=12, fps=10.0, fourcc="MJPG") -> Path:
    """A video whose frame i shows a bright bar at x = 6 i (so frames can be told apart)."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (W, H))
    assert w.isOpened()
    for i in range(n):
        f = np.full((H, W, 3), 40, np.uint8)
        f[:, 6 * i:6 * i + 6] = (250, 250, 250)
        w.write(f)
    w.release()
    return path


def decoded(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            return out
        out.append(f)


@pytest.mark.parametrize("fourcc,ext", [("MJPG", ".avi"), ("mp4v", ".mp4"), ("mp4v", ".mov"), ("MJPG", ".mkv")])
def test_every_frame_is_written_as_a_png_named_by_its_index(tmp_path, fourcc, ext):
    video = write_video(tmp_path / f"clip{ext}", fourcc=fourcc)
    info = probe_video(video)
    assert (info.width, info.height, info.frame_count, info.fps) == (W, H, 12, 10.0)
    seen = []
    r = extract_frames(video, progress=lambda i, n: seen.append((i, n)))
    assert r.out_dir == tmp_path / "clip_frames" == frames_folder(video)
    assert [p.name for p in r.paths] == [f"clip_f{i:06d}.png" for i in range(12)]
    assert r.warning is None and r.frames_read == 12
    for p, frame in zip(r.paths, decoded(video)):
        assert np.array_equal(cv2.imread(str(p)), frame)  # lossless: exactly what the decoder gave
    assert seen[-1] == (12, 12) and [i for i, _ in seen] == sorted(i for i, _ in seen)
    assert list_frames(r.out_dir) == r.paths
    assert not [p for p in r.out_dir.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("level", [0, 1, 6])
def test_every_png_compression_level_is_lossless(tmp_path, level):
    video = write_video(tmp_path / "clip.avi", n=3)
    r = extract_frames(video, tmp_path / f"l{level}", compress_level=level)
    for p, frame in zip(r.paths, decoded(video)):
        assert np.array_equal(cv2.imread(str(p)), frame)


def test_every_n_and_fps_pick_the_right_frames(tmp_path):
    video = write_video(tmp_path / "clip.avi", n=12, fps=10.0)
    r = extract_frames(video, tmp_path / "a", every=5)
    assert [p.name for p in r.paths] == [frame_name("clip", i) for i in (0, 5, 10)]
    frames = decoded(video)
    assert np.array_equal(cv2.imread(str(r.paths[1])), frames[5])
    r = extract_frames(video, tmp_path / "b", fps=4.0)  # 10 fps / 4 = every 2.5 frames
    assert [p.name for p in r.paths] == [frame_name("clip", i) for i in (0, 2, 5, 8, 10)]
    assert picked_indices(12, 2.5) == [0, 2, 5, 8, 10]
    with pytest.raises(ValueError):
        extract_frames(video, tmp_path / "c", every=0)


def test_cancel_keeps_what_was_written_and_a_rerun_completes(tmp_path):
    video = write_video(tmp_path / "clip.avi", n=12)
    calls = []
    with pytest.raises(Cancelled):
        extract_frames(video, every=1, progress=lambda i, n: calls.append(i), cancelled=lambda: len(calls) >= 3)
    out = frames_folder(video)
    written = list_frames(out)
    assert 3 <= len(written) < 12
    assert reusable_extraction(video, out, every=1) is None  # not complete
    r = extract_frames(video, every=1)  # its own files may be written again
    assert len(r.paths) == 12
    assert reusable_extraction(video, out, every=1) == r.paths
    assert reusable_extraction(video, out, every=2) is None
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["complete"] and manifest["video"] == "clip.avi"


def test_a_frame_file_we_did_not_write_is_never_overwritten(tmp_path):
    video = write_video(tmp_path / "clip.avi")
    out = tmp_path / "out"
    out.mkdir()
    theirs = out / frame_name("clip", 5)
    theirs.write_bytes(b"someone else's file")
    other = out / "notes.txt"
    other.write_text("kept")
    with pytest.raises(VideoError, match="did not write") as e:
        extract_frames(video, out)
    assert str(theirs) in str(e.value)
    assert theirs.read_bytes() == b"someone else's file" and other.read_text() == "kept"
    assert list_frames(out) == [theirs]  # nothing written


def test_a_second_rate_into_the_same_folder_says_the_old_frames_are_there(tmp_path):
    video = write_video(tmp_path / "clip.avi")
    extract_frames(video, every=1)
    r = extract_frames(video, every=4)
    assert len(r.paths) == 3 and "earlier extraction" in r.warning


@pytest.mark.parametrize("content,problem", [
    (os.urandom(4000), "cannot open as a video"),
    (b"", "cannot open as a video"),
])
def test_broken_videos_give_a_clear_error(tmp_path, content, problem):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(content)
    with pytest.raises(VideoError, match=problem) as e:
        extract_frames(bad)
    assert str(bad) in str(e.value)
    assert not frames_folder(bad).exists()


def test_truncated_videos_are_refused_or_warned_about(tmp_path):
    full = write_video(tmp_path / "full.mp4", n=30, fourcc="mp4v")
    cut = tmp_path / "cut.mp4"  # the index (moov) is at the end: nothing can be read
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(VideoError, match="cannot open") as e:
        extract_frames(cut)
    assert str(cut) in str(e.value)
    full = write_video(tmp_path / "full.avi", n=30)
    cut = tmp_path / "cut.avi"  # opens; its frames stop early
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    r = extract_frames(cut)
    assert 0 < len(r.paths) < 30 and "stopped after" in r.warning and str(cut) in r.warning


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(VideoError, match="no such file"):
        probe_video(tmp_path / "nope.mp4")
    txt = tmp_path / "clip.txt"
    txt.write_text("hello")
    with pytest.raises(VideoError, match="not a video file"):
        probe_video(txt)
    assert is_video_file("a.MKV") and is_video_file("b.mov") and not is_video_file("c.png")


def test_image_folders_as_sequences(tmp_path):
    names = ["0016E5_07961.png", "0016E5_07959.png", "0016E5_07963.png", "0006R0_f00930.png", "0006R0_f00960.png",
             "lonely_3.png", "cover.png", "clip_f000010.png", "clip_f000002.png"]
    paths = [tmp_path / n for n in names]
    assert sequence_key("0016E5_07959.png") == ("0016E5_", 7959) and sequence_key("cover.png") is None
    seqs = {tuple(p.name for p in s) for s in sequences(paths)}
    assert seqs == {("0016E5_07959.png", "0016E5_07961.png", "0016E5_07963.png"),
                    ("0006R0_f00930.png", "0006R0_f00960.png"), ("clip_f000002.png", "clip_f000010.png")}
    assert neighbours(paths, tmp_path / "0016E5_07961.png") == (tmp_path / "0016E5_07959.png",
                                                                tmp_path / "0016E5_07963.png")
    assert neighbours(paths, tmp_path / "0006R0_f00930.png") == (None, tmp_path / "0006R0_f00960.png")
    assert neighbours(paths, tmp_path / "cover.png") == (None, None)
    assert following(paths, tmp_path / "0016E5_07959.png", 5) == [tmp_path / "0016E5_07961.png",
                                                                   tmp_path / "0016E5_07963.png"]
