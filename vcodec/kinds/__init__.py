"""The model kinds: what every image codec, video codec, tokenizer, video tokenizer and token prior
shares (training, export, evaluation, dependencies, fuzzing); see :mod:`vcodec.registry`."""
