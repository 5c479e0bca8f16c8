"""Spatial cross-validation splits of sample points (pure numpy / scipy / scikit-learn).

Samples close to one another are alike (spatial autocorrelation): a random split puts near neighbours of
every validation sample into the training set, and its validation R2 then measures interpolation between
neighbours rather than prediction at new places (Roberts et al. 2017, Ecography 40: 913-929; Ploton et al.
2020, Nature Communications 11: 4540). The splits here keep validation samples away from their training
samples:

* ``block_folds``: square blocks of ``size`` metres, anchored at the smallest x and y of the samples
  (block = (floor((x - min x) / size), floor((y - min y) / size))). The blocks holding samples are shuffled
  with the seed (numpy ``default_rng(seed).permutation``) and dealt in that order, each to the fold that holds
  the fewest samples so far (ties: the lowest fold): a block is never split across folds and the folds are
  about equally large.
* ``cluster_folds``: scikit-learn ``KMeans(n_clusters=k, n_init=10, random_state=seed)`` of the coordinates;
  cluster j is fold j.
* ``buffer_splits``: buffered leave-one-out (Le Rest et al. 2014, Global Ecology and Biogeography 23:
  811-820): each sample in turn validates, and its model is trained on the samples farther than ``buffer``
  metres from it (every sample within the buffer, distance <= buffer, is left out of that training set).

Coordinates are metres: a projected CRS's coordinates times its unit (feet -> metres), or for a geographic
CRS (degrees) distances on the CRS's ellipsoid: ``within_geodesic`` uses exact ellipsoidal geodesic distances
(Vincenty's inverse formula, ``geodesic_inverse``; checked against pyproj.Geod in the tests) and blocks and
clusters use ``local_xy``, the ellipsoidal azimuthal equidistant projection centred on the samples: x = s sin
(alpha), y = s cos(alpha) with s and alpha the geodesic distance and azimuth from the centre. Distances from the
centre are exact; a block side away from the centre is stretched by about 1 + (s / R)^2 / 6 across the radius
(0.1 % at 500 km, 1 % at 1,600 km): ``LOCAL_MAX_M`` (2,000 km) bounds it.

``Splits`` holds the (training, validation) index pairs; scikit-learn accepts it as ``cv`` and
``core.models.kfold`` passes it through, so ``models.train(validation="kfold", folds=splits)`` measures the
model on exactly these splits (cross_val_predict: every sample validated once).
"""
from __future__ import annotations

import numpy as np

#: largest distance (m) from the samples' centre for blocks and clusters in a geographic CRS (module docstring)
LOCAL_MAX_M = 2_000_000.0
#: WGS 84 (a, f), the default ellipsoid
WGS84 = (6378137.0, 1.0 / 298.257223563)


class Splits:
    """A fixed list of (training indices, validation indices) pairs, usable as scikit-learn ``cv``.
    ``str()`` is the number of splits (messages say "fold 3 of <splits>")."""

    def __init__(self, pairs, labels=None):
        self.pairs = [(np.asarray(tr, dtype=np.intp), np.asarray(te, dtype=np.intp)) for tr, te in pairs]
        self.labels = labels

    def split(self, X=None, y=None, groups=None):  # noqa: ARG002 - the scikit-learn signature
        yield from self.pairs

    def get_n_splits(self, X=None, y=None, groups=None):  # noqa: ARG002
        return len(self.pairs)

    def __len__(self):
        return len(self.pairs)

    def __str__(self):
        return str(self.get_n_splits())


def folds_to_splits(labels) -> Splits:
    """Splits of fold labels 0 .. k-1: fold j validates, the other folds train."""
    labels = np.asarray(labels)
    idx = np.arange(labels.size)
    return Splits([(idx[labels != j], idx[labels == j]) for j in np.unique(labels)], labels)


# --------------------------------------------------------------------------- geodesy
def geodesic_inverse(lon1, lat1, lon2, lat2, a: float = WGS84[0], f: float = WGS84[1], tol: float = 1e-12,
                     max_iter: int = 200):
    """(distance in metres, forward azimuth at point 1 in radians) on the ellipsoid (a, f) between
    geodetic positions in degrees: Vincenty's inverse formula (Vincenty 1975, Survey Review 23(176): 88-93),
    vectorised. ValueError when it does not converge (nearly antipodal points, which the callers' distance
    limits keep away)."""
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (lon1, lat1, lon2,
                                                                                                lat2)))
    b = a * (1.0 - f)
    L = np.radians(lon2 - lon1)
    U1 = np.arctan((1.0 - f) * np.tan(np.radians(lat1)))
    U2 = np.arctan((1.0 - f) * np.tan(np.radians(lat2)))
    sU1, cU1, sU2, cU2 = np.sin(U1), np.cos(U1), np.sin(U2), np.cos(U2)
    lam = L.copy()

    def terms(lam):
        """sin / cos of sigma, sigma, sin alpha, cos^2 alpha and cos 2 sigma_m of a longitude difference lam."""
        sl, cl = np.sin(lam), np.cos(lam)
        ss = np.hypot(cU2 * sl, cU1 * sU2 - sU1 * cU2 * cl)
        cs = sU1 * sU2 + cU1 * cU2 * cl
        sa = np.where(ss > 0, cU1 * cU2 * sl / np.where(ss > 0, ss, 1.0), 0.0)
        c2a = 1.0 - sa * sa
        c2sm = np.where(c2a > 0, cs - 2.0 * sU1 * sU2 / np.where(c2a > 0, c2a, 1.0), 0.0)
        return ss, cs, np.arctan2(ss, cs), sa, c2a, c2sm

    done = np.zeros(L.shape, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(max_iter):
            ss, cs, sig, sa, c2a, c2sm = terms(lam)
            C = f / 16.0 * c2a * (4.0 + f * (4.0 - 3.0 * c2a))
            new = L + (1.0 - C) * f * sa * (sig + C * ss * (c2sm + C * cs * (-1.0 + 2.0 * c2sm * c2sm)))
            done = np.abs(new - lam) <= tol
            lam = np.where(done, lam, new)
            if done.all():
                break
        if not done.all():
            raise ValueError("the geodesic distance did not converge (nearly antipodal points)")
        ss, cs, sig, sa, c2a, c2sm = terms(lam)
    u2 = c2a * (a * a - b * b) / (b * b)
    A = 1.0 + u2 / 16384.0 * (4096.0 + u2 * (-768.0 + u2 * (320.0 - 175.0 * u2)))
    B = u2 / 1024.0 * (256.0 + u2 * (-128.0 + u2 * (74.0 - 47.0 * u2)))
    ds = B * ss * (c2sm + B / 4.0 * (cs * (-1.0 + 2.0 * c2sm * c2sm)
                                     - B / 6.0 * c2sm * (-3.0 + 4.0 * ss * ss) * (-3.0 + 4.0 * c2sm * c2sm)))
    s = b * A * (sig - ds)
    az = np.arctan2(cU2 * np.sin(lam), cU1 * sU2 - sU1 * cU2 * np.cos(lam))
    return s, az


def _normals(lon, lat):
    """Unit normals of the ellipsoid at geodetic positions (degrees), shape (n, 3)."""
    lo, la = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def local_xy(lon, lat, a: float = WGS84[0], f: float = WGS84[1]):
    """Metres in the ellipsoidal azimuthal equidistant projection centred on the samples (module docstring):
    (x, y, centre (lon, lat), largest distance from the centre). The centre is the direction of the mean
    of the samples' unit normals."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    m = _normals(lon, lat).mean(axis=0)
    norm = float(np.linalg.norm(m))
    if norm < 1e-9:
        raise ValueError("the samples surround the globe (no centre)")
    m /= norm
    clon, clat = float(np.degrees(np.arctan2(m[1], m[0]))), float(np.degrees(np.arcsin(np.clip(m[2], -1, 1))))
    s, az = geodesic_inverse(clon, clat, lon, lat, a, f)
    return s * np.sin(az), s * np.cos(az), (clon, clat), float(s.max()) if s.size else 0.0


# --------------------------------------------------------------------------- neighbours within a buffer
def within_projected(xy, buffer: float):
    """For each sample, the indices of the samples within ``buffer`` metres of it (Euclidean, distance <=
    buffer, itself included)."""
    from scipy.spatial import cKDTree
    xy = np.asarray(xy, dtype=np.float64)
    tree = cKDTree(xy)
    out = []
    for i, cand in enumerate(tree.query_ball_point(xy, buffer * (1 + 1e-9) + 1e-9)):
        cand = np.asarray(cand, dtype=np.intp)
        d = np.hypot(xy[cand, 0] - xy[i, 0], xy[cand, 1] - xy[i, 1])
        out.append(np.sort(cand[d <= buffer]))
    return out


def within_geodesic(lon, lat, buffer: float, a: float = WGS84[0], f: float = WGS84[1]):
    """``within_projected`` with geodesic distances on the ellipsoid (a, f). Candidates come from a k-d tree of
    the unit normals: along a curve of length s on the ellipsoid the normal turns by at most s / (a (1 - e^2))
    radians (the smallest radius of curvature, the meridian's at the equator), so no sample within the buffer
    is missed; each candidate's exact distance then decides."""
    from scipy.spatial import cKDTree
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    n = _normals(lon, lat)
    e2 = f * (2.0 - f)
    theta = min(np.pi, buffer / (a * (1.0 - e2)) * (1 + 1e-9) + 1e-12)
    tree = cKDTree(n)
    out = []
    for i, cand in enumerate(tree.query_ball_point(n, 2.0 * np.sin(theta / 2.0) + 1e-12)):
        cand = np.asarray(cand, dtype=np.intp)
        s, _az = geodesic_inverse(lon[i], lat[i], lon[cand], lat[cand], a, f)
        out.append(np.sort(cand[s <= buffer]))
    return out


# --------------------------------------------------------------------------- splits
def block_folds(xy, size: float, k: int, seed: int):
    """(fold label per sample, block (column, row) per sample, number of blocks holding samples): blocks of
    ``size`` metres dealt to ``k`` folds as the module docstring says. ValueError when fewer than k blocks hold
    samples."""
    xy = np.asarray(xy, dtype=np.float64)
    if not size > 0:
        raise ValueError(f"BLOCK_SIZE must be greater than 0 (got {size:g})")
    cells = np.floor((xy - xy.min(axis=0)) / size).astype(np.int64)
    keys, block = np.unique(cells, axis=0, return_inverse=True)
    block = np.asarray(block).ravel()
    nb = len(keys)
    if nb < k:
        raise ValueError(f"BLOCK_SIZE: blocks of {size:g} m put the samples into {nb} block(s), fewer than the {k} "
                         "folds (FOLDS); use smaller blocks or fewer folds")
    counts = np.bincount(block, minlength=nb)
    fold_of_block = np.empty(nb, dtype=np.intp)
    filled = np.zeros(k, dtype=np.int64)
    for b in np.random.default_rng(seed).permutation(nb):
        j = int(np.argmin(filled))          # the first of the least-filled folds
        fold_of_block[b] = j
        filled[j] += counts[b]
    return fold_of_block[block], cells, nb


def cluster_folds(xy, k: int, seed: int):
    """Fold label per sample: KMeans(k, n_init=10, random_state=seed) clusters of the coordinates. ValueError
    when the samples have fewer than k distinct locations."""
    from sklearn.cluster import KMeans
    xy = np.asarray(xy, dtype=np.float64)
    distinct = len(np.unique(xy, axis=0))
    if distinct < k:
        raise ValueError(f"FOLDS: the samples lie at {distinct} distinct location(s), fewer than the {k} clusters "
                         "(FOLDS); use fewer folds")
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(xy).astype(np.intp)


class BufferSplits(Splits):
    """Buffered leave-one-out splits from ``neighbours`` (for each sample the indices within its buffer,
    itself included): sample i validates, every sample outside its buffer trains. The training index arrays are
    made when iterated (n of them would hold n^2 indices)."""

    def __init__(self, neighbours):
        self.neighbours = [np.asarray(v, dtype=np.intp) for v in neighbours]
        self.labels = None

    @property
    def pairs(self):
        return list(self.split())

    def split(self, X=None, y=None, groups=None):  # noqa: ARG002
        n = len(self.neighbours)
        idx = np.arange(n)
        for i, near in enumerate(self.neighbours):
            keep = np.ones(n, dtype=bool)
            keep[near] = False
            keep[i] = False
            yield idx[keep], np.array([i], dtype=np.intp)

    def get_n_splits(self, X=None, y=None, groups=None):  # noqa: ARG002
        return len(self.neighbours)

    def __len__(self):
        return len(self.neighbours)


def buffer_splits(neighbours) -> Splits:
    """Buffered leave-one-out splits (``BufferSplits``) from the samples within each sample's buffer."""
    return BufferSplits(neighbours)


def check_training(splits: Splits, minimum: int, what: str):
    """ValueError when a split trains on fewer than ``minimum`` samples (``what`` names the parameter to change
    and how a split is called: e.g. "BUFFER" / "sample")."""
    for j, (tr, te) in enumerate(splits.split()):
        if len(te) == 0:
            raise ValueError(f"{what[0]}: fold {j + 1} holds no sample; use fewer folds")
        if len(tr) < minimum:
            who = f"sample {int(te[0]) + 1}" if what[1] == "sample" else f"fold {j + 1} ({len(te)} samples)"
            raise ValueError(f"{what[0]}: {who} leaves {len(tr)} training sample(s), fewer than the {minimum} a "
                             f"model needs; {what[2]}")
