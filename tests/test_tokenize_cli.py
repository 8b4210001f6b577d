"""`vcodec tokenize` and `vcodec encode/decode` with a tokenizer model."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from test_tokenizers import smooth_images, tiny_tokenizer

from vcodec.cli.main import main
from vcodec.zoo import save_checkpoint


@pytest.fixture()
def tok_zoo(tmp_path, monkeypatch, checkpoint_root):
    """A zoo with one tiny tokenizer and one tiny codec."""
    import shutil

    root = tmp_path / "zoo"
    save_checkpoint(tiny_tokenizer(), root / "tiny-tok", {"description": "test"}, "# test\n")
    shutil.copytree(checkpoint_root / "tiny", root / "tiny")
    monkeypatch.setenv("VCODEC_CHECKPOINTS", str(root))
    return root


def write_images(folder, count=5, size=(40, 36)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        array = (smooth_images(1, 48, seed=i)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        Image.fromarray(array[: size[1], : size[0]]).save(folder / f"im{i}.png")
    return folder


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def test_tokenize_one_image_prints_or_saves_ids(tok_zoo, tmp_path):
    image = write_images(tmp_path / "in", 1) / "im0.png"
    result = run("tokenize", image, "-m", "tiny-tok", "-k", "5")
    assert result.exit_code == 0, result.output
    ids = [int(t) for t in result.output.split()]
    assert len(ids) == 5 and all(0 <= t < 125 for t in ids)
    assert run("tokenize", image, "-m", "tiny-tok", "--out", tmp_path / "ids.npy").exit_code == 0
    assert np.load(tmp_path / "ids.npy").tolist()[:5] == ids
    assert (
        run("tokenize", image, "-m", "tiny-tok", "--out", tmp_path / "ids.npy").exit_code == 1
    )  # no --force


def test_tokenize_a_folder_into_resumable_shards_split_by_rank(tok_zoo, tmp_path):
    src = write_images(tmp_path / "in", 5)
    out = tmp_path / "tokens"
    for rank in (0, 1):
        result = run(
            "tokenize",
            src,
            "-m",
            "tiny-tok",
            "--out",
            out,
            "--shard-size",
            "2",
            env={"RANK": str(rank), "WORLD_SIZE": "2"},
        )
        assert result.exit_code == 0, result.output
    shards = sorted(out.glob("*.npz"))
    assert [s.name for s in shards] == [
        "shard-r000-00000.npz",
        "shard-r000-00001.npz",
        "shard-r001-00000.npz",
    ]
    files = [f for s in shards for f in np.load(s)["files"].tolist()]
    assert sorted(files) == [f"im{i}.png" for i in range(5)]
    assert np.load(shards[0])["tokens"].shape == (2, 8)
    again = run(
        "tokenize", src, "-m", "tiny-tok", "--out", out, env={"RANK": "0", "WORLD_SIZE": "2"}
    )
    assert "0 images tokenized, 5 already there" in again.output
    assert len(list(out.glob("*.npz"))) == 3


def test_tokenize_errors_are_one_line(tok_zoo, tmp_path):
    src = write_images(tmp_path / "in", 1)
    for args, message in [
        (
            ["tokenize", src / "im0.png", "-m", "tiny"],
            "not an image tokenizer or a video tokenizer",
        ),
        (["tokenize", src / "im0.png", "-m", "tiny-tok", "-k", "9"], "1…8"),
        (["tokenize", src, "-m", "tiny-tok"], "needs --out"),
        (["tokenize", src / "im0.png", "-m", "tiny-tok", "--fit", "refuse"], "takes 32×32"),
    ]:
        result = run(*args)
        assert (
            result.exit_code == 1 and message in result.output and "Traceback" not in result.output
        )


def test_encode_info_decode_with_a_tokenizer(tok_zoo, tmp_path):
    image = write_images(tmp_path / "in", 1) / "im0.png"
    stream, decoded = tmp_path / "im.vcd", tmp_path / "im.png"
    result = run("encode", image, stream, "-m", "tiny-tok", "-k", "6")
    assert result.exit_code == 0 and "6 tokens" in result.output, result.output
    assert "tokens:   6" in run("info", stream).output
    result = run("decode", stream, decoded)
    assert result.exit_code == 0, result.output
    assert Image.open(decoded).size == (32, 32)
    tokenizer = tiny_tokenizer()
    from vcodec.io.images import load_square

    expected = tokenizer.decode(tokenizer.encode(load_square(image, 32), 6))
    got = torch.from_numpy(np.array(Image.open(decoded))).permute(2, 0, 1).float() / 255
    assert (got - expected[0]).abs().max() <= 1 / 255 + 1e-6


def test_models_lists_a_2d_tokenizer(tmp_path, monkeypatch):
    from test_tokenizers import tiny_conv_tokenizer

    save_checkpoint(
        tiny_conv_tokenizer(), tmp_path / "zoo" / "tiny-vq2d", {"description": "test"}, "# test\n"
    )
    monkeypatch.setenv("VCODEC_CHECKPOINTS", str(tmp_path / "zoo"))
    result = run("models")
    assert result.exit_code == 0 and "tiny-vq2d: tokenizer, tokens 1–16" in result.output
