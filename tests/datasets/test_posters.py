import numpy as np
import pandas as pd
import pytest

from skposter.datasets import load_posters, make_posters, split_by_id


@pytest.fixture
def folder(tmp_path):
    make_posters(n_samples=8, n_genres=3, directory=tmp_path, random_state=0)
    return tmp_path


def test_kaggle_layout(tmp_path, folder):
    kaggle = tmp_path / "kaggle"
    (kaggle / "Images").mkdir(parents=True)
    for path in (folder / "images").iterdir():
        (kaggle / "Images" / path.name).write_bytes(path.read_bytes())
    pd.read_csv(folder / "genres.csv").to_csv(kaggle / "train.csv", index=False)
    data = load_posters(kaggle)
    assert data.target.shape == (8, 3) and data.metadata is None
    assert all(p.startswith(str(kaggle / "Images")) for p in data.paths)


def test_missing_image_raises_or_drops(folder):
    first = pd.read_csv(folder / "genres.csv")["Id"][0]
    (folder / "images" / f"{first}.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=first):
        load_posters(folder)
    with pytest.warns(UserWarning, match=first):
        data = load_posters(folder, on_missing="drop")
    assert len(data.paths) == 7 and first not in data.ids


def test_identical_rows_are_kept_once_conflicting_ones_are_named(folder):
    frame = pd.read_csv(folder / "genres.csv")
    pd.concat([frame, frame.iloc[[2, 5]]]).to_csv(folder / "genres.csv", index=False)
    with pytest.warns(UserWarning, match=rf"repeats 2 ids .*{frame['Id'][2]}"):
        data = load_posters(folder)
    assert len(data.ids) == 8 and list(data.ids) == list(frame["Id"])
    conflicting = frame.iloc[[2]].assign(Comedy=1 - frame["Comedy"][2])
    pd.concat([frame, conflicting]).to_csv(folder / "genres.csv", index=False)
    with pytest.raises(ValueError, match=rf"{frame['Id'][2]}.* with different labels"):
        load_posters(folder)


def _kaggle_as_downloaded(tmp_path, folder):
    """Images/ beside train, val, test and whole tables; whole.csv repeats two rows."""
    kaggle = tmp_path / "kaggle"
    (kaggle / "Images").mkdir(parents=True)
    for path in (folder / "images").iterdir():
        (kaggle / "Images" / path.name).write_bytes(path.read_bytes())
    frame = pd.read_csv(folder / "genres.csv")
    for name, rows in [("train", [0, 1, 2, 3]), ("val", [4, 5]), ("test", [6, 7])]:
        frame.iloc[rows].to_csv(kaggle / f"{name}.csv", index=False)
    pd.concat([frame, frame.iloc[[1, 6]]]).to_csv(kaggle / "whole.csv", index=False)
    return kaggle, frame


def test_kaggle_layout_as_downloaded_picks_a_table_with_labels(tmp_path, folder):
    kaggle, frame = _kaggle_as_downloaded(tmp_path, folder)
    with pytest.raises(ValueError, match=r"several label tables .*test\.csv.*labels="):
        load_posters(kaggle)
    with pytest.warns(UserWarning, match="repeats 2 ids"):
        whole = load_posters(kaggle, labels="whole.csv")
    assert list(whole.ids) == list(frame["Id"]) and whole.labels.endswith("whole.csv")
    assert list(load_posters(kaggle, labels="val.csv").ids) == list(frame["Id"][4:6])
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_posters(kaggle, labels="nope.csv")


def test_as_frame_gives_the_target_with_genre_names(folder):
    data = load_posters(folder, as_frame=True)
    assert list(data.target.columns) == data.target_names
    np.testing.assert_array_equal(data.target.to_numpy(), load_posters(folder).target)


def test_non_binary_genre_column_is_named(folder):
    frame = pd.read_csv(folder / "genres.csv")
    frame.loc[0, "Comedy"] = 2
    frame.to_csv(folder / "genres.csv", index=False)
    with pytest.raises(ValueError, match="Comedy"):
        load_posters(folder)


def test_not_a_collection(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a poster collection"):
        load_posters(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_posters(tmp_path / "nowhere")


def test_split_by_id_is_stable_and_near_the_requested_size():
    ids = [f"tt{i:07d}" for i in range(5000)]
    train, test = split_by_id(ids)
    assert len(set(train) | set(test)) == 5000 and not set(train) & set(test)
    assert 0.18 < len(test) / 5000 < 0.22
    # The side of an id does not depend on the other rows or their order.
    reversed_train, reversed_test = split_by_id(ids[::-1])
    assert {ids[::-1][i] for i in reversed_test} == {ids[i] for i in test}
    _, sub_test = split_by_id(ids[:100])
    assert {ids[i] for i in sub_test} == {ids[i] for i in test if i < 100}
    with pytest.raises(ValueError):
        split_by_id(ids, test_size=1.5)


@pytest.mark.realdata
def test_shared_posters(shared_posters):
    data = load_posters(shared_posters)
    assert len(data.paths) == 5807 and data.target.shape == (5807, 25)
    assert data.metadata.shape[0] == 2312 and "plot_keywords" in data.metadata
    assert {"Drama", "Comedy", "N/A"} <= set(data.target_names)
    assert 0.45 < data.target[:, data.target_names.index("Drama")].mean() < 0.55
    assert np.all([p.endswith(".jpg") for p in data.paths[:10]])
