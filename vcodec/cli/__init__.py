"""The click application behind the ``vcodec`` command."""
