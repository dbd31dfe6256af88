"""Binary cross-entropy against a differentiable soft-F1 loss (and focal loss).

    python examples/bce_vs_soft_f1.py --quick          # synthetic posters, seconds
    python examples/bce_vs_soft_f1.py --data ../shared/posters

One reference project found that training on a soft version of F1 beat
cross-entropy on per-genre F-score. The loss is a constructor parameter here, so the
comparison is a loop (or a GridSearchCV over ``loss``).
"""

from _common import fit_and_report, parse_args, poster_split

from skposter.models import KerasPosterClassifier


def main():
    args = parse_args(__doc__)
    split = poster_split(args)
    size = (48, 32) if args.quick else (192, 128)
    for loss in ("binary_crossentropy", "soft_f1", "focal"):
        model = KerasPosterClassifier("small_cnn", input_size=size, loss=loss,
                                      epochs=8 if args.quick else 15, random_state=0)
        fit_and_report(f"small_cnn, loss={loss}", model, split)


if __name__ == "__main__":
    main()
