# Orders: list and detail.
