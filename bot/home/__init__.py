"""The App Home: what it shows of every capability, and what can be changed from it (my team,
vacation, the digest) — ``service``."""
