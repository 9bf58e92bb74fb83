"""The built-in rotation functions (``builtin.py``): AWS's rotation templates for PostgreSQL, MySQL and Redis."""

from tumbler.adapters.rotators.builtin import BuiltinRotator, rotators

__all__ = ["BuiltinRotator", "rotators"]
