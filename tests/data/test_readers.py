"""Readers: folder / ISBI 2012 / TIFF stack layouts, value conversion, and errors naming files."""

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from minimal_unet.data.readers import (
    Sample,
    read_dataset,
    read_folder,
    read_isbi2012,
    read_tiff_stack,
    split_samples,
)

DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def save_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def make_folder(root, stems=("a", "b"), size=(6, 5), seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    for stem in stems:
        image = rng.integers(0, 256, size=size, dtype=np.uint8)
        mask = np.where(rng.random(size) > 0.5, 255, 0).astype(np.uint8)
        instances = (mask // 255 * rng.integers(1, 9, size=size)).astype(np.uint8)
        save_png(root / "images" / f"{stem}.png", image)
        save_png(root / "masks" / f"{stem}.png", mask)
        save_png(root / "instances" / f"{stem}.png", instances)
        arrays[stem] = (image, mask, instances)
    return arrays


def test_read_folder_values_and_types(tmp_path):
    arrays = make_folder(tmp_path, stems=("b", "a"))
    samples = read_folder(tmp_path)
    assert [s.name for s in samples] == ["a", "b"]
    for s in samples:
        image, mask, instances = arrays[s.name]
        assert isinstance(s, Sample)
        assert s.image.dtype == np.float32 and s.image.shape == (6, 5)
        np.testing.assert_allclose(s.image, image / 255.0, rtol=1e-6)
        assert s.mask.dtype == np.int64
        np.testing.assert_array_equal(s.mask, mask // 255)
        assert s.instances.dtype == np.int32
        np.testing.assert_array_equal(s.instances, instances)


def test_read_folder_without_instances_and_tiff_uint16_multiclass(tmp_path):
    image = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    mask = np.array([[0, 1], [2, 2]], dtype=np.uint8)
    (tmp_path / "images").mkdir()
    tifffile.imwrite(tmp_path / "images" / "x.tif", image)
    save_png(tmp_path / "masks" / "x.png", mask)
    (s,) = read_folder(tmp_path, n_classes=3)
    np.testing.assert_allclose(s.image, image / 65535.0, rtol=1e-6)
    np.testing.assert_array_equal(s.mask, mask)
    assert s.instances is None


def test_float_and_rgb_images(tmp_path):
    (tmp_path / "images").mkdir()
    tifffile.imwrite(tmp_path / "images" / "f.tif", np.array([[0.25, 0.5]], dtype=np.float32))
    rgb = np.zeros((1, 2, 3), dtype=np.uint8)
    rgb[0, 1] = (30, 60, 90)
    save_png(tmp_path / "images" / "g.png", rgb)
    for stem in ("f", "g"):
        save_png(tmp_path / "masks" / f"{stem}.png", np.array([[0, 1]], dtype=np.uint8))
    f, g = read_folder(tmp_path)
    np.testing.assert_array_equal(f.image, np.array([[0.25, 0.5]], dtype=np.float32))
    np.testing.assert_allclose(g.image, [[0.0, 60 / 255]], rtol=1e-6)


def test_mismatched_stems_are_listed(tmp_path):
    make_folder(tmp_path, stems=("a", "b"))
    (tmp_path / "masks" / "b.png").unlink()
    save_png(tmp_path / "masks" / "c.png", np.zeros((6, 5), np.uint8))
    with pytest.raises(ValueError, match=r"\['b'\].*\['c'\]"):
        read_folder(tmp_path)


def test_size_mismatch_names_the_file(tmp_path):
    make_folder(tmp_path, stems=("a",))
    save_png(tmp_path / "masks" / "a.png", np.zeros((7, 5), np.uint8))
    with pytest.raises(ValueError, match=r"masks/a\.png.*\(7, 5\).*\(6, 5\)"):
        read_folder(tmp_path)


def test_bad_label_values_name_the_file(tmp_path):
    make_folder(tmp_path, stems=("a",))
    save_png(tmp_path / "masks" / "a.png", np.full((6, 5), 128, np.uint8))
    with pytest.raises(ValueError, match=r"masks/a\.png.*\[128\]"):
        read_folder(tmp_path)
    save_png(tmp_path / "masks" / "a.png", np.full((6, 5), 2, np.uint8))
    with pytest.raises(ValueError, match=r"0\.\.1.*\[2\]"):
        read_folder(tmp_path, n_classes=2)


def test_missing_empty_and_unreadable(tmp_path):
    with pytest.raises(FileNotFoundError, match="images"):
        read_folder(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    with pytest.raises(ValueError, match="no PNG or TIFF files"):
        read_folder(tmp_path)
    (tmp_path / "images" / "a.png").write_bytes(b"not a png")
    save_png(tmp_path / "masks" / "a.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match=r"images/a\.png: cannot read"):
        read_folder(tmp_path)


def test_unsupported_image_dtype(tmp_path):
    (tmp_path / "images").mkdir()
    tifffile.imwrite(tmp_path / "images" / "a.tif", np.zeros((2, 2), np.int32))
    save_png(tmp_path / "masks" / "a.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(TypeError, match="int32"):
        read_folder(tmp_path)


def test_tiff_stack(tmp_path):
    rng = np.random.default_rng(1)
    stack = rng.integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
    labels = np.where(rng.random((3, 4, 5)) > 0.5, 255, 0).astype(np.uint8)
    tifffile.imwrite(tmp_path / "vol.tif", stack, photometric="minisblack")
    tifffile.imwrite(tmp_path / "lab.tif", labels, photometric="minisblack")
    samples = read_tiff_stack(tmp_path / "vol.tif", tmp_path / "lab.tif")
    assert [s.name for s in samples] == ["vol_00", "vol_01", "vol_02"]
    for page, s in enumerate(samples):
        np.testing.assert_allclose(s.image, stack[page] / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(s.mask, labels[page] // 255)
    assert read_tiff_stack(tmp_path / "vol.tif")[0].mask is None
    tifffile.imwrite(tmp_path / "short.tif", labels[0:2], photometric="minisblack")
    with pytest.raises(ValueError, match=r"short\.tif.*\(2, 4, 5\).*\(3, 4, 5\)"):
        read_tiff_stack(tmp_path / "vol.tif", tmp_path / "short.tif")
    same = read_dataset(tmp_path / "vol.tif", layout="tiff", labels=tmp_path / "lab.tif")
    np.testing.assert_array_equal(same[2].mask, samples[2].mask)


def test_isbi_original_stack_layout(tmp_path):
    stack = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    labels = np.where(stack % 2 == 0, 255, 0).astype(np.uint8)  # 0 = membrane, 255 = cell
    tifffile.imwrite(tmp_path / "train-volume.tif", stack)
    tifffile.imwrite(tmp_path / "train-labels.tif", labels)
    samples = read_isbi2012(tmp_path)
    np.testing.assert_array_equal(samples[1].mask, (stack[1] % 2 == 0).astype(np.int64))


def test_read_dataset_bad_layout():
    with pytest.raises(ValueError, match="layout"):
        read_dataset(".", layout="zarr")


def test_split_samples():
    samples = [Sample(np.zeros((1, 1), np.float32), None, None, f"{i:02d}") for i in range(30)]
    train, val = split_samples(samples[::-1], n_val=5)
    assert [s.name for s in val] == ["25", "26", "27", "28", "29"]
    assert len(train) == 25 and train[0].name == "00"
    with pytest.raises(ValueError, match="n_val"):
        split_samples(samples, n_val=31)


def test_real_isbi2012():
    root = DATASETS / "isbi2012-em"
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (../shared/datasets absent)")
    samples = read_isbi2012(root, split="train")
    assert len(samples) == 30 and samples[0].name == "00"
    raw_label = np.array(Image.open(root / "train" / "labels" / "07.png"))
    raw_image = np.array(Image.open(root / "train" / "images" / "07.png"))
    np.testing.assert_array_equal(samples[7].mask, raw_label // 255)
    np.testing.assert_allclose(samples[7].image, raw_image / 255.0, rtol=1e-6)
    assert samples[7].image.shape == (512, 512)
    test = read_dataset(root, layout="isbi2012", split="test")
    assert len(test) == 30 and test[0].mask is None


def test_real_dsb():
    root = DATASETS / "dsb2018-nuclei"
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (../shared/datasets absent)")
    samples = read_folder(root)
    assert len(samples) == 100
    train, val = split_samples(samples, n_val=20)
    assert train[79].name == "5d2c98fd6fda" and val[0].name == "5ddbfba25194"
    for s in samples[0:5]:
        np.testing.assert_array_equal(s.mask, (s.instances > 0).astype(np.int64))


def test_integer_images_scale_exactly_as_float64_division_would():
    from minimal_unet.data.readers import to_float_image
    for dtype, top in ((np.uint8, 255.0), (np.uint16, 65535.0)):
        a = np.arange(np.iinfo(dtype).max + 1, dtype=dtype).reshape(1, -1)
        np.testing.assert_array_equal(to_float_image(a), (a / top).astype(np.float32))
