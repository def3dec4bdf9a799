"""The one exception the instructor's tools raise for a problem the user can fix."""

from __future__ import annotations

__all__ = ["CourseError"]


class CourseError(Exception):
    """A problem the user can fix; reported as one line, exit status 2."""
