"""Housekeeping: deleting old results on a timetable."""
