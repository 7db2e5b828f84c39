"""What an engine runs a plan on: one value per node, checked, with its dtype and shape.

Every entry point that takes node values checks them here, with one wording:
``allreduce`` on the client (plain values), the engines on the workers (values that are
already there as futures), and the SPMD ranks (``Group.allreduce``). A node's value is a
number or a real numeric array; all nodes have one shape; they are averaged in one working
dtype (:func:`working_dtype`).

Public: :class:`Inputs` (what an engine's ``run`` takes), :func:`local_inputs` (plain
values made into inputs, as ``allreduce`` does without a client) and :func:`working_dtype`.
:func:`as_node_array` is the engines' own check of one node's value.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from numbers import Real

import numpy as np

from distlab.concepts.plans import MAX_NODES

__all__ = ["Inputs", "local_inputs", "working_dtype"]


def as_node_array(value, name: str) -> np.ndarray:
    """``value`` as a numpy array (not copied when it already is one). Internal: the
    engines' check of one node's value.

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
    float64 gives float64).

    ``dtypes``: numpy dtypes (or what ``numpy.dtype`` accepts). Raises ``TypeError`` when
    ``dtypes`` is not a list of dtypes, ``ValueError`` when it is empty."""
    if isinstance(dtypes, (str, bytes)) or not hasattr(dtypes, "__iter__"):
        raise TypeError(f"dtypes must be a list of numpy dtypes, got {type(dtypes).__name__}")
    dtypes = list(dtypes)
    if not dtypes:
        raise ValueError("dtypes must hold at least one node's dtype, got an empty list")
    if any(d is None for d in dtypes):          # numpy would read None as float64
        raise TypeError("dtypes must be a list of numpy dtypes, got None in it")
    try:
        return np.result_type(*dtypes, np.float32)
    except TypeError as exc:
        raise TypeError(f"dtypes must be a list of numpy dtypes: {exc}") from None


def _check_shapes(shapes) -> tuple:
    """The one shape of all nodes; ``ValueError`` listing them when they differ."""
    distinct = sorted(set(shapes), key=str)
    if len(distinct) > 1:
        raise ValueError(f"values must all have one shape, got shapes {distinct}")
    return distinct[0]


def _describe_value(value) -> tuple:
    """Runs on a worker: (shape, dtype string, numeric kind, all finite) of a node's value,
    so the client can check a value it has not fetched (:func:`_check_descriptions`)."""
    array = np.asarray(value)
    kind = array.dtype.kind
    finite = bool(np.all(np.isfinite(array))) if kind in "biuf" else False
    return array.shape, array.dtype.str, kind, finite


def _check_descriptions(descriptions) -> tuple[tuple, np.dtype]:
    """The nodes' (shape, working dtype) from :func:`_describe_value` of each, with the
    errors :func:`as_node_array` and :func:`_check_shapes` raise."""
    for i, (_, dtype, kind, finite) in enumerate(descriptions):
        if kind not in "biuf":
            raise TypeError(f"values[{i}] must hold a real numeric array, got dtype {dtype}")
        if not finite:
            raise ValueError(f"values[{i}] must be finite, but contains NaN or infinity")
    shape = _check_shapes([tuple(d[0]) for d in descriptions])
    return shape, working_dtype([np.dtype(d[1]) for d in descriptions])


def _check_value_list(values) -> list:
    """``values`` as a list with one entry per node: ``TypeError`` for a number, a string,
    a mapping or anything without a length, ``ValueError`` for an empty list or more than
    :data:`~distlab.concepts.plans.MAX_NODES` nodes."""
    if isinstance(values, (str, bytes, dict, set, Real)) or values is None \
            or not hasattr(values, "__len__") or not hasattr(values, "__getitem__"):
        raise TypeError("values must be a list with one value per node, "
                        f"got {type(values).__name__}")
    if len(values) == 0:
        raise ValueError("values must hold at least one node's value, got an empty list")
    if len(values) > MAX_NODES:
        raise ValueError(f"values must hold at most {MAX_NODES} nodes' values "
                         f"(plans.MAX_NODES), got {len(values):,}")
    return list(values)


@dataclass(frozen=True)
class Inputs:
    """One value per node, and where each lives.

    ``values``: flat arrays of ``dtype`` (plain values, checked and copied) or, when
    ``futures``, one ``distributed.Future`` per node (not fetched, so ``shape`` and
    ``dtype`` stay ``None`` until an engine has described them on the workers).
    ``homes``: node i's worker address on a cluster, ``None`` in-process.

    A record that :func:`local_inputs` and the engines build from checked values; its
    fields are not checked again here.
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
    flat arrays of their working dtype; the caller's values are never modified.

    ``values``: one number or real numeric array per node (1 to MAX_NODES of them);
    ``homes``: ``None``, or one worker address per node. Raises ``TypeError`` /
    ``ValueError`` naming ``values``, ``values[i]`` or ``homes``."""
    values = _check_value_list(values)
    if homes is not None:
        if isinstance(homes, (str, bytes)) or not hasattr(homes, "__len__") \
                or not all(isinstance(h, str) for h in homes):
            raise TypeError("homes must be a list of worker addresses, one per node")
        if len(homes) != len(values):
            raise ValueError(f"homes must name one worker per node ({len(values)}), "
                             f"got {len(homes)}")
    arrays = [as_node_array(v, f"values[{i}]") for i, v in enumerate(values)]
    shape = _check_shapes([a.shape for a in arrays])
    dtype = working_dtype([a.dtype for a in arrays])
    flats = tuple(np.array(a, dtype=dtype).reshape(-1) for a in arrays)       # copies
    return Inputs(flats, shape, dtype, None if homes is None else tuple(homes))
