"""Thin Qt widgets over desktop.core.

Import PySide6 before qasync: qasync otherwise picks another Qt binding.
"""
