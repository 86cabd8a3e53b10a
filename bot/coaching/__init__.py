"""Coaching: drafts a manager reviews and shares (``service``), drawn from the evidence a reader
may see (``evidence``) by the offline or the LLM coach (``coaches``), recommending only what the
learning catalog holds (``catalog``)."""
