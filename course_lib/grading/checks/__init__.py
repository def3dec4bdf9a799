"""The checks of each assignment, one module per assignment (see :mod:`course_lib.grading`).

A module registers its checks when imported; :func:`course_lib.grading.get_check`
imports ``course_lib.grading.checks.<module>`` for a check named ``"<module>.<part>"``.
"""

ASSIGNMENTS = {
    "01_risk": "risk",
    "02_sgd": "sgd",
    "03_momentum": "momentum",
    "04_adaptive": "adaptive",
    "05_adamw": "adamw",
    "06_schedules": "schedules",
    "07_init": "init",
    "08_normalization": "normalization",
    "09_beyond_adam": "beyond_adam",
}
"""Assignment folder name -> the checks module that grades it."""
