"""Shared fakes and test clients (one place for all of them)."""
