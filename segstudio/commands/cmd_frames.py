"""`segstudio frames VIDEO`: extract a video's frames as PNGs named by frame index, ready to annotate."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from .arg_types import count, positive
from .progress_text import TextProgress


def add_arguments(p) -> None:
    p.description = ("Extract frames of a video (mp4, avi, mov, mkv, ...) as PNG files named "
                     "<video stem>_f<frame index>.png, into --out (default: <video stem>_frames/ beside the "
                     "video). Open that folder in the studio to annotate the frames as a sequence. Files that "
                     "this command did not write are never overwritten.")
    p.add_argument("video", type=Path, help="the video file")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--every", type=count(1, 1 << 30, "--every"), default=None, metavar="N",
                      help="every N-th frame (default: every frame)")
    rate.add_argument("--fps", type=positive("--fps"), default=None, metavar="F", help="F frames per second of video")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: <video stem>_frames/)")
    p.add_argument("--force", action="store_true", help="extract again even if the folder holds this extraction")
    p.add_argument("--png-compression", type=int, default=1, choices=range(10), metavar="0-9",
                   help="PNG compression: 0 none (fastest, about 3x the size: writes at disk speed), 1 "
                        "fast (default), 2-9 zlib's levels (smaller, slower); all lossless")


def run(args) -> int:
    from segstudio.core.video import extract_frames, frames_folder, probe_video, reusable_extraction

    info = probe_video(args.video)
    out = args.out or frames_folder(args.video)
    print(f"{args.video}: {info.width}x{info.height}, {info.frame_count or 'unknown number of'} frames"
          + (f" at {info.fps:g} fps" if info.fps else ""))
    done = None if args.force else reusable_extraction(args.video, out, args.every, args.fps)
    if done is not None:
        print(f"{out}: already holds these {len(done)} frames (--force extracts again)")
        return 0
    t = time.perf_counter()
    r = extract_frames(args.video, out, every=args.every, fps=args.fps, progress=TextProgress("frames"),
                       compress_level=args.png_compression, info=info)
    s = time.perf_counter() - t
    print(f"wrote {len(r.paths)} frames to {r.out_dir} ({len(r.paths) / max(s, 1e-9):.1f} frames/s, "
          f"{r.frames_read} read)")
    if r.warning:
        print(f"segstudio frames: warning: {r.warning}", file=sys.stderr)
    return 0
