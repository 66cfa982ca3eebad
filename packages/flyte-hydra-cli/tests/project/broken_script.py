"""A script that cannot be imported."""

import a_module_that_does_not_exist  # noqa: F401
import flyte  # noqa: F401
