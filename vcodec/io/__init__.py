"""Reading and writing media: images through Pillow (video through PyAV comes later)."""

from vcodec.io.images import IMAGE_SUFFIXES, load_image, load_rgb_uint8, save_image, write_atomic

__all__ = ["IMAGE_SUFFIXES", "load_image", "load_rgb_uint8", "save_image", "write_atomic"]
