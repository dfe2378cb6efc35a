"""Scoring: backends, the resumable prediction store, reports and the OpenAI-compatible server.

A regular package (not a namespace one), so no other `eval` on sys.path can merge into it or,
being a regular package, win over it; run it from the repository root (`python -m eval ...`)."""
