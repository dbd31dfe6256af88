"""Keras knows the length of each validation pass (a tf.data pipeline's is unknown)."""

import warnings

from skposter.models import KerasPosterClassifier


def test_validation_passes_do_not_run_out_of_data(posters, tiny):
    model = KerasPosterClassifier(**{**tiny, "validation_split": 0.25, "batch_size": 8})
    with warnings.catch_warnings(record=True) as caught:
        # pyproject ignores the warning for the suite; here it must not occur at all.
        warnings.simplefilter("always")
        model.fit(posters.images, posters.target)
    assert len(model.history_["val_loss"]) == 2
    assert not [w for w in caught if "ran out of data" in str(w.message)]
