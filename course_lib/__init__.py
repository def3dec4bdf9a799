"""course_lib: the reference implementations, widgets and grading helpers of the course
"Optimization for Deep Learning".

Each topic has its own module (``risk``, ``optim``, ``schedules``, ``init``,
``normalization``, ``landscapes``, ``trajectories``, ``plots``, ``widgets``,
``grading``, ``data``); their public names are also available from here.
"""

from course_lib import data, device, grading, risk
from course_lib.data import *  # noqa: F401,F403
from course_lib.device import *  # noqa: F401,F403
from course_lib.risk import *  # noqa: F401,F403

__version__ = "0.1.0"
