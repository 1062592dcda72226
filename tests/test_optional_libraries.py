"""tests/optional_libraries.require: a missing library skips the test, saying which and why, except under
CI=true, where it fails."""
import pytest

from optional_libraries import require

MISSING = "symbackprop_no_such_library"


def test_an_installed_library_is_returned():
    assert require("json", "nothing").dumps([1]) == "[1]"


def test_a_missing_library_skips_naming_it_and_its_purpose(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"{MISSING} is not installed; the comparison needs it"):
        require(MISSING, "the comparison")


def test_under_ci_a_missing_library_fails(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true requires it"):
        require(MISSING, "the comparison")
