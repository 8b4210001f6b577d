"""The latent grid's geometry, shared by the image codecs' g_a, their latent caches and the tokenizers
in their latent space; torch-free, so the model catalog can count a latent tokenizer's tokens."""

STRIDE = 16  # pixels per latent position of the image codecs' g_a
