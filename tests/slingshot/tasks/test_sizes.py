"""train_size and validation_size: a count, a percentage of the source, or 'all', each refused by name."""
import pytest

from slingshot.errors import DataError
from slingshot.tasks.sizes import FORMS, parse_size, size_problem


def test_the_accepted_forms():
    assert parse_size(200, 1000, "k") == 200
    assert parse_size("4%", 1000, "k") == 40
    assert parse_size("100%", 7, "k") == 7
    assert parse_size("all", 1000, "k") == 1000
    assert parse_size(5, None, "k") == 5  # the source not read yet: only a count is known
    assert parse_size("4%", None, "k") is None and parse_size("all", None, "k") is None


@pytest.mark.parametrize("size,forms,words", [
    (0, FORMS, "expected a count >= 1, a percentage like '4%' or 'all', got 0"),
    (True, FORMS, "got True"), (2.5, FORMS, "got 2.5"),
    ("0%", FORMS, "a percentage must be a number above 0 and at most 100"),
    ("101%", FORMS, "at most 100"), ("x%", FORMS, "'x%'"),
    ("all", ("count",), "expected a count >= 1, got 'all'"),
    ("4%", ("count", "all"), "expected a count >= 1 or 'all', got '4%'")])
def test_each_wrong_size_is_named(size, forms, words):
    assert words in size_problem(size, forms)
    with pytest.raises(DataError, match="^slingshot.train_size: "):
        parse_size(size, 100, "slingshot.train_size", forms)


def test_sizes_the_source_cannot_give_name_it():
    with pytest.raises(DataError, match=r"'1%' selects no example of the source \(20 rows\)"):
        parse_size("1%", 20, "k")
    with pytest.raises(DataError, match="asks for 30 rows, but the top 2 per case holds only 20"):
        parse_size(30, 20, "k", source="the top 2 per case")
    assert size_problem(3, ("count",)) is None and size_problem("all", FORMS) is None
