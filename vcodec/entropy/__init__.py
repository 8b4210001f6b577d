"""Entropy coding: the range-coder wrapper, continuous entropy models and the bitstream container."""

from vcodec.entropy.coder import CdfTables, decode, encode
from vcodec.entropy.container import Container, Kind
from vcodec.entropy.continuous import FactorizedModel, GaussianModel

__all__ = ["CdfTables", "Container", "FactorizedModel", "GaussianModel", "Kind", "decode", "encode"]
