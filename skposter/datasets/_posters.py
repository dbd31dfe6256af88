"""Reading and writing poster collections on disk, and the fixed split by id."""

import os
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.utils import Bunch

# Columns of a label table that are not genres.
_NON_GENRE = ("Id", "Genre")


def load_posters(path, *, labels=None, pattern="{}.jpg", on_missing="raise", as_frame=False):
    """Load a folder of labelled posters.

    Two layouts are recognised:

    * skposter's (as in ``shared/posters``): ``images/<Id>.jpg``, ``genres.csv`` and an
      optional ``metadata.csv``;
    * the public Kaggle movie-poster layout: ``Images/<Id>.jpg`` beside CSV files
      (``train.csv``, ``val.csv``, ``test.csv``, ``whole.csv`` as downloaded) holding
      ``Id``, ``Genre`` and one 0/1 column per genre; ``labels`` picks one when there
      are several.

    Images are not decoded here: pass ``paths`` to :class:`~skposter.io.PosterLoader`.

    Parameters
    ----------
    path : str or path-like
        The collection's folder.
    labels : str or path-like, default=None
        The label table to read: a file name in the folder (e.g. ``"whole.csv"``) or
        a path. By default the layout's own (``genres.csv``, or the only table beside
        ``Images/``).
    pattern : str, default="{}.jpg"
        Image file name for an id.
    on_missing : {"raise", "drop"}, default="raise"
        What to do with label rows whose image file does not exist: raise an error
        naming them, or drop them (with a warning giving their number and first ids).
        When no row has an image, it raises either way.
    as_frame : bool, default=False
        Give ``target`` as a DataFrame whose columns are the genre names, as
        scikit-learn's loaders do, so estimators fitted on it name genres in their
        ``classes_``, warnings and errors.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``frame`` (the label table: ``Id``, ``Genre`` and the genre columns);
        ``ids``; ``paths`` (image file per row); ``target`` (n, n_genres) 0/1 int,
        a DataFrame with ``as_frame``; ``target_names``; ``metadata`` (the metadata
        table with its ``Id`` column, or None); ``images_dir``; ``labels`` (the label
        table read).

    Raises
    ------
    FileNotFoundError
        The folder, its label table or (``on_missing="raise"``) an image is missing.
    ValueError
        A table is malformed (naming the file and pandas' reason, e.g. the line with
        too many fields), has no rows, repeats an id with different labels, or a genre
        column holds values other than 0 and 1 (naming the column, the values and
        their ids); the folder holds several label tables and ``labels`` is None.

    Warns
    -----
    UserWarning
        Rows repeated exactly (same id, same labels) are kept once, naming the ids.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"poster folder {folder} does not exist.")
    images_dir, labels_csv = _find_layout(folder, labels)
    frame = _drop_repeated_rows(read_table(labels_csv, dtype={"Id": str, "Genre": str}),
                                labels_csv)
    _check_labels(frame, labels_csv)
    paths = np.array([os.path.join(images_dir, pattern.format(i)) for i in frame["Id"]])
    exists = np.array([os.path.isfile(p) for p in paths], dtype=bool)
    if not exists.all():
        missing = frame["Id"][~exists].tolist()
        message = (
            f"{len(missing)} of {len(frame)} rows of {labels_csv} have no image in "
            f"{images_dir} (first: {missing[:10]})"
        )
        if not exists.any():
            # Dropping every row would return an empty collection: that is an error.
            raise FileNotFoundError(message + ".")
        if on_missing == "raise":
            raise FileNotFoundError(message + "; pass on_missing='drop' to skip them.")
        warnings.warn(message + "; dropped.", UserWarning, stacklevel=2)
        frame, paths = frame[exists].reset_index(drop=True), paths[exists]
    names = [c for c in frame.columns if c not in _NON_GENRE]
    metadata_csv = folder / "metadata.csv"
    metadata = read_table(metadata_csv, dtype={"Id": str}) if metadata_csv.is_file() else None
    target = frame[names].astype(int)
    return Bunch(
        frame=frame,
        ids=frame["Id"].to_numpy(dtype=str),
        paths=paths,
        target=target.reset_index(drop=True) if as_frame else target.to_numpy(),
        target_names=names,
        metadata=metadata,
        images_dir=str(images_dir),
        labels=str(labels_csv),
    )


def _find_layout(folder, labels):
    images_dir = next((folder / name for name in ("images", "Images")
                       if (folder / name).is_dir()), None)
    if labels is not None:
        table = folder / labels
        if images_dir is None or not table.is_file():
            raise FileNotFoundError(
                f"{folder} lacks {'an images folder' if images_dir is None else table}; "
                "labels names a CSV table beside images/ or Images/.")
        return images_dir, table
    if (folder / "images").is_dir() and (folder / "genres.csv").is_file():
        return folder / "images", folder / "genres.csv"
    if (folder / "Images").is_dir():
        candidates = [p for p in sorted(folder.glob("*.csv")) if _has_label_columns(p)]
        if len(candidates) == 1:
            return folder / "Images", candidates[0]
        if candidates:
            raise ValueError(
                f"{folder} holds several label tables {[p.name for p in candidates]}; "
                "pick one with labels= (--labels on the command line), e.g. "
                f"labels={candidates[-1].name!r}."
            )
    raise FileNotFoundError(
        f"{folder} is not a poster collection: expected images/ with genres.csv, or "
        "Images/ with a CSV holding Id and Genre columns."
    )


def read_table(csv_path, **kwargs):
    """``pd.read_csv``, but a malformed table raises a ValueError naming the file.

    pandas' own messages (a row with too many fields, an empty file) do not say which
    file they are about.
    """
    try:
        return pd.read_csv(csv_path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise ValueError(f"{csv_path} is not a readable CSV table: {reason}") from exc


def _has_label_columns(csv_path):
    columns = read_table(csv_path, nrows=0).columns
    return "Id" in columns and "Genre" in columns


def _drop_repeated_rows(frame, source):
    """Keep one of each set of identical rows (Kaggle's whole.csv repeats 12), warning once."""
    repeated = frame.duplicated()
    if repeated.any() and "Id" in frame.columns:
        ids = frame.loc[repeated, "Id"].unique().tolist()
        warnings.warn(f"{source} repeats {len(ids)} ids with identical rows (first: "
                      f"{ids[:10]}); each is kept once.", UserWarning, stacklevel=3)
        frame = frame[~repeated].reset_index(drop=True)
    return frame


def _check_labels(frame, source):
    if "Id" not in frame.columns:
        raise ValueError(f"{source} has no Id column; columns are {list(frame.columns)}.")
    duplicated = frame["Id"][frame["Id"].duplicated()].unique().tolist()
    if duplicated:
        raise ValueError(f"{source} repeats ids {duplicated[:10]} with different labels; "
                         "each poster must appear once.")
    if frame.empty:
        raise ValueError(f"{source} has no rows; a poster collection needs at least one.")
    names = [c for c in frame.columns if c not in _NON_GENRE]
    if not names:
        raise ValueError(f"{source} has no genre columns besides {list(_NON_GENRE)}.")
    for name in names:
        values = frame[name]
        # A single text value makes the whole column text: compare numbers, so the
        # message shows the offending values, not '0' and '1' read as strings.
        bad = ~pd.to_numeric(values, errors="coerce").isin([0, 1])
        if bad.any():
            raise ValueError(
                f"genre column {name!r} of {source} must hold only 0 and 1; found "
                f"{values[bad].head(3).tolist()} (ids {frame['Id'][bad].head(3).tolist()})."
            )


def write_poster_folder(directory, ids, images, frame, metadata=None):
    """Write posters and tables in the layout :func:`load_posters` reads.

    Returns
    -------
    ndarray of str
        The written image paths, in row order.
    """
    images_dir = Path(directory) / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for poster_id, image in zip(ids, images):
        path = images_dir / f"{poster_id}.jpg"
        Image.fromarray(image).save(path, quality=95)
        paths.append(str(path))
    frame.to_csv(Path(directory) / "genres.csv", index=False)
    if metadata is not None:
        metadata.to_csv(Path(directory) / "metadata.csv", index=False)
    return np.array(paths)


def split_by_id(ids, test_size=0.2):
    """Split rows into train and test by a hash of their id.

    The split depends only on each id, not on row order or on the other rows, so the
    same poster lands on the same side in every benchmark and on every machine, and
    adding posters never moves the old ones.

    Parameters
    ----------
    ids : array-like of str
        One id per row.
    test_size : float, default=0.2
        Expected share of rows in the test part.

    Returns
    -------
    train_index, test_index : ndarray of int
        Row positions of each part.
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be strictly between 0 and 1, got {test_size}.")
    buckets = np.array([zlib.crc32(str(i).encode("utf-8")) for i in ids], dtype=np.float64)
    is_test = buckets / 2**32 < test_size
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)
