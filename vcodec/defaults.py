"""What a user gets without asking: default models and coding settings, in one place.

Kept free of heavy imports, so ``vcodec --help`` can show them without loading torch.
"""

DEFAULT_MODEL = "checkerboard-medium-v2"  # image codec
DEFAULT_VIDEO_MODEL = "pixel-residual-medium"
DEFAULT_INTRA_PERIOD = 32  # video: an intra frame at least every N frames (and at new shots)
DEFAULT_INTRA_BOOST = (
    1  # video: intra frames are coded this many qualities above the predicted frames
)
# Image qualities after a codec's learned ones: the top learned quality plus a near-lossless residual
# layer, whose largest error of any sample in 8-bit levels is (about 39, 41, 43, 45 and 50 dB PSNR):
REFINEMENT_MAX_ERRORS = (6, 4, 3, 2, 1)
# Encoder effort levels (vcodec encode --effort) → refinement steps (vcodec.codecs.effort): 0 is the
# plain encode, each higher level is slower and smaller. Chosen by measurement (RESULTS.md).
EFFORT_ITERATIONS = (0, 50, 200, 1000)
MAX_EFFORT = len(EFFORT_ITERATIONS) - 1
DEFAULT_GOP = 32  # intra period of the video comparisons (as in the DCVC test conditions)
DEFAULT_IMAGE_METHODS = ("default", "jpeg", "webp", "avif", "x265", "av1")  # vcodec eval images
DEFAULT_VIDEO_METHODS = ("default", "x264", "x265", "av1")  # vcodec eval video
