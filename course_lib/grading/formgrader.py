"""A Jupyter server extension that takes nbgrader's Formgrader through this course's tools.

The Formgrader is where a person grades written answers, and that stays as it is. What
would go around the course's grading is replaced:

* the per-row "autograde" action of *Manage Submissions* runs ``course autograde
  <assignment> --student <id> --force``: the judge, in the sandbox, as on the command line
  (stock nbgrader would run the notebook in the student's kernel and trust its tests);
* "generate feedback" runs ``course feedback`` (stock feedback shows the hidden tests);
* the exchange warning goes: this course hands out assignments through git and collects
  them from the LMS (``course collect``), so nbgrader's exchange is not used and its
  release and collect buttons stay hidden.

The extension is enabled for every Jupyter server of the environment (the package
installs ``etc/jupyter/jupyter_server_config.d/course_lib.json``) and loads before
nbgrader's Formgrader, whose routes it answers first. The student's lab (``make lab``)
disables it with the Formgrader.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

__all__ = ["COURSE_COMMAND_TIMEOUT"]

COURSE_COMMAND_TIMEOUT = 3600.0
"""Seconds a ``course`` command started from the Formgrader may take."""


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "course_lib.grading.formgrader"}]


async def _run_course(root: str, *args: str) -> dict[str, Any]:
    """Run ``course --root ROOT ARGS...``; the Formgrader's JSON answer (success, log, error)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "course_lib.cli", "--root", root, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), COURSE_COMMAND_TIMEOUT)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        return {"success": False, "error": f"course {' '.join(args)} took longer than {COURSE_COMMAND_TIMEOUT:g} s"}
    log = out.decode(errors="replace")
    if process.returncode == 0:
        return {"success": True, "log": log}
    return {"success": False, "log": log, "error": err.decode(errors="replace").strip() or f"exit status {process.returncode}"}


def _handlers() -> list[tuple[str, type]]:
    from nbgrader.server_extensions.formgrader import handlers as stock
    from nbgrader.server_extensions.formgrader.base import BaseApiHandler, check_notebook_dir, check_xsrf
    from tornado import web

    class AutogradeHandler(BaseApiHandler):
        @web.authenticated
        @check_xsrf
        @check_notebook_dir
        async def post(self, assignment_id: str, student_id: str) -> None:
            self.write(json.dumps(await _run_course(
                self.coursedir.root, "autograde", assignment_id, "--student", student_id, "--force", "--quiet")))

    class FeedbackHandler(BaseApiHandler):
        @web.authenticated
        @check_xsrf
        @check_notebook_dir
        async def post(self, assignment_id: str, student_id: str | None = None) -> None:
            args = ["feedback", assignment_id, "--quiet"] + (["--student", student_id] if student_id else [])
            self.write(json.dumps(await _run_course(self.coursedir.root, *args)))

    class ManageAssignmentsHandler(stock.ManageAssignmentsHandler):
        def render(self, name: str, **ns: Any) -> str:
            # the exchange is not used by this course: no warning that it is missing
            ns["exchange_missing"] = False
            return super().render(name, **ns)

    return [
        (r"/formgrader/api/submission/([^/]+)/([^/]+)/autograde", AutogradeHandler),
        (r"/formgrader/api/assignment/([^/]+)/generate_feedback", FeedbackHandler),
        (r"/formgrader/api/assignment/([^/]+)/([^/]+)/generate_feedback", FeedbackHandler),
        (r"/formgrader/manage_assignments/?", ManageAssignmentsHandler),
    ]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.utils import url_path_join

    web_app = serverapp.web_app
    base = web_app.settings["base_url"]
    web_app.add_handlers(".*$", [(url_path_join(base, pattern.lstrip("/")), handler) for pattern, handler in _handlers()])
    serverapp.log.info("course_lib: the Formgrader's autograde and feedback actions run the course's judge")


load_jupyter_server_extension = _load_jupyter_server_extension
