"""The schema exists only through migrations, and nothing is pending."""

from __future__ import annotations


def test_flask_db_check_reports_nothing_pending(runner):
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
