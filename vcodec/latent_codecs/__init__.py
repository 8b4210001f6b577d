"""Latent codecs: the entropy coding of one latent tensor, as parts that compose.

Each part has a float ``forward`` (ŷ and likelihoods, for training) and exact ``compress`` /
``decompress`` that rebuild the same ŷ bit for bit on any machine. Image and video codecs build
their coding from these parts (CompressAI's ``latent_codecs`` is the model):

- :class:`FactorizedLatentCodec`: a fully factorized density per channel (z, or y alone);
- :class:`GaussianConditionalLatentCodec`: a Gaussian whose scale (and mean) come from conditioning;
- :class:`CheckerboardLatentCodec`: the same, in two checkerboard passes, the second conditioned on
  the first (He et al. 2021); optional skip masks and RD-optimised quantization for predicted frames;
- :class:`ChannelSteps`: channel groups coded in turn inside each checkerboard half, each group's
  parameters corrected from the groups before it (Minnen & Singh 2020; He et al. 2022 "ELIC");
- :class:`HyperpriorLatentCodec`: side information z, coded by one part, conditions y, coded by
  another (Ballé et al. 2018).

The parts hold no weights: they compose over modules the codec owns, so a codec's state-dict, and the
weights hash that every stream header carries, do not depend on how its coding is composed.
"""

from vcodec.latent_codecs.base import GainView, LatentCodec
from vcodec.latent_codecs.channel_steps import ChannelSteps
from vcodec.latent_codecs.checkerboard import (
    CheckerboardLatentCodec,
    anchor_mask,
    checkerboard_pass,
)
from vcodec.latent_codecs.factorized import FactorizedLatentCodec
from vcodec.latent_codecs.gaussian import GaussianConditionalLatentCodec
from vcodec.latent_codecs.hyperprior import HyperpriorLatentCodec

__all__ = [
    "ChannelSteps",
    "CheckerboardLatentCodec",
    "FactorizedLatentCodec",
    "GainView",
    "GaussianConditionalLatentCodec",
    "HyperpriorLatentCodec",
    "LatentCodec",
    "anchor_mask",
    "checkerboard_pass",
]
