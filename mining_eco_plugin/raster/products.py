"""Find and open scene products as USGS and ESA deliver them (issue 13, item 1): a Landsat MTL (``*_MTL.txt`` /
``.xml`` / ``.json``), its folder, its ``.tar`` (read in place through GDAL's ``/vsitar/``, never unpacked), a
Sentinel-2 L2A ``.SAFE`` folder given as its ``MTD_MSIL2A.xml`` or its ``.zip`` (through ``/vsizip/``).

:func:`open_product` returns a :class:`core.product_meta.Product` whose ``bands`` / ``qa`` are paths GDAL opens
(``/vsitar/<tar>/<member>`` inside a tar); every listed file is checked to exist and to be readable to its last
byte, so an incomplete or truncated product is refused here with a message naming the missing member.
:func:`search_products` walks a folder recursively. The metadata itself is parsed by :mod:`core.product_meta`.
"""
from __future__ import annotations

import os
import re

from osgeo import gdal

from ..core.product_meta import Product, ProductError, landsat_product, require_kind, s2_product
from .engine import quiet_gdal

_MTL = re.compile(r"_MTL\.(txt|xml|json)$", re.IGNORECASE)
_MTL_ORDER = {"txt": 0, "xml": 1, "json": 2}       # several encodings of one MTL: the first of these is used
_S2_MTD = "MTD_MSIL2A.xml"


def _vsi_read(path: str) -> bytes:
    f = gdal.VSIFOpenL(path, "rb")
    if f is None:
        raise ProductError(f"Cannot open {path}.")
    try:
        stat = gdal.VSIStatL(path)
        data = gdal.VSIFReadL(1, stat.size if stat else 100_000_000, f)
    finally:
        gdal.VSIFCloseL(f)
    if stat is not None and len(data) != stat.size:
        raise ProductError(f"{path} is truncated: {len(data)} of {stat.size} bytes can be read. "
                           "The product is damaged; download it again.")
    return data


def _readable_to_end(path: str) -> bool:
    """True when the last byte of ``path`` can be read (a truncated archive member fails here)."""
    stat = gdal.VSIStatL(path)
    if stat is None:
        return False
    f = gdal.VSIFOpenL(path, "rb")
    if f is None:
        return False
    try:
        if stat.size == 0:
            return True
        gdal.VSIFSeekL(f, stat.size - 1, 0)
        return len(gdal.VSIFReadL(1, 1, f)) == 1
    finally:
        gdal.VSIFCloseL(f)


def _list(root: str) -> list[str]:
    """Every file below ``root`` (a folder or a /vsitar/, /vsizip/ path), relative, with "/"."""
    if root.startswith("/vsi"):
        names = gdal.ReadDirRecursive(root) or []
        return [n for n in names if not n.endswith("/")]
    out = []
    for d, _, files in os.walk(root):
        for f in files:
            out.append(os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/"))
    return out


def _archive_root(path: str, prefix: str, kind: str) -> str:
    root = f"{prefix}/{os.path.abspath(path)}"
    gdal.ErrorReset()
    with quiet_gdal():
        names = gdal.ReadDirRecursive(root)
    if not names:
        raise ProductError(f"{path} is not a readable {kind} archive (it is damaged, truncated or empty). "
                           "Download the product again.")
    return root


def _resolve(root: str, names: list[str], wanted: str, source: str, what: str) -> str:
    """The path of ``wanted`` (a file name from the metadata, matched case-insensitively on its base name as
    pre-collection MTL files say ``.TIF`` for ``.tif`` files) among ``names`` below ``root``."""
    base = os.path.basename(wanted.replace("\\", "/")).lower()
    hits = [n for n in names if os.path.basename(n).lower() == base]
    if not hits:
        raise ProductError(f"The product {source} is incomplete: the file {os.path.basename(wanted)} ({what}) "
                           "named in its metadata is missing.")
    path = _join(root, hits[0])
    with quiet_gdal():
        ok = _readable_to_end(path)
    if not ok:
        raise ProductError(f"The product {source} is damaged: the file {hits[0]} ({what}) cannot be read to its "
                           "end (truncated download?). Download the product again.")
    return path


def _join(root: str, rel: str) -> str:
    """``rel`` below ``root`` (a folder, or a /vsitar/ / /vsizip/ path, which take "/")."""
    if not rel:
        return root
    return f"{root}/{rel}" if root.startswith("/vsi") else os.path.join(root, rel)


def _metadata(root: str, names: list[str], rel: str):
    """(path, bytes) of the metadata file ``rel`` below ``root``, the folder holding it and the names of the files
    below that folder (relative to it)."""
    path = _join(root, rel)
    with quiet_gdal():
        text = _vsi_read(path)
    d = os.path.dirname(rel)
    local = [n[len(d) + 1:] for n in names if n.startswith(d + "/")] if d else names
    return path, text, _join(root, d), local


def _landsat(source: str, root: str, names: list[str], mtl_rel: str) -> Product:
    mtl_path, text, base, local = _metadata(root, names, mtl_rel)
    p = landsat_product(text.decode("latin-1"), os.path.basename(mtl_rel))
    p.source, p.metadata = source, mtl_path
    p.bands = {role: _resolve(base, local, f, source, f"{role} band") for role, f in p.bands.items()}
    if p.qa:
        p.qa = _resolve(base, local, p.qa, source, f"{p.qa_kind} band")
    return p


def _one_mtl(names: list[str], source: str) -> str:
    mtls = [n for n in names if _MTL.search(n)]
    if not mtls:
        raise ProductError(f"{source} holds no Landsat metadata file (*_MTL.txt, *_MTL.xml or *_MTL.json): it is "
                           "not a Landsat product or it is incomplete.")
    by_product: dict[str, str] = {}
    for n in sorted(mtls, key=lambda n: _MTL_ORDER[_MTL.search(n).group(1).lower()]):
        by_product.setdefault(_MTL.split(n)[0].lower(), n)
    if len(by_product) > 1:
        raise ProductError(f"{source} holds {len(by_product)} Landsat products; give one MTL file, or search the "
                           "folder for products.")
    return next(iter(by_product.values()))


def _s2(source: str, root: str, names: list[str], mtd_rel: str) -> Product:
    mtd_path, text, base, local = _metadata(root, names, mtd_rel)
    p = s2_product(text, local, os.path.basename(mtd_rel))
    p.source, p.metadata = source, mtd_path
    p.bands = {role: _resolve(base, local, f, source, f"{role} band") for role, f in p.bands.items()}
    p.qa = _resolve(base, local, p.qa, source, "SCL band")
    return p


def open_product(path: str, *, toa_ok: bool = True) -> Product:
    """The product given by ``path``: a Landsat ``*_MTL.txt|xml|json``, a Landsat product folder, a Landsat
    ``.tar``, a Sentinel-2 ``MTD_MSIL2A.xml`` (inside its ``.SAFE``) or an S2 L2A ``.zip``.

    ``toa_ok=False`` refuses Level-1 products (the tool needs surface reflectance). ProductError (a ValueError)
    naming the file and the problem for anything incomplete, damaged or of another kind."""
    path = str(path)
    if not os.path.exists(path):
        raise ProductError(f"The product {path} does not exist.")
    low = path.lower()
    if os.path.isdir(path):
        names = _list(path)
        if any(os.path.basename(n) == _S2_MTD for n in names):
            mtd = sorted((n for n in names if os.path.basename(n) == _S2_MTD), key=len)[0]
            p = _s2(path, path, names, mtd)
        else:
            p = _landsat(path, path, names, _one_mtl(names, path))
    elif _MTL.search(path):
        folder = os.path.dirname(os.path.abspath(path))
        p = _landsat(path, folder, _list(folder), os.path.basename(path))
    elif os.path.basename(path) == _S2_MTD:
        folder = os.path.dirname(os.path.abspath(path))
        p = _s2(path, folder, _list(folder), _S2_MTD)
    elif low.endswith(".tar") or low.endswith(".tar.gz") or low.endswith(".tgz"):
        root = _archive_root(path, "/vsitar", "tar")
        names = _list(root)
        p = _landsat(path, root, names, _one_mtl(names, path))
    elif low.endswith(".zip"):
        root = _archive_root(path, "/vsizip", "zip")
        names = _list(root)
        mtds = sorted((n for n in names if os.path.basename(n) == _S2_MTD), key=len)
        if not mtds:
            raise ProductError(f"{path} holds no {_S2_MTD}: it is not a Sentinel-2 Level-2A product (.SAFE zip) "
                               "or it is incomplete.")
        p = _s2(path, root, names, mtds[0])
    else:
        raise ProductError(f"{path} is not a product file: give a Landsat *_MTL.txt / .xml / .json, a Landsat .tar, "
                           f"a Sentinel-2 {_S2_MTD} or a Sentinel-2 L2A .zip.")
    return require_kind(p, toa_ok=toa_ok)


def search_products(folder: str) -> list[str]:
    """The product files found below ``folder`` (recursively), one per product, sorted: Landsat MTL files (one
    encoding per product: .txt before .xml before .json), Landsat ``.tar`` files, Sentinel-2 ``MTD_MSIL2A.xml``
    and ``.zip`` files. Open each with :func:`open_product`."""
    found: dict[str, str] = {}
    for d, dirs, files in os.walk(folder):
        dirs.sort()
        for f in sorted(files, key=lambda f: (_MTL_ORDER.get(f.rsplit(".", 1)[-1].lower(), 9), f)):
            p = os.path.join(d, f)
            low = f.lower()
            if _MTL.search(f):
                found.setdefault(os.path.join(d, _MTL.split(f)[0]).lower(), p)
            elif f == _S2_MTD:
                found.setdefault(d.lower(), p)
            elif low.endswith((".tar", ".tar.gz", ".tgz")) and re.match(r"L[CTEO]0\d_", f, re.IGNORECASE):
                found.setdefault(p.lower(), p)
            elif low.endswith(".zip") and re.match(r"S2[ABC]_MSIL2A_", f, re.IGNORECASE):
                found.setdefault(p.lower(), p)
    return sorted(found.values())


__all__ = ["open_product", "search_products", "Product", "ProductError"]
