"""plot_genre_heatmaps: a poster beside its heat map for each genre (matplotlib)."""

from ..metrics._plots import _pyplot
from ._heatmaps import genre_heatmaps
from ._overlay import overlay_heatmap
from ._poster import read_poster
from ._structure import read_structure


def plot_genre_heatmaps(model, poster, genres=None, top=3, axes=None, *, alpha=0.5):
    """Draw the poster, then its heat map for each genre, titled with the probability.

    Parameters
    ----------
    model, poster, genres, top
        As for :func:`~skposter.inspection.genre_heatmaps`.
    axes : sequence of matplotlib.axes.Axes, default=None
        One for the poster and one per genre; a new figure, one row, when None.
    alpha : float, default=0.5
        Opacity of the hottest colour, as for :func:`~skposter.inspection.overlay_heatmap`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    maps = genre_heatmaps(model, poster, genres=genres, top=top)
    image, _, _ = read_poster(poster, read_structure(model).chain, needs_row=False)
    if axes is None:
        height, width = image.shape[:2]
        panel = 3.0  # inches of poster height per panel
        figsize = (panel * width / height * (len(maps) + 1) + 0.5, panel + 1.0)
        _, axes = _pyplot().subplots(1, len(maps) + 1, figsize=figsize, layout="constrained",
                                     squeeze=False)
        axes = axes[0]
    axes = list(axes)
    if len(axes) != len(maps) + 1:
        raise ValueError(f"axes must hold {len(maps) + 1} Axes (the poster and "
                         f"{len(maps)} genres), got {len(axes)}.")
    axes[0].imshow(image)
    axes[0].set_title("poster")
    for ax, item in zip(axes[1:], maps):
        ax.imshow(overlay_heatmap(image, item.heatmap, alpha=alpha))
        ax.set_title(f"{item.genre} {item.probability:.0%}\n({item.method})")
    for ax in axes:
        ax.set_axis_off()
    return axes[0].figure
