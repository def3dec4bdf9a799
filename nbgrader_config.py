"""nbgrader configuration of the course: the paths every `course` command and nbgrader use."""

import os
from pathlib import Path

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

root = Path(__file__).resolve().parent

c.CourseDirectory.root = str(root)
# nbgrader's empty default breaks a foreign key that PostgreSQL enforces.
c.CourseDirectory.course_id = "optimization-for-deep-learning"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
# Override with COURSE_DB_URL, e.g. postgresql://user@localhost:5432/course
c.CourseDirectory.db_url = os.environ.get("COURSE_DB_URL", f"sqlite:///{root / 'gradebook.db'}")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.png"]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Per-cell limit while autograding; a submission stuck in a loop is stopped, not waited on.
c.ExecutePreprocessor.timeout = 120
c.Execute.timeout = 120
