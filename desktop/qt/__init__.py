"""Thin Qt widgets over desktop.core.

Import PySide6 before qasync (or set QT_API=pyside6): qasync otherwise picks another Qt binding.
"""
