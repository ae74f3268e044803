"""moss_ref: placeholder during bootstrap."""
