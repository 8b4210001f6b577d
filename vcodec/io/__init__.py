"""Reading and writing media: images through Pillow, video through PyAV, BT.709 colour conversion."""

from vcodec.io.images import IMAGE_SUFFIXES, load_image, load_rgb_uint8, save_image, write_atomic
from vcodec.io.video import VIDEO_SUFFIXES, VideoClip, read_video

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "VideoClip",
    "load_image",
    "load_rgb_uint8",
    "read_video",
    "save_image",
    "write_atomic",
]
