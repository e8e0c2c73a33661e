"""The pure scheduling engine: field grammar, periods, schedules, evaluation and decisions.

No AWS, no clock, no environment: every instant is an argument, so every rule can be tested from a table.
"""

from .decision import Decision, MaintenanceHold, Observed, ResourceState, decide
from .document import dump_document, load_document, parse_text
from .errors import ConfigError, FieldError, Issue
from .evaluate import (
    Evaluator,
    PassView,
    Transition,
    iso_z,
    local_day_bounds,
    merge,
    running_hours,
)
from .fields import DayField, Kind, parse_field
from .maintenance import MaintenanceWindow, rds_windows, window_at
from .override import OVERRIDE_TAG, Override, parse_override
from .periods import Period, parse_period, parse_time
from .schedule import Config, PeriodRef, Schedule, State, parse_config
from .tz import to_instant, zone

__all__ = [
    "OVERRIDE_TAG",
    "Config",
    "ConfigError",
    "DayField",
    "Decision",
    "Evaluator",
    "FieldError",
    "Issue",
    "Kind",
    "MaintenanceHold",
    "MaintenanceWindow",
    "Observed",
    "Override",
    "PassView",
    "Period",
    "PeriodRef",
    "ResourceState",
    "Schedule",
    "State",
    "Transition",
    "decide",
    "dump_document",
    "iso_z",
    "load_document",
    "local_day_bounds",
    "merge",
    "parse_config",
    "parse_field",
    "parse_override",
    "parse_period",
    "parse_text",
    "parse_time",
    "rds_windows",
    "running_hours",
    "to_instant",
    "window_at",
    "zone",
]
