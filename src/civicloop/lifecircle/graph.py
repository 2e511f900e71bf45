"""The walking network as a compressed-sparse-row graph in numpy.

One array layout serves every consumer: the numba kernels read ``indptr``/``indices``/
``weights`` directly, scipy gets a zero-copy ``csr_matrix``, and the arrays save to one
``.npz`` so an import is parsed once. Weights are float64 metres: float32 flips results that
sit at the cutoff (DOMAIN.md §7).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse
from scipy.sparse.csgraph import connected_components

__all__ = ["FloatArray", "IntArray", "WalkGraph"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]

# Bumped when the saved layout changes, so an old cache file is rebuilt, not misread.
_FORMAT = 1
_ARRAYS = (
    "lon",
    "lat",
    "osm_ids",
    "indptr",
    "indices",
    "weights",
    "edge_u",
    "edge_v",
    "edge_len",
    "component",
)


@dataclass(frozen=True, eq=False)
class WalkGraph:
    """Undirected walking network in CSR form; every edge stored in both directions.

    Weights are float64 metres (float32 flips results at the cutoff: DOMAIN.md §7).
    """

    lon: FloatArray  # (n,) WGS-84
    lat: FloatArray  # (n,)
    osm_ids: IntArray  # (n,) OSM node id; -1 for virtual (spliced) nodes
    indptr: IntArray  # (n+1,)
    indices: Int32Array  # (2m,)
    weights: FloatArray  # (2m,) metres
    edge_u: Int32Array  # (m,) undirected edges, u < v, unique
    edge_v: Int32Array  # (m,)
    edge_len: FloatArray  # (m,)
    component: Int32Array  # (n,) connected-component label
    main_component: int  # label of the largest component (by node count); -1 if empty

    @property
    def n_nodes(self) -> int:
        return int(self.lon.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_u.shape[0])

    @classmethod
    def from_edges(
        cls,
        *,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        osm_ids: npt.ArrayLike,
        u: npt.ArrayLike,
        v: npt.ArrayLike,
        length: npt.ArrayLike,
    ) -> WalkGraph:
        """Drop self-loops, keep the shortest of parallel edges, build CSR (sorted by source,
        then target), label components."""
        lon_a = np.ascontiguousarray(lon, dtype=np.float64)
        lat_a = np.ascontiguousarray(lat, dtype=np.float64)
        ids_a = np.ascontiguousarray(osm_ids, dtype=np.int64)
        n = lon_a.shape[0]
        if lat_a.shape != (n,) or ids_a.shape != (n,):
            raise ValueError("lon, lat and osm_ids must have the same length")
        u_a = np.asarray(u, dtype=np.int64).ravel()
        v_a = np.asarray(v, dtype=np.int64).ravel()
        len_a = np.asarray(length, dtype=np.float64).ravel()
        if not (u_a.shape == v_a.shape == len_a.shape):
            raise ValueError("u, v and length must have the same length")
        if u_a.size and (min(u_a.min(), v_a.min()) < 0 or max(u_a.max(), v_a.max()) >= n):
            raise ValueError("edge endpoint out of range")
        if u_a.size and not (np.all(np.isfinite(len_a)) and len_a.min() >= 0):
            raise ValueError("edge lengths must be finite and >= 0")

        lo, hi = np.minimum(u_a, v_a), np.maximum(u_a, v_a)
        keep = lo != hi
        lo, hi, len_a = lo[keep], hi[keep], len_a[keep]
        # Sort by (lo, hi, length): the first of each (lo, hi) run is the shortest.
        order = np.lexsort((len_a, hi, lo))
        lo, hi, len_a = lo[order], hi[order], len_a[order]
        first = np.ones(lo.shape[0], dtype=bool)
        first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
        edge_u = lo[first].astype(np.int32)
        edge_v = hi[first].astype(np.int32)
        edge_len = np.ascontiguousarray(len_a[first])

        src = np.concatenate([edge_u, edge_v])
        dst = np.concatenate([edge_v, edge_u])
        w = np.concatenate([edge_len, edge_len])
        order = np.lexsort((dst, src))
        indices = np.ascontiguousarray(dst[order], dtype=np.int32)
        weights = np.ascontiguousarray(w[order])
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])

        component, main = _components(n, indptr, indices)
        return cls(
            lon=lon_a,
            lat=lat_a,
            osm_ids=ids_a,
            indptr=indptr,
            indices=indices,
            weights=weights,
            edge_u=edge_u,
            edge_v=edge_v,
            edge_len=edge_len,
            component=component,
            main_component=main,
        )

    def to_scipy(self) -> scipy.sparse.csr_matrix:
        """The same arrays as a scipy matrix, for the reference algorithms (no copy).

        Zero-length edges (two OSM nodes at one spot) stay explicit entries, which csgraph
        treats as edges.
        """
        n = self.n_nodes
        return scipy.sparse.csr_matrix((self.weights, self.indices, self.indptr), shape=(n, n))

    def save(self, path: Path) -> None:
        """Write every array to one compressed ``.npz`` (the path is used as given)."""
        with Path(path).open("wb") as fh:
            np.savez_compressed(
                fh,
                format=np.array(_FORMAT, dtype=np.int64),
                main_component=np.array(self.main_component, dtype=np.int64),
                **{name: getattr(self, name) for name in _ARRAYS},
            )

    @classmethod
    def load(cls, path: Path) -> WalkGraph:
        """Read a graph written by `save`; raise ValueError for any other file."""
        with np.load(Path(path), allow_pickle=False) as data:
            missing = {"format", "main_component", *_ARRAYS} - set(data.files)
            if missing or int(data["format"]) != _FORMAT:
                raise ValueError(f"{path} is not a saved walking graph (format {_FORMAT})")
            arrays = {name: data[name] for name in _ARRAYS}
            main = int(data["main_component"])
        return cls(main_component=main, **arrays)

    def fingerprint(self) -> str:
        """sha256 of the arrays (shape, dtype and bytes): equal graphs, equal fingerprint."""
        digest = hashlib.sha256(f"walkgraph/{_FORMAT}/{self.main_component}".encode())
        for name in _ARRAYS:
            arr = np.ascontiguousarray(getattr(self, name))
            digest.update(f"|{name}:{arr.dtype.str}:{arr.shape}|".encode())
            digest.update(arr.tobytes())
        return digest.hexdigest()


def _components(n: int, indptr: IntArray, indices: Int32Array) -> tuple[Int32Array, int]:
    if n == 0:
        return np.zeros(0, dtype=np.int32), -1
    pattern = scipy.sparse.csr_matrix(
        (np.ones(indices.shape[0], dtype=np.int8), indices, indptr), shape=(n, n)
    )
    _, labels = connected_components(pattern, directed=False)
    labels = labels.astype(np.int32)
    # argmax takes the lowest label on a tie, so the choice is stable.
    return labels, int(np.argmax(np.bincount(labels)))
