"""Dask stays optional: importing skposter (and its estimators) never imports it."""

import subprocess
import sys


def test_importing_skposter_does_not_import_dask():
    code = ("import sys, skposter, skposter.features, skposter.multilabel, "
            "skposter.ensemble, skposter.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('dask', 'distributed', 'dask_ml')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_without_dask_the_subpackage_imports_and_names_the_extra():
    code = ("import sys\n"
            "for name in ('dask', 'distributed', 'dask_ml'): sys.modules[name] = None\n"
            "import skposter.distributed as d\n"
            "try:\n"
            "    d.extract_features(['a.jpg'], None)\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "skposter[dask]" in out
