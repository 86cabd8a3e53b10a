"""Feedback: the two-dimensional form and its checks (``answers``, ``note_quality``), asking for
it (``requests``), giving it (``giving``), reading it (``reading``), the cards all three render
(``cards``), and anonymity that survives inference (``anonymity``)."""
