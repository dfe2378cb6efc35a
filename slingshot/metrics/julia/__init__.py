"""Julia code-generation scorer (Julia-LLM-Leaderboard cases), run in a sandbox.

    from slingshot.metrics.julia import score_answer, score_many
    score_answer(case_dir_or_dict, markdown_answer, mode="corrected")  # -> dict with "score"
"""
from slingshot.metrics.julia.sandbox import JuliaNotFound, SandboxUnavailable, ScorerFailure, find_julia, isolation
from slingshot.metrics.julia.score import MODES, harness_rules, score_answer, score_many

__all__ = ["JuliaNotFound", "SandboxUnavailable", "ScorerFailure", "MODES", "find_julia", "harness_rules", "isolation", "score_answer", "score_many"]
