"""vcodec: learned image and video codecs and visual tokenizers that write real bitstreams.

>>> import vcodec
>>> codec = vcodec.load()                  # the shipped default image codec
>>> data = codec.compress(image, quality=4) # image: 1×3×H×W floats in [0, 1] → bytes
>>> image_hat = codec.decompress(data)
>>> tok = vcodec.load("tok1d-64")          # a tokenizer: the same load, the Tokenizer protocol
>>> tokens = tok.encode(images)            # B×3×128×128 → B×64 ids; tok.decode(tokens[:, :16])
>>> video = vcodec.load("temporal-mc-small")  # a video codec: one packet per frame, streaming
>>> packets = list(video.encode(frames, quality=4))  # frames: iterable of 1×3×H×W
>>> decoded = list(video.decode(packets, width, height, quality=4))
"""

import warnings

# compressai 1.2.8 calls torch.jit.script at import time, which torch 2.14 reports on every start.
warnings.filterwarnings("ignore", message=r"`torch.jit.script` is deprecated", category=FutureWarning)

from vcodec.codecs import LearnedImageCodec as ImageCodec
from vcodec.codecs.video import LearnedVideoCodec as VideoCodec
from vcodec.errors import BitstreamError, VcodecError
from vcodec.tokenizers import Tokenizer
from vcodec.zoo import DEFAULT_MODEL, list_models, load

__version__ = "0.1.0"

__all__ = ["BitstreamError", "DEFAULT_MODEL", "ImageCodec", "Tokenizer", "VcodecError", "VideoCodec", "list_models",
           "load", "__version__"]
