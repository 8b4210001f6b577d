"""The development images of DESIGN.md: bundled with scikit-image and scikit-learn, no download."""

from __future__ import annotations

import numpy as np


def development_images() -> dict[str, np.ndarray]:
    """Name → H×W×3 uint8: astronaut, coffee, chelsea, rocket, motorcycle (left), hubble crop, china, flower."""
    import skimage.data as data
    from sklearn.datasets import load_sample_images

    images = {
        "astronaut": data.astronaut(), "coffee": data.coffee(), "chelsea": data.chelsea(),
        "rocket": data.rocket(), "motorcycle": data.stereo_motorcycle()[0],
        "hubble": data.hubble_deep_field()[:512, :512],
    }
    samples = load_sample_images()
    for path, image in zip(samples.filenames, samples.images):
        images[path.rsplit("/", 1)[-1].split(".")[0]] = image
    return {name: np.ascontiguousarray(im[..., :3]).astype(np.uint8) for name, im in images.items()}
