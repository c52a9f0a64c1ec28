"""``get_file``: refused, because this library downloads nothing."""


def get_file(fname=None, origin=None, *args, **kwargs):
    """Keras downloads ``origin`` into a cache; this library never downloads at run time.

    Always raises, naming the file, so a program fails where it would have fetched.
    """
    raise RuntimeError(
        f"get_file: this library does not download files (asked for "
        f"{fname or 'a file'!r} from {origin!r}). Download it yourself and pass its local "
        f"path, or use data that is installed already (e.g. sklearn.datasets.load_digits)."
    )
