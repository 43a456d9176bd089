"""`segstudio frames` end to end on a real video file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segstudio.cli import main
from segstudio.core.video import frame_name


def write_video(path, n=10, size=(80, 48)):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    for i in range(n):
        f = np.full((size[1], size[0], 3), 30, np.uint8)
        f[:, 5 * i:5 * i + 5] = 255
        w.write(f)
    w.release()
    return path


def test_frames_every_n_into_a_folder_and_again(tmp_path, capsys):
    video = write_video(tmp_path / "drive.avi")
    out = tmp_path / "out"
    assert main(["frames", str(video), "--every", "3", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == [frame_name("drive", i) for i in (0, 3, 6, 9)]
    text = capsys.readouterr().out
    assert "80x48, 10 frames at 10 fps" in text and "wrote 4 frames" in text
    assert main(["frames", str(video), "--every", "3", "--out", str(out)]) == 0
    assert "already holds these 4 frames" in capsys.readouterr().out


def test_frames_default_folder_and_fps(tmp_path, capsys):
    video = write_video(tmp_path / "drive.avi")
    assert main(["frames", str(video), "--fps", "5"]) == 0
    assert sorted(p.name for p in (tmp_path / "drive_frames").glob("*.png")) == \
        [frame_name("drive", i) for i in (0, 2, 4, 6, 8)]


def test_frames_reports_broken_videos_and_bad_options_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "broken.mkv"
    bad.write_bytes(b"\x1a\x45\xdf\xa3 not really a matroska file" * 50)
    assert main(["frames", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "cannot open as a video" in err and "Traceback" not in err
    video = write_video(tmp_path / "drive.avi")
    for option, value, says in [("--every", "0", "--every must be a whole number from 1 to")] + [
            ("--fps", v, "--fps must be a positive number") for v in ("0", "-2", "nan", "inf")]:
        with pytest.raises(SystemExit) as stop:  # refused by the parser (NaN once read as "every frame")
            main(["frames", str(video), option, value])
        assert stop.value.code == 2 and says in capsys.readouterr().err
    assert not (tmp_path / "drive_frames").exists()
    taken = tmp_path / "drive_frames"
    taken.mkdir()
    (taken / frame_name("drive", 0)).write_bytes(b"mine")
    assert main(["frames", str(video)]) == 2
    assert "did not write" in capsys.readouterr().err
    assert (taken / frame_name("drive", 0)).read_bytes() == b"mine"
