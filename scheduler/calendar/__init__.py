"""``isched calendar``: every schedule's running time on a month calendar, as one self-contained web page.

:mod:`.model` evaluates the schedules with the engine (local days in each schedule's zone: running intervals,
transitions, holidays, clock changes); :mod:`.render` draws that model as HTML.
"""

from .model import CalendarDay, DayTransition, MonthCalendar, ScheduleMonth, build_calendar, parse_month
from .render import render_calendar

__all__ = [
    "CalendarDay",
    "DayTransition",
    "MonthCalendar",
    "ScheduleMonth",
    "build_calendar",
    "parse_month",
    "render_calendar",
]
