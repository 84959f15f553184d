"""Dataset folders (DESIGN §3.1): their format, text-embedding cache, and the synthetic text–face world."""
