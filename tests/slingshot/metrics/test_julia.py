"""slingshot.metrics.julia, the scorer's front: every name it exports is the one its module defines, and
what stops scoring on a machine is a user's error (a command prints it) or names the missing Julia."""
import slingshot.metrics.julia as julia
from slingshot.errors import UserError
from slingshot.metrics.julia import sandbox, score


def test_every_exported_name_is_the_defining_modules_own():
    assert len(julia.__all__) == len(set(julia.__all__))
    for name in julia.__all__:
        assert getattr(julia, name) in (getattr(sandbox, name, None), getattr(score, name, None)), name
    assert julia.score_answer is score.score_answer and julia.find_julia is sandbox.find_julia
    assert set(julia.MODES) == {"leaderboard", "corrected"}


def test_what_stops_scoring_is_a_users_error_or_a_missing_julia():
    assert issubclass(julia.SandboxUnavailable, UserError) and issubclass(julia.ScorerFailure, UserError)
    assert not issubclass(julia.JuliaNotFound, UserError)  # julia-score turns it into one
