"""How long `--start T` takes to reach its first frame: a seek to the key frame before T against
decoding every frame from the beginning and dropping them (what `VideoReader` did before it seeked).

The clip is 60 s of a pan over sklearn's china.jpg at 640×360, 24 fps, written as H.264 (x264
"veryfast", yuv420p) with x264's default key frame interval (at most 250 frames).

    python benchmarks/video_seek.py [--seconds 60] [--starts 0,30,55]    (writes benchmarks/results/video_seek.json)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from _common import write_json
from video_speed import pan_frames

from vcodec.io.video import VideoReader

FPS = 24


def write_h264(path: Path, seconds: int) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for frame in pan_frames(seconds * FPS):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def first_frame_by_seek(path: Path, start: float) -> tuple[float, np.ndarray]:
    began = time.perf_counter()
    with VideoReader(path) as video:
        frame = next(video.frames(start=start))
    return time.perf_counter() - began, frame


def first_frame_by_dropping(path: Path, start: float) -> tuple[float, np.ndarray]:
    began = time.perf_counter()
    with av.open(str(path)) as container:
        first = round(start * FPS)
        for index, frame in enumerate(container.decode(container.streams.video[0])):
            if index == first:
                return time.perf_counter() - began, frame.to_ndarray(format="rgb24")
    raise RuntimeError("clip too short")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--starts", default="0,30,55")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        clip = write_h264(Path(folder) / "pan.mp4", args.seconds)
        for start in (float(s) for s in args.starts.split(",")):
            seek_s, seek_frame = first_frame_by_seek(clip, start)
            drop_s, drop_frame = first_frame_by_dropping(clip, start)
            same = bool(np.array_equal(seek_frame, drop_frame))
            rows.append(
                {
                    "start_s": start,
                    "seek_s": round(seek_s, 3),
                    "decode_and_drop_s": round(drop_s, 3),
                    "same_frame": same,
                }
            )
            print(
                f"start {start:5.1f} s: seek {seek_s:6.3f} s, decode and drop {drop_s:6.3f} s, same frame: {same}"
            )
    write_json(
        "video_seek",
        {"clip": f"{args.seconds} s, 640×360, {FPS} fps, H.264 veryfast", "results": rows},
    )


if __name__ == "__main__":
    main()
