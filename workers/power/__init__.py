"""Power drivers (a small Protocol) and the guarded power actions built on them."""
