"""core.spatialcv: spatial cross-validation splits (issue 15, part 4).

References: pyproj.Geod (Karney's geodesics, GeographicLib) for the geodesic distances and azimuths, brute-force
distance matrices (numpy for projected coordinates, pyproj for geographic ones) for the buffers, scikit-learn's
KMeans with the same seed for the clusters, and the split indices themselves for "no block split across
folds" and "no validation sample within the buffer of one of its training samples".
"""
import numpy as np
import pyproj
import pytest

from mining_eco_plugin.core import models as core
from mining_eco_plugin.core import spatialcv as sc

WGS84 = pyproj.Geod(ellps="WGS84")


def clustered_points(n=150, seed=3, spread=2000.0, clusters=8, extent=20000.0):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, extent, (clusters, 2))
    return centres[rng.integers(0, clusters, n)] + rng.normal(0, spread, (n, 2))


def test_vincenty_matches_pyproj_geod():
    rng = np.random.default_rng(1)
    lon1, lat1 = rng.uniform(-180, 180, 500), rng.uniform(-89, 89, 500)
    lon2, lat2 = lon1 + rng.uniform(-40, 40, 500), np.clip(lat1 + rng.uniform(-40, 40, 500), -89.9, 89.9)
    s, az = sc.geodesic_inverse(lon1, lat1, lon2, lat2, 6378137.0, 1 / 298.257223563)
    az_ref, _back, s_ref = WGS84.inv(lon1, lat1, lon2, lat2)
    np.testing.assert_allclose(s, s_ref, atol=1e-3)             # Vincenty: 0.1 mm; 1 mm stated here
    far = s_ref > 1.0
    d = np.degrees(az[far]) - az_ref[far]
    np.testing.assert_allclose((d + 180) % 360 - 180, 0, atol=1e-6)
    s0, _ = sc.geodesic_inverse(10.0, 50.0, 10.0, 50.0)        # coincident points
    assert float(s0) == 0.0
    # another ellipsoid (Clarke 1866) and the sphere
    clarke = pyproj.Geod(ellps="clrk66")
    s, _ = sc.geodesic_inverse(lon1, lat1, lon2, lat2, clarke.a, clarke.f)
    np.testing.assert_allclose(s, clarke.inv(lon1, lat1, lon2, lat2)[2], atol=1e-3)


def test_local_xy_is_azimuthal_equidistant():
    rng = np.random.default_rng(2)
    lon, lat = 116 + rng.uniform(-2, 2, 200), 40 + rng.uniform(-2, 2, 200)
    x, y, (clon, clat), smax = sc.local_xy(lon, lat)
    # distance and azimuth from the centre are pyproj's geodesic ones
    az, _b, s = WGS84.inv(np.full(200, clon), np.full(200, clat), lon, lat)
    np.testing.assert_allclose(np.hypot(x, y), s, atol=1e-3)
    np.testing.assert_allclose(np.arctan2(x, y), np.radians(az), atol=1e-8)
    # and pyproj's own aeqd projection on the WGS84 ellipsoid agrees (to 1 mm at 300 km)
    proj = pyproj.Proj(proj="aeqd", lat_0=clat, lon_0=clon, ellps="WGS84")
    px, py = proj(lon, lat)
    np.testing.assert_allclose(x, px, atol=1e-3)
    np.testing.assert_allclose(y, py, atol=1e-3)
    assert smax == pytest.approx(s.max(), abs=1e-3)


def _pairs_within_projected(xy, buffer):
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    return d <= buffer


@pytest.mark.parametrize("buffer", [0.0, 500.0, 2500.0])
def test_buffer_splits_projected_no_training_sample_within_buffer(buffer):
    xy = clustered_points()
    xy[5] = xy[4]                                       # a duplicate location: never trains the other
    near = _pairs_within_projected(xy, buffer)
    splits = sc.buffer_splits(sc.within_projected(xy, buffer))
    assert len(splits) == len(xy)
    for i, (tr, te) in enumerate(splits.split()):
        assert list(te) == [i]
        assert not near[i, tr].any()                    # no training sample within the buffer of the validation one
        assert set(tr) == set(np.flatnonzero(~near[i]))  # and every other sample trains
    assert 4 not in splits.pairs[5][0] and 5 not in splits.pairs[4][0]


@pytest.mark.parametrize("buffer", [1000.0, 30000.0])
def test_buffer_splits_geodesic_against_pyproj(buffer):
    rng = np.random.default_rng(4)
    lon = np.concatenate([rng.uniform(-0.3, 0.3, 60) + 179.9, rng.uniform(10, 10.5, 60)])   # across the antimeridian
    lat = np.concatenate([rng.uniform(65, 65.3, 60), rng.uniform(-1, -0.5, 60)])
    lon = (lon + 180) % 360 - 180
    n = len(lon)
    s = WGS84.inv(np.repeat(lon, n), np.repeat(lat, n), np.tile(lon, n), np.tile(lat, n))[2].reshape(n, n)
    near = s <= buffer
    splits = sc.buffer_splits(sc.within_geodesic(lon, lat, buffer))
    for i, (tr, te) in enumerate(splits.split()):
        assert list(te) == [i]
        assert s[i, tr].min() > buffer                  # geodesic: no training sample within the buffer
        assert set(tr) == set(np.flatnonzero(~near[i]))
    # the buffer reaches across the antimeridian (points at 179.9 +- 0.3 deg lie on both sides)
    assert near[:60, :60].sum() > 60


def test_block_folds_no_block_split_and_balanced():
    xy = clustered_points(400)
    labels, cells, nb = sc.block_folds(xy, 3000.0, 5, seed=7)
    # by hand: blocks anchored at the smallest x and y
    np.testing.assert_array_equal(cells, np.floor((xy - xy.min(axis=0)) / 3000.0))
    for cell in np.unique(cells, axis=0):
        members = (cells == cell).all(axis=1)
        assert len(set(labels[members])) == 1          # no block split across folds
    assert nb == len(np.unique(cells, axis=0)) and set(labels) == set(range(5))
    sizes = np.bincount(labels)
    assert sizes.max() - sizes.min() <= np.bincount(np.unique(cells, axis=0, return_inverse=True)[1].ravel()).max()
    # seeded: the same seed gives the same folds, another seed others
    np.testing.assert_array_equal(labels, sc.block_folds(xy, 3000.0, 5, seed=7)[0])
    assert not np.array_equal(labels, sc.block_folds(xy, 3000.0, 5, seed=8)[0])
    # splits: each fold validates once, the rest trains
    splits = sc.folds_to_splits(labels)
    assert sorted(np.concatenate([te for _tr, te in splits.split()])) == list(range(len(xy)))
    for tr, te in splits.split():
        assert not set(map(tuple, cells[tr])) & set(map(tuple, cells[te]))


def test_block_folds_too_few_blocks():
    xy = clustered_points(50)
    with pytest.raises(ValueError, match=r"BLOCK_SIZE.*1 block\(s\).*5 folds"):
        sc.block_folds(xy, 1e7, 5, seed=1)


def test_cluster_folds_equal_sklearn_kmeans():
    from sklearn.cluster import KMeans
    xy = clustered_points(300)
    labels = sc.cluster_folds(xy, 6, seed=11)
    ref = KMeans(n_clusters=6, n_init=10, random_state=11).fit(xy).labels_
    np.testing.assert_array_equal(labels, ref)
    with pytest.raises(ValueError, match="3 distinct location"):
        sc.cluster_folds(np.repeat(xy[:3], 10, axis=0), 5, seed=1)


def test_check_training_messages():
    xy = clustered_points(30, spread=10.0, clusters=1)
    splits = sc.buffer_splits(sc.within_projected(xy, 1e6))
    with pytest.raises(ValueError, match=r"BUFFER: sample 1 leaves 0 training"):
        sc.check_training(splits, core.MIN_SAMPLES, ("BUFFER", "sample", "use a smaller buffer"))


def test_splits_drive_models_train():
    """models.train(validation="kfold", folds=<Splits>) measures the model on exactly these splits: its cv
    predictions equal a model fitted by hand on each split's training samples."""
    xy = clustered_points(80)
    rng = np.random.default_rng(0)
    X = np.column_stack([xy / 1000.0, rng.random(80)])
    y = X[:, 0] + np.sin(X[:, 1]) + rng.normal(0, 0.1, 80)
    splits = sc.folds_to_splits(sc.cluster_folds(xy, 4, seed=3))
    res = core.train("plsr", X, y, validation="kfold", folds=splits, seed=3)
    oof = np.empty(80)
    for tr, te in splits.split():
        oof[te] = core.predict(core.fit(core.make_estimator("plsr", 3, 3), X[tr], y[tr]), X[te])
    assert res.metric("cv") == pytest.approx(core.metrics(y, oof)["r2"], rel=1e-9)
