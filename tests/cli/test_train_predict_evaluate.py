import contextlib
import io
import re
import sys

import pandas as pd
import pytest

import skposter
from skposter.cli import _models, main
from skposter.datasets import make_posters, split_by_id

# The files every report has (the metrics may add plots).
REPORT_FILES = {"per_genre.csv", "summary.csv", "report.md", "genre_scores.png",
                "precision_recall.png", "threshold_curves.png"}


@pytest.fixture(scope="module")
def posters(tmp_path_factory):
    folder = tmp_path_factory.mktemp("posters")
    make_posters(n_samples=200, n_genres=3, size=(48, 32), metadata=True, directory=folder,
                 random_state=0)
    return folder


@pytest.fixture(scope="module")
def training(posters, tmp_path_factory):
    """A model trained by ``skposter train`` on the synthetic folder, and its output."""
    path = tmp_path_factory.mktemp("models") / "colour.skposter"
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(["train", "--data", str(posters), "--model", "colour",
                     "--out", str(path)]) == 0
    return path, printed.getvalue()


@pytest.fixture
def trained(training):
    return training[0]


def _predictions(text):
    """Poster -> [(genre, probability, marked)] from ``skposter predict`` output."""
    found, current = {}, None
    for line in text.splitlines():
        row = re.fullmatch(r"  ([* ]) (\S+)\s+([\d.]+)", line)
        if row:
            found[current].append((row[2], float(row[3]), row[1] == "*"))
        elif ": " in line:
            current = line.split(": ")[0]
            found[current] = []
    return found


def _macro_ap(text):
    found = re.search(r"macro average precision: ([\d.]+) \(label prior: ([\d.]+)\)", text)
    return float(found[1]), float(found[2])


def test_train_fits_the_train_part_and_saves_a_loadable_model(posters, training):
    path, printed = training
    model = skposter.load(path)
    assert list(model.classes_) == ["Drama", "Comedy", "Action"]
    train, _ = split_by_id(pd.read_csv(posters / "genres.csv")["Id"])
    assert f"on {len(train)} of 200 posters (the train part)" in printed
    assert f"saved to {path}" in printed


def test_predict_prints_sorted_genres_marking_the_predicted_ones(posters, trained, capsys):
    images = [str(posters / "images" / f"syn00000{k}.jpg") for k in range(3)]
    assert main(["predict", "--model", str(trained), *images]) == 0
    printed = _predictions(capsys.readouterr().out)
    assert list(printed) == images
    model = skposter.load(trained)
    X = pd.DataFrame({"poster": images})
    proba, chosen = model.predict_proba(X), model.predict(X)
    for row, path in enumerate(images):
        genres = printed[path]
        probabilities = [p for _, p, _ in genres]
        assert probabilities == sorted(probabilities, reverse=True)
        for name, probability, marked in genres:
            k = list(model.classes_).index(name)
            assert probability == pytest.approx(proba[row, k], abs=5e-4)
            assert marked == bool(chosen[row, k])


def test_predict_top_limits_the_genres(posters, trained, capsys):
    image = str(posters / "images" / "syn000004.jpg")
    assert main(["predict", "--model", str(trained), "--top", "1", image]) == 0
    assert len(_predictions(capsys.readouterr().out)[image]) == 1


def test_evaluate_scores_the_test_part_and_writes_the_report(posters, trained, tmp_path,
                                                              capsys):
    out = tmp_path / "report"
    assert main(["evaluate", "--model", str(trained), "--data", str(posters),
                 "--report-dir", str(out)]) == 0
    text = capsys.readouterr().out
    model_ap, prior_ap = _macro_ap(text)
    assert model_ap > prior_ap + 0.2
    assert REPORT_FILES <= {p.name for p in out.iterdir()}
    frame = pd.read_csv(posters / "genres.csv")
    _, test = split_by_id(frame["Id"])
    per_genre = pd.read_csv(out / "per_genre.csv", index_col="genre")
    assert per_genre["support"].to_dict() == frame.iloc[test][per_genre.index].sum().to_dict()
    assert f"on {len(test)} posters" in text
    # The tuned thresholds and their spread over the inner folds are in the report.
    model = skposter.load(trained)
    assert per_genre["threshold"].tolist() == pytest.approx(model.thresholds_.tolist())
    assert (per_genre["threshold_sd"] >= 0).all()


def test_labels_picks_the_table_of_a_kaggle_folder(posters, tmp_path, capsys):
    kaggle = tmp_path / "kaggle"
    kaggle.mkdir()
    (kaggle / "Images").symlink_to(posters / "images")
    frame = pd.read_csv(posters / "genres.csv")
    frame.iloc[:50].to_csv(kaggle / "val.csv", index=False)
    pd.concat([frame, frame.iloc[[3]]]).to_csv(kaggle / "whole.csv", index=False)
    path = tmp_path / "model.skposter"
    assert main(["train", "--data", str(kaggle), "--model", "colour", "--out", str(path)]) == 1
    assert "several label tables ['val.csv', 'whole.csv']" in capsys.readouterr().err
    assert main(["train", "--data", str(kaggle), "--labels", "whole.csv", "--model", "colour",
                 "--out", str(path)]) == 0
    captured = capsys.readouterr()
    assert "repeats 1 ids with identical rows" in captured.err
    train, _ = split_by_id(frame["Id"])
    assert f"on {len(train)} of {len(frame)} posters" in captured.out


def test_metadata_models_need_metadata_to_predict(posters, tmp_path, capsys):
    path = tmp_path / "meta.skposter"
    assert main(["train", "--data", str(posters), "--metadata", "--model", "colour",
                 "--out", str(path)]) == 0
    assert "7 metadata columns" in capsys.readouterr().out
    image = str(posters / "images" / "syn000001.jpg")
    assert main(["predict", "--model", str(path), image]) == 1
    assert "pass --metadata CSV" in capsys.readouterr().err
    assert main(["predict", "--model", str(path), "--metadata",
                 str(posters / "metadata.csv"), image]) == 0
    assert len(_predictions(capsys.readouterr().out)[image]) == 3
    assert main(["evaluate", "--model", str(path), "--data", str(posters),
                 "--report-dir", str(tmp_path / "report")]) == 0
    model_ap, prior_ap = _macro_ap(capsys.readouterr().out)
    assert model_ap > prior_ap + 0.2


def test_all_trains_and_evaluates_on_every_poster(posters, tmp_path, capsys):
    path = tmp_path / "all.skposter"
    assert main(["train", "--data", str(posters), "--all", "--model", "colour",
                 "--out", str(path)]) == 0
    assert "on 200 of 200 posters (every poster)" in capsys.readouterr().out
    assert main(["evaluate", "--model", str(path), "--data", str(posters), "--all",
                 "--report-dir", str(tmp_path / "report")]) == 0
    assert "on 200 posters" in capsys.readouterr().out


def test_evaluate_without_matplotlib_warns_and_writes_tables(posters, trained, tmp_path,
                                                             capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    out = tmp_path / "report"
    assert main(["evaluate", "--model", str(trained), "--data", str(posters),
                 "--report-dir", str(out)]) == 0
    captured = capsys.readouterr()
    assert "Per genre" in captured.out
    assert 'skposter: UserWarning: skposter plots need matplotlib: pip install ' \
           '"skposter[plots]"; writing the tables without plots.' in captured.err
    assert {p.name for p in out.iterdir()} == {"per_genre.csv", "summary.csv", "report.md"}


def test_demo_writes_the_report_dir(tmp_path, capsys):
    assert main(["demo", "--n-samples", "150", "--report-dir", str(tmp_path)]) == 0
    assert REPORT_FILES <= {p.name for p in tmp_path.iterdir()}
    assert f"wrote to {tmp_path}/" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["predict", "--model", "{genres}", "x.jpg"], "is not a skposter model file"),
    (["predict", "--model", "{model}", "{folder}/nowhere.jpg"], "could not be read"),
    (["evaluate", "--model", "{model}", "--data", "{folder}/nowhere", "--report-dir",
      "{folder}/r"], "does not exist"),
    (["train", "--data", "{folder}", "--out", "{folder}/no/such/dir/m.skposter"],
     "the folder of --out"),
])
def test_errors_are_one_line_and_nonzero(posters, trained, argv, message, capsys):
    values = {"genres": posters / "genres.csv", "model": trained, "folder": posters}
    command = argv[0]
    assert main([arg.format(**values) for arg in argv]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"skposter {command}: error:") and message in err


def test_evaluate_refuses_a_folder_without_the_models_genres(trained, tmp_path, capsys):
    make_posters(n_samples=40, n_genres=2, directory=tmp_path, random_state=1)
    assert main(["evaluate", "--model", str(trained), "--data", str(tmp_path), "--all",
                 "--report-dir", str(tmp_path / "r")]) == 1
    assert "lacks genres the model predicts: ['Action']" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["demo", "train", "predict", "evaluate"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert help_text.startswith(f"usage: skposter {command}") and len(help_text) > 400


def test_train_without_model_fits_the_default_kind(posters, tmp_path, monkeypatch, capsys):
    assert _models.DEFAULT_MODEL == "posters-plus"
    # The default kind's builder stands in for colour's: this checks the wiring only.
    monkeypatch.setitem(_models.MODELS, "posters-plus", (_models.colour, "stand-in"))
    assert main(["train", "--data", str(posters), "--out", str(tmp_path / "m.skposter")]) == 0
    assert "skposter train: posters-plus model" in capsys.readouterr().out


def test_model_choices_come_from_the_registry(monkeypatch, capsys):
    monkeypatch.setitem(_models.MODELS, "tiny", (_models.colour, "another kind"))
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--model {colour,cnn-features,posters-plus,stack,keras,tiny}" in help_text
    assert "tiny: another kind" in help_text
    with pytest.raises(SystemExit):
        main(["train", "--data", ".", "--out", "m", "--model", "large"])
    assert "invalid choice: 'large'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown model 'large'"):
        _models.build_model("large")


@pytest.mark.realdata
def test_train_predict_evaluate_on_real_posters(shared_posters, tmp_path, capsys):
    folder = tmp_path / "posters"
    folder.mkdir()
    (folder / "images").symlink_to(shared_posters / "images", target_is_directory=True)
    genres = pd.read_csv(shared_posters / "genres.csv", dtype={"Id": str})
    metadata = pd.read_csv(shared_posters / "metadata.csv", dtype={"Id": str})
    subset = genres[genres["Id"].isin(metadata["Id"])].head(150)
    subset.to_csv(folder / "genres.csv", index=False)
    metadata[metadata["Id"].isin(subset["Id"])].to_csv(folder / "metadata.csv", index=False)
    model = tmp_path / "real.skposter"

    assert main(["train", "--data", str(folder), "--metadata", "--n-jobs", "2",
                 "--model", "colour", "--out", str(model)]) == 0
    poster = str(folder / "images" / f"{subset['Id'].iloc[0]}.jpg")
    assert main(["predict", "--model", str(model), "--metadata",
                 str(folder / "metadata.csv"), "--top", "5", poster]) == 0
    assert len(_predictions(capsys.readouterr().out)[poster]) == 5
    out = tmp_path / "report"
    assert main(["evaluate", "--model", str(model), "--data", str(folder),
                 "--report-dir", str(out)]) == 0
    model_ap, prior_ap = _macro_ap(capsys.readouterr().out)
    assert model_ap > prior_ap
    assert REPORT_FILES <= {p.name for p in out.iterdir()}
    per_genre = pd.read_csv(out / "per_genre.csv", index_col="genre")
    assert len(per_genre) == len(genres.columns) - 2


@pytest.mark.slow
@pytest.mark.realdata
def test_cnn_features_decides_one_to_five_likely_genres_on_real_posters(
        shared_posters, tmp_path, capsys):
    model = tmp_path / "cnn.skposter"
    assert main(["train", "--data", str(shared_posters), "--model", "cnn-features",
                 "--out", str(model)]) == 0
    ids = pd.read_csv(shared_posters / "genres.csv", dtype={"Id": str})["Id"]
    _, test = split_by_id(ids)
    posters = [str(shared_posters / "images" / f"{i}.jpg") for i in ids[test[:20]]]
    capsys.readouterr()
    assert main(["predict", "--model", str(model), *posters]) == 0
    found = _predictions(capsys.readouterr().out)
    marked = {p: [(g, prob) for g, prob, chosen in rows if chosen] for p, rows in found.items()}
    assert sorted(marked) == sorted(posters)
    # Tuned thresholds: no genre said at a negligible probability, and genre sets
    # of the size real posters have (2.4 on average).
    assert all(1 <= len(genres) <= 5 for genres in marked.values()), marked
    assert min(prob for genres in marked.values() for _, prob in genres) >= 0.05


@pytest.mark.parametrize("kind, metadata, message", [("stack", [], "add --metadata"),
                                                     ("keras", ["--metadata"], "drop --metadata")])
def test_kinds_check_their_metadata_use(kind, metadata, message, posters, tmp_path, capsys):
    out = tmp_path / f"{kind}.skposter"
    assert main(["train", "--data", str(posters), "--model", kind, *metadata,
                 "--out", str(out)]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("kind, metadata", [("cnn-features", ["--metadata"]),
                                            ("stack", ["--metadata"]), ("keras", [])])
def test_pretrained_kinds_train_and_evaluate(kind, metadata, posters, tmp_path, capsys,
                                             monkeypatch):
    monkeypatch.setenv("SKPOSTER_CACHE_DIR", str(tmp_path / "cache"))
    if kind == "keras":
        # The real builder, at a size and length that train in seconds.
        builder, help = _models.MODELS["keras"]
        small = lambda **options: builder(**options).set_params(  # noqa: E731
            estimator__kerasposterclassifier__input_size=64,
            estimator__kerasposterclassifier__epochs=4)
        monkeypatch.setitem(_models.MODELS, "keras", (small, help))
    path = tmp_path / f"{kind}.skposter"
    assert main(["train", "--data", str(posters), "--model", kind, *metadata,
                 "--out", str(path)]) == 0
    assert main(["evaluate", "--model", str(path), "--data", str(posters),
                 "--report-dir", str(tmp_path / "report")]) == 0
    model_ap, prior_ap = _macro_ap(capsys.readouterr().out)
    assert model_ap > prior_ap + 0.1
