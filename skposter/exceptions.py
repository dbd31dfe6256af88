"""Exceptions and warnings raised by skposter."""

__all__ = ["PosterReadError", "PosterReadWarning", "ImageTooLargeError", "WeightsUnavailableError",
           "VersionMismatchWarning", "DeviceFallbackWarning", "FeatureCacheWarning", "RuntimeFallbackWarning"]


class PosterReadError(ValueError):
    """One or more poster files could not be decoded.

    Attributes
    ----------
    failures : dict of str -> str
        Each unreadable file mapped to the reason it failed.
    """

    def __init__(self, failures):
        self.failures = dict(failures)
        lines = [f"  {path}: {reason}" for path, reason in self.failures.items()]
        super().__init__(
            f"{len(self.failures)} poster file(s) could not be read:\n" + "\n".join(lines)
            + "\nDrop them from X and y (see skposter.io.scan_posters) or use "
            "on_error='blank'."
        )


class ImageTooLargeError(ValueError):
    """An image header declares more pixels than allowed (decompression bomb guard)."""


class PosterReadWarning(UserWarning):
    """Unreadable posters were replaced by placeholders."""


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be obtained (offline download, missing package)."""


class VersionMismatchWarning(UserWarning):
    """A saved model was made with other package versions than the ones installed.

    Unpickled estimators may then predict differently or fail; re-train, or install
    the versions the warning names.
    """


class DeviceFallbackWarning(UserWarning):
    """A loaded model asked for devices this machine lacks and runs on others."""


class RuntimeFallbackWarning(UserWarning):
    """A backbone runs on TensorFlow instead of a faster runtime that is not usable here."""


class FeatureCacheWarning(UserWarning):
    """Cache entries were damaged and recomputed, or features could not be stored."""
