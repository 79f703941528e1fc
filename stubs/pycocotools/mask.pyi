from typing import Any

import numpy as np
import numpy.typing as npt

# encode takes a Fortran-ordered (h, w) uint8 array and returns {"size": [h, w], "counts": bytes}.
def encode(bimask: npt.NDArray[np.uint8]) -> dict[str, Any]: ...
def decode(rleObjs: dict[str, Any]) -> npt.NDArray[np.uint8]: ...
