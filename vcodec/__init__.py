"""vcodec: learned image and video codecs and visual tokenizers that write real bitstreams.

>>> import vcodec
>>> codec = vcodec.load()                  # the shipped default image codec
>>> data = codec.compress(image, quality=4) # image: 1×3×H×W floats in [0, 1] → bytes
>>> image_hat = codec.decompress(data)
>>> tok = vcodec.load("tok1d-64")          # a tokenizer: the same load, the Tokenizer protocol
>>> tokens = tok.encode(images)            # B×3×128×128 → B×64 ids; tok.decode(tokens[:, :16])
>>> video = vcodec.load("pixel-residual-medium")  # a video codec: one packet per frame, streaming
>>> packets = list(video.encode(frames, quality=4))  # frames: iterable of 1×3×H×W
>>> decoded = list(video.decode(packets, width, height, quality=4))

``import vcodec`` is cheap: names that need torch import it on first use. It also makes idle OpenMP
threads sleep instead of spin (see :mod:`vcodec.threads`), which must happen before torch loads.
"""

from vcodec.threads import configure_openmp

configure_openmp()

from vcodec._lazy import lazy_attributes  # noqa: E402
from vcodec.errors import BitstreamError, VcodecError  # noqa: E402

__version__ = "0.1.0"

_LAZY = {
    "ImageCodec": "vcodec.codecs:LearnedImageCodec",
    "VideoCodec": "vcodec.codecs.video_base:VideoCodec",
    "Tokenizer": "vcodec.tokenizers",
    "DEFAULT_MODEL": "vcodec.zoo",
    "list_models": "vcodec.zoo",
    "load": "vcodec.zoo",
}
__getattr__ = lazy_attributes(__name__, _LAZY)

__all__ = [
    "BitstreamError",
    "DEFAULT_MODEL",
    "ImageCodec",
    "Tokenizer",
    "VcodecError",
    "VideoCodec",
    "list_models",
    "load",
    "__version__",
]
