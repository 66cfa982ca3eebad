"""A script that cannot be imported."""

import flyte  # noqa: F401

import a_module_that_does_not_exist  # noqa: F401
