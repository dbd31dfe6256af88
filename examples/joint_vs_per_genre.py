"""One network for all genres against one network per genre.

    python examples/joint_vs_per_genre.py --quick          # synthetic posters, seconds
    python examples/joint_vs_per_genre.py --data ../shared/posters

A joint network shares its convolutional features between genres (sigmoid outputs);
per-genre networks, each with its own class weights, are what one reference project
trained. PerGenreClassifier turns any classifier, a Keras one included, into the
per-genre form, so both are one line.
"""

from _common import fit_and_report, parse_args, poster_split

from skposter.models import KerasPosterClassifier
from skposter.multilabel import PerGenreClassifier


def main():
    args = parse_args(__doc__)
    split = poster_split(args)
    size = (48, 32) if args.quick else (192, 128)
    network = dict(architecture="small_cnn", input_size=size, epochs=8 if args.quick else 15,
                   random_state=0)
    fit_and_report("joint: one network, sigmoid outputs",
                   KerasPosterClassifier(class_weight="balanced", **network), split)
    fit_and_report("per genre: one network each",
                   PerGenreClassifier(KerasPosterClassifier(**network)), split)


if __name__ == "__main__":
    main()
