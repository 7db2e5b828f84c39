"""What an engine runs a plan on: one value per node, checked, with its dtype and shape.

Every entry point that takes node values checks them here, with one wording:
``allreduce`` on the client (plain values), the engines on the workers (values that are
already there as futures), and the SPMD ranks (``Group.allreduce``). A node's value is a
number or a real numeric array; all nodes have one shape; they are averaged in one working
dtype (:func:`working_dtype`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from numbers import Real

import numpy as np


def as_node_array(value, name: str) -> np.ndarray:
    """``value`` as a numpy array (not copied when it already is one).

    Raises ``TypeError`` unless it is a number or a real numeric array (``name`` says which
    value, e.g. ``"values[1]"``) and ``ValueError`` when it holds NaN or infinity.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number or a numeric array, "
                        f"got {type(value).__name__}")
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number or a numeric array, got {value!r}") from exc
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a number or a real numeric array, "
                        f"got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, but contains NaN or infinity")
    return array


def working_dtype(dtypes) -> np.dtype:
    """The dtype the nodes' values are averaged in: ``numpy.result_type`` of their dtypes
    and float32, the smallest float that holds them all (NumPy's type promotion, NEP 50).

    For the nodes' dtypes all alike: bool, int8, uint8, int16, uint16, float16 and float32
    give float32 (gradients often are float32, and float32 holds these exactly); int32,
    uint32, int64, uint64 and float64 give float64; longdouble stays longdouble. Python
    ints and floats are int64 and float64 to numpy, so they give float64. Mixed: the
    widest of those results (float32 with int8 stays float32, float32 with int32 or with
    float64 gives float64)."""
    return np.result_type(*dtypes, np.float32)


def check_shapes(shapes) -> tuple:
    """The one shape of all nodes; ``ValueError`` listing them when they differ."""
    distinct = sorted(set(shapes), key=str)
    if len(distinct) > 1:
        raise ValueError(f"values must all have one shape, got shapes {distinct}")
    return distinct[0]


def describe_value(value) -> tuple:
    """Runs on a worker: (shape, dtype string, numeric kind, all finite) of a node's value,
    so the client can check a value it has not fetched (:func:`check_descriptions`)."""
    array = np.asarray(value)
    kind = array.dtype.kind
    finite = bool(np.all(np.isfinite(array))) if kind in "biuf" else False
    return array.shape, array.dtype.str, kind, finite


def check_descriptions(descriptions) -> tuple[tuple, np.dtype]:
    """The nodes' (shape, working dtype) from :func:`describe_value` of each, with the
    errors :func:`as_node_array` and :func:`check_shapes` raise."""
    for i, (_, dtype, kind, finite) in enumerate(descriptions):
        if kind not in "biuf":
            raise TypeError(f"values[{i}] must hold a real numeric array, got dtype {dtype}")
        if not finite:
            raise ValueError(f"values[{i}] must be finite, but contains NaN or infinity")
    shape = check_shapes([tuple(d[0]) for d in descriptions])
    return shape, working_dtype([np.dtype(d[1]) for d in descriptions])


def check_value_list(values) -> list:
    """``values`` as a list with one entry per node: ``TypeError`` for a number, a string,
    a mapping or anything without a length, ``ValueError`` for an empty list."""
    if isinstance(values, (str, bytes, dict, set, Real)) or values is None \
            or not hasattr(values, "__len__") or not hasattr(values, "__getitem__"):
        raise TypeError("values must be a list with one value per node, "
                        f"got {type(values).__name__}")
    if len(values) == 0:
        raise ValueError("values must hold at least one node's value, got an empty list")
    return list(values)


@dataclass(frozen=True)
class Inputs:
    """One value per node, and where each lives.

    ``values``: flat arrays of ``dtype`` (plain values, checked and copied) or, when
    ``futures``, one ``distributed.Future`` per node (not fetched, so ``shape`` and
    ``dtype`` stay ``None`` until an engine has described them on the workers).
    ``homes``: node i's worker address on a cluster, ``None`` in-process.
    """
    values: tuple
    shape: tuple | None
    dtype: np.dtype | None
    homes: tuple | None = None
    futures: bool = False

    @property
    def n_nodes(self) -> int:
        return len(self.values)

    @property
    def size(self) -> int:
        """Elements per node (the shape must be known)."""
        return int(np.prod(self.shape, dtype=np.int64))

    def described(self, shape, dtype) -> "Inputs":
        """The same inputs with their shape and working dtype known."""
        return replace(self, shape=tuple(shape), dtype=np.dtype(dtype))

    def initial(self) -> list[np.ndarray]:
        """Each node's flat input of ``dtype`` (future inputs are gathered)."""
        if not self.futures:
            return list(self.values)
        gathered = self.values[0].client.gather(list(self.values))
        return [np.array(v, dtype=self.dtype).reshape(-1) for v in gathered]


def local_inputs(values: list, homes=None) -> Inputs:
    """Plain node values, checked here (:func:`as_node_array`, one shape) and copied into
    flat arrays of their working dtype; the caller's values are never modified."""
    arrays = [as_node_array(v, f"values[{i}]") for i, v in enumerate(values)]
    shape = check_shapes([a.shape for a in arrays])
    dtype = working_dtype([a.dtype for a in arrays])
    flats = tuple(np.array(a, dtype=dtype).reshape(-1) for a in arrays)       # copies
    return Inputs(flats, shape, dtype, None if homes is None else tuple(homes))
