"""Brickwork's core: the platform at this folder's root, and one package per capability.

Imports run one way, down this list; nothing imports what stands above it
(``tests/test_layout.py`` holds the code to it):

- the composition (``app``: ``build_app``; ``cli``; ``server``; ``scheduler``; ``demo``)
  builds and runs everything below;
- ``handlers`` (outside ``bot``) — the Slack edge: parse, call a service, render;
- ``services`` and ``ticker`` — the bundle of services the handlers are given, and the
  periodic work;
- ``home/`` — the App Home, which shows a little of every capability;
- ``growth/`` — ``/growth``, self-assessments and the weekly digest;
- ``coaching/`` — coaching drafts, the coaches (offline and LLM), evidence, the learning catalog;
- ``admin/`` — what admins do in Slack (the org-chart import, forgetting a person, the
  programme's health in counts) and the audit trail of it;
- ``debriefs/`` — post-project debriefs and when they are due;
- ``feedback/`` — the two-dimensional form, requests, giving, reading, anonymity;
- ``people/`` — who people are, who manages whom, who may see what;
- ``analytics/`` — growth analytics as pure functions: rater calibration, readings;
- the infrastructure every capability uses (``slack_gateway``, ``outbox``, ``modals``,
  ``inbound``, ``settings``, ``logs``, ``framework``, ``timekeeping``, ``text``, ``errors``);
- then ``storage`` and ``prompts``, outside ``bot``. ``standin/`` (the local Slack and LLM)
  stands apart: only tests, benchmarks and the demo use it.
"""
