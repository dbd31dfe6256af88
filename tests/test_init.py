"""The top-level namespace: every public class and function, TensorFlow only on demand.

Whether TensorFlow is loaded is a property of a fresh interpreter, so those tests run
Python in a subprocess.
"""

import importlib
import inspect
import pkgutil
import subprocess
import sys
import textwrap

import pytest

import skposter

HEAVY = ("tensorflow", "keras", "scikeras", "dask", "distributed")

# Every public subpackage but the command line, whose ``main`` is not library API.
SUBPACKAGES = sorted(info.name for info in pkgutil.iter_modules(skposter.__path__)
                     if info.ispkg and not info.name.startswith("_") and info.name != "cli")


def run_python(code):
    """Run ``code`` in a fresh interpreter; return its stdout (stderr on failure)."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_import_loads_neither_tensorflow_nor_dask():
    out = run_python(f"""
        import sys
        import skposter
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
    """)
    assert out.strip() == "[]"


def test_readme_classes_import_without_tensorflow_until_first_use():
    out = run_python(f"""
        import sys
        import numpy as np
        loaded = lambda: [m for m in {HEAVY!r} if m in sys.modules]
        from skposter import CNNFeatureExtractor, KerasPosterClassifier
        from skposter.features import CNNFeatureExtractor as C
        from skposter.models import KerasPosterClassifier as K
        print(C is CNNFeatureExtractor and K is KerasPosterClassifier)
        model = KerasPosterClassifier("small_cnn", input_size=16, filters=(4,), epochs=1)
        print(loaded())
        images = np.zeros((4, 16, 16, 3), np.uint8)
        model.fit(images, np.array([[0, 1], [1, 0], [0, 1], [1, 0]]))
        print("tensorflow" in loaded())
    """)
    same, after_import, after_fit = out.splitlines()
    assert same == "True"
    # Importing and configuring load nothing heavy; fitting is the first use.
    assert after_import == "[]"
    assert after_fit == "True"


def test_dir_lists_lazy_names_and_subpackages():
    names = dir(skposter)
    for name in ("CNNFeatureExtractor", "KerasPosterClassifier", "PerGenreClassifier",
                 "make_metadata_preprocessor", "save", "load", "models", "features"):
        assert name in names
    assert set(skposter.__all__) <= set(names)


def test_unknown_name_raises_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="'no_such_thing'"):
        skposter.no_such_thing  # noqa: B018
    with pytest.raises(ImportError, match="no_such_thing"):
        exec("from skposter import no_such_thing", {})


def test_every_name_in_all_resolves():
    for name in skposter.__all__:
        assert getattr(skposter, name) is not None, name
    assert len(set(skposter.__all__)) == len(skposter.__all__)


def test_all_holds_every_public_class_and_function_of_the_subpackages():
    """Adding a class or function to a subpackage's ``__all__`` exports it here too."""
    missing = {}
    for package in SUBPACKAGES:
        module = importlib.import_module(f"skposter.{package}")
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                if name not in skposter.__all__:
                    missing[name] = package
                else:
                    assert getattr(skposter, name) is value, name
    assert not missing, f"public but not exported from skposter: {missing}"


def test_lazy_names_come_from_the_package_named_in_the_table():
    for name, package in skposter._LAZY_ORIGIN.items():
        module = importlib.import_module(f"skposter.{package}")
        assert name in module.__all__, f"{name} is not in skposter.{package}.__all__"


def test_save_and_load_stay_at_the_top():
    from skposter._persistence import load, save

    assert skposter.save is save and skposter.load is load


def test_subpackages_are_attributes():
    for package in SUBPACKAGES:
        assert package in dir(skposter)
        assert getattr(skposter, package) is importlib.import_module(f"skposter.{package}")
    assert skposter.models.KerasPosterClassifier is skposter.KerasPosterClassifier
    assert skposter.features.CNNFeatureExtractor is skposter.CNNFeatureExtractor
