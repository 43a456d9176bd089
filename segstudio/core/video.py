"""Videos as image sequences: probing a video, extracting its frames as PNGs, and frame order in a folder.

`extract_frames(video, out_dir, every=N | fps=F, progress, cancelled)` reads a
video with OpenCV's FFmpeg backend and writes the chosen frames as
`<video stem>_f<index>.png` (the index is the frame's number in the video, six
digits, so names sort in time order). PNG encoding, the slow part, runs on a
small thread pool while the next frames decode. Each file is written to a
temporary name and renamed, so a frame is whole or absent, never half-written.
A manifest (`.segstudio-frames.json`) in the output folder lists the frames
this extraction wrote: a frame-named file that is not in it was not made by us
and is never written over (the extraction stops before writing anything). The
manifest also remembers the video and the rate, so opening the same video again
reuses a complete extraction.

A broken, truncated or unsupported file raises `VideoError` with the path and
the problem; a video whose frames stop before the count in its header comes
back with a warning.

A folder of images is a sequence when its names end in a frame number after a
common prefix (`0016E5_07959.png`, `clip_f000012.png`): `sequences(paths)`
groups them, `neighbours` / `following` walk one in frame order. No Qt.
"""

from __future__ import annotations

import json
import math
import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .atomic import atomic_path, atomic_write_text
from .errors import SegstudioError, VideoError
from .jobs import CancelFn, Cancelled, ProgressFn
from .safe_json import load_json_file
from .video_files import VIDEO_EXTENSIONS, is_video_file

MANIFEST = ".segstudio-frames.json"
FRAME_DIGITS = 6
_FRAME_RE = re.compile(r"^(?P<stem>.*)_f(?P<index>\d+)\.png$")
_SEQ_RE = re.compile(r"^(?P<prefix>.*?)(?P<number>\d+)$")
#: Frame names claimed in the manifest ahead of writing them (one manifest write per batch).
CLAIM_BATCH = 256


def frame_name(stem: str, index: int) -> str:
    """`<stem>_f000123.png`: the file name of frame `index` of the video `stem`."""
    return f"{stem}_f{int(index):0{FRAME_DIGITS}d}.png"


def frames_folder(video: str | Path) -> Path:
    """The default output folder: `<video stem>_frames/` beside the video."""
    video = Path(video)
    return video.parent / f"{video.stem}_frames"


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    frame_count: int  # from the container's header; 0 when it does not say
    fps: float        # 0 when unknown
    width: int
    height: int

    @property
    def seconds(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 else 0.0


def _open_capture(path: Path) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"{path}: cannot open as a video (broken, truncated, or a format or codec that "
                         "OpenCV's FFmpeg cannot read)")
    return cap


def probe_video(path: str | Path) -> VideoInfo:
    """The video's size, frame count and rate; raises VideoError if it is missing, unsupported or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    if not is_video_file(path):
        raise VideoError(f"{path}: not a video file this studio reads "
                         f"({', '.join(sorted(e.lstrip('.') for e in VIDEO_EXTENSIONS))})")
    cap = _open_capture(path)
    try:
        ok, frame = cap.read()
        if not ok or frame is None:
            raise VideoError(f"{path}: no frame could be decoded (a broken or truncated file, or an unsupported codec)")
        count = int(max(0.0, cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        return VideoInfo(path, count, fps if np.isfinite(fps) and fps > 0 else 0.0, frame.shape[1], frame.shape[0])
    finally:
        cap.release()


def frame_step(info: VideoInfo, every: int | None = None, fps: float | None = None) -> float:
    """How many source frames apart the extracted frames are: `every`, or the video's rate / `fps` (>= 1)."""
    if every is not None and fps is not None:
        raise ValueError("give either every or fps, not both")
    if fps is not None:
        if not 0 < fps < math.inf:  # NaN fails every comparison
            raise ValueError(f"fps must be a positive number, got {fps}")
        if info.fps <= 0:
            raise VideoError(f"{info.path}: the video does not say its frame rate; use --every N instead of --fps")
        return max(1.0, info.fps / float(fps))
    every = 1 if every is None else int(every)
    if every < 1:
        raise ValueError(f"every must be at least 1, got {every}")
    return float(every)


def picked_indices(count: int, step: float) -> list[int]:
    """The frame numbers taken out of `count` at `step` (0, round(step), round(2 step), ...)."""
    out, k = [], 0
    while (i := int(round(k * step))) < count:
        out.append(i)
        k += 1
    return out


def _video_signature(path: Path) -> dict:
    st = path.stat()
    return {"video": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


class _Manifest:
    """The output folder's record of what we wrote (and of the video and the rate, once complete)."""

    def __init__(self, folder: Path):
        self.path = folder / MANIFEST
        self.data: dict = {}
        if self.path.is_file():
            try:  # a damaged manifest: none of the frames count as ours, so none is overwritten
                data = load_json_file(self.path)
                self.data = data if isinstance(data, dict) else {}
            except SegstudioError:
                self.data = {}
        frames = self.data.get("frames")
        self.frames: set[str] = {f for f in frames if isinstance(f, str)} if isinstance(frames, list) else set()

    def claim(self, names) -> None:
        new = [n for n in names if n not in self.frames]
        if new:
            self.frames.update(new)
            self.save(complete=False)

    def save(self, complete: bool, **extra) -> None:
        self.data.update(extra, complete=complete, frames=sorted(self.frames))
        atomic_write_text(self.path, json.dumps(self.data, indent=1))


def _foreign_frames(folder: Path, stem: str, ours: set[str]) -> list[Path]:
    """Frame-named files of video `stem` in `folder` that the manifest does not list."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if (m := _FRAME_RE.match(p.name)) and m["stem"] == stem and p.name not in ours)


def reusable_extraction(video: str | Path, out_dir: str | Path, every: int | None = None,
                        fps: float | None = None) -> list[Path] | None:
    """The frames of a complete earlier extraction of the same video at the same rate in `out_dir`, else None."""
    video, out_dir = Path(video), Path(out_dir)
    m = _Manifest(out_dir)
    d = m.data
    if not d.get("complete") or not video.is_file():
        return None
    if any(d.get(k) != v for k, v in _video_signature(video).items()) or d.get("every") != every \
            or d.get("fps") != fps:
        return None
    paths = [out_dir / n for n in d.get("written", [])]
    return paths if paths and all(p.is_file() for p in paths) else None


@dataclass
class ExtractResult:
    out_dir: Path
    paths: list[Path] = field(default_factory=list)  # the frames written, in order
    frames_read: int = 0
    info: VideoInfo | None = None
    warning: str | None = None


def png_params(level: int) -> list[int]:
    """OpenCV's PNG options for a compression level: 0 stores the pixels unfiltered (about 6 MB for a
    1080p frame, 12 ms of CPU: disk speed), 1 (the default) filters each row by its left neighbour and
    Huffman-codes it without searching for matches (2 MB, 50 ms: half of zlib level 1 with adaptive
    filters, for 10 % more bytes), 2-9 zlib's levels (smaller, slower). All are lossless."""
    level = int(level)
    if level <= 0:
        return [cv2.IMWRITE_PNG_COMPRESSION, 0, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    params = [cv2.IMWRITE_PNG_COMPRESSION, min(level, 9), cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]
    if level == 1:
        params += [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY]
    return params


def _write_png(path: Path, frame: np.ndarray, compress_level: int) -> None:
    ok, buf = cv2.imencode(".png", frame, png_params(compress_level))
    if not ok:
        raise VideoError(f"{path}: PNG encoding failed")
    with atomic_path(path, suffix=".png.tmp") as tmp:
        tmp.write_bytes(buf.tobytes())


def extract_frames(video: str | Path, out_dir: str | Path | None = None, *, every: int | None = None,
                   fps: float | None = None, progress: ProgressFn | None = None, cancelled: CancelFn | None = None,
                   compress_level: int = 1, workers: int = 2, info: VideoInfo | None = None) -> ExtractResult:
    """Write every `every`-th frame (or `fps` frames a second) of `video` into `out_dir` as PNGs.

    `progress(written, expected)` after each frame; `cancelled()` is checked per frame and raises
    Cancelled (the frames written so far stay, listed in the manifest). Raises VideoError for a
    video that cannot be read and before writing anything if a frame's name is taken by a file we
    did not write. `info`: the video's `probe_video` when the caller has it (not probed again)."""
    video = Path(video)
    info = info if info is not None and info.path == video else probe_video(video)
    step = frame_step(info, every, fps)
    out_dir = Path(out_dir) if out_dir is not None else frames_folder(video)
    if out_dir.exists() and not out_dir.is_dir():
        raise VideoError(f"{out_dir}: exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = _Manifest(out_dir)
    foreign = _foreign_frames(out_dir, video.stem, manifest.frames)
    if foreign:
        raise VideoError(f"{foreign[0]}: a frame file that segstudio did not write is in the way "
                         f"({len(foreign)} such files in {out_dir}); choose another output folder")
    expected = len(picked_indices(info.frame_count, step)) if info.frame_count else 0
    result = ExtractResult(out_dir, info=info)
    cap = _open_capture(video)
    try:
        _extract_loop(cap, video.stem, step, manifest, result, expected, progress, cancelled, compress_level, workers)
    finally:
        cap.release()
    if info.frame_count and result.frames_read < info.frame_count - max(2, info.frame_count // 100):
        result.warning = (f"{video}: frames stopped after {result.frames_read} of the {info.frame_count} "
                          "the file announces (a truncated or damaged file?)")
    written = {p.name for p in result.paths}
    stale = sorted(n for n in manifest.frames if n not in written and (out_dir / n).is_file())
    if stale:
        note = (f"{len(stale)} frames of an earlier extraction at another rate are also in {out_dir} "
                f"(e.g. {stale[0]})")
        result.warning = f"{result.warning}; {note}" if result.warning else note
    manifest.save(True, **_video_signature(video), every=every, fps=fps, written=[p.name for p in result.paths])
    return result


def _extract_loop(cap, stem, step, manifest, result, expected, progress, cancelled, level, workers) -> None:
    pending: deque = deque()
    next_pick, k, index = 0, 0, 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        try:
            while cap.grab():
                if index == next_pick:
                    if cancelled is not None and cancelled():
                        raise Cancelled()
                    ok, frame = cap.retrieve()
                    if not ok:
                        break
                    path = result.out_dir / frame_name(stem, index)
                    if path.name not in manifest.frames:
                        manifest.claim(frame_name(stem, index + int(round(j * step)))
                                       for j in range(CLAIM_BATCH))
                    pending.append(pool.submit(_write_png, path, frame, level))
                    result.paths.append(path)
                    while len(pending) > 2 * workers:
                        pending.popleft().result()
                        if progress is not None:
                            progress(len(result.paths) - len(pending), max(expected, len(result.paths)))
                    k += 1
                    next_pick = int(round(k * step))
                index += 1
            result.frames_read = index
        finally:
            errors = []
            for f in pending:
                try:
                    f.result()
                except Exception as e:  # noqa: BLE001 - the first one is raised below
                    errors.append(e)
            if errors and not isinstance(errors[0], VideoError):
                raise VideoError(f"{result.out_dir}: cannot write frames ({errors[0]})") from errors[0]
            if errors:
                raise errors[0]
    if progress is not None:
        progress(len(result.paths), max(expected, len(result.paths)))


# --- image folders as sequences ------------------------------------------------------------


def sequence_key(path: str | Path) -> tuple[str, int] | None:
    """(prefix, frame number) of a name that ends in digits (`0016E5_07959` -> ('0016E5_', 7959))."""
    m = _SEQ_RE.match(Path(path).stem)
    return (m["prefix"], int(m["number"])) if m else None


def sequences(paths) -> list[list[Path]]:
    """The images grouped into sequences (same prefix before a trailing frame number, two or more
    frames), each in frame order; images that belong to none are left out."""
    groups: dict[tuple[Path, str], list[tuple[int, Path]]] = {}
    for p in map(Path, paths):
        key = sequence_key(p)
        if key is not None:
            groups.setdefault((p.parent, key[0]), []).append((key[1], p))
    return [[p for _, p in sorted(g, key=lambda t: (t[0], t[1].name))] for g in groups.values() if len(g) > 1]


def neighbours(paths, path: str | Path) -> tuple[Path | None, Path | None]:
    """(previous, next) frame of `path` in its sequence (None at an end, or when it is in none)."""
    path = Path(path)
    for seq in sequences(paths):
        if path in seq:
            i = seq.index(path)
            return (seq[i - 1] if i > 0 else None), (seq[i + 1] if i + 1 < len(seq) else None)
    return None, None


def following(paths, path: str | Path, k: int) -> list[Path]:
    """Up to `k` frames after `path` in its sequence, in order."""
    path = Path(path)
    for seq in sequences(paths):
        if path in seq:
            i = seq.index(path)
            return seq[i + 1:i + 1 + max(0, int(k))]
    return []


def list_frames(folder: str | Path) -> list[Path]:
    """The frame PNGs of `folder` in name order (what an extraction wrote there, and anything frame-named)."""
    return sorted((p for p in Path(folder).iterdir() if _FRAME_RE.match(p.name)), key=lambda p: p.name) \
        if Path(folder).is_dir() else []

