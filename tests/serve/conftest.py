"""A running poster page for the serve tests: a small model, a server in a thread."""

import threading

import pandas as pd
import pytest

from skposter.cli._models import build_model
from skposter.datasets import load_posters, make_posters
from skposter.serve import make_server


@pytest.fixture(scope="module")
def synthetic_folder(tmp_path_factory):
    """Synthetic posters written as files, in the layout ``load_posters`` reads."""
    folder = tmp_path_factory.mktemp("posters")
    make_posters(n_samples=60, n_genres=3, size=(48, 32), directory=folder, random_state=0)
    return folder


@pytest.fixture(scope="module")
def colour_model(synthetic_folder):
    """The CLI's ``colour`` model fitted on the synthetic posters' files."""
    data = load_posters(synthetic_folder)
    target = pd.DataFrame(data.target, columns=data.target_names)
    return build_model("colour", random_state=0).fit(pd.DataFrame({"poster": data.paths}),
                                                      target)


@pytest.fixture
def serve():
    """Factory: ``serve(model, **options)`` starts a server on a free port; its URL."""
    servers = []

    def _serve(model, **options):
        server = make_server(model, port=0, **options)
        # A short poll interval keeps shutdown() from waiting half a second per test.
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server.url

    yield _serve
    for server in servers:
        server.shutdown()
        server.server_close()
