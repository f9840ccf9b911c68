"""course_lib.progress: training loops show a bar, except where $COURSE_PROGRESS=0 (the book build)."""
from course_lib.progress import progress_bar


def test_the_bar_is_shown_unless_asked_or_the_book_is_building(monkeypatch):
    monkeypatch.delenv("COURSE_PROGRESS", raising=False)
    assert not progress_bar(range(3)).disable
    assert progress_bar(range(3), show=False).disable
    monkeypatch.setenv("COURSE_PROGRESS", "0")
    bar = progress_bar(range(3))
    assert bar.disable and list(bar) == [0, 1, 2]
    monkeypatch.setenv("COURSE_PROGRESS", "1")
    assert not progress_bar(total=5).disable
