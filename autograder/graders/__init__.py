"""One module per lesson (``lNN_slug.py``): its reference implementations and exercises."""
