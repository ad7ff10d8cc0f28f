"""Compiled core of hftcore: C structs and ``noexcept nogil`` functions behind thin wrappers."""
