"""The kubernetes quantity parser is loaded from its own file, without importing the client (fence test)."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

from hydra_flyte.compat import kubernetes_private as kp


def test_the_parser_loads_without_the_kubernetes_client() -> None:
    # In a fresh interpreter: the fast path must apply (the file is where it is looked for) and
    # must not import the generated client.
    code = (
        "import sys; from hydra_flyte.compat.kubernetes_private import quantity_parser, loaded_from_file;"
        "p = quantity_parser(); print(loaded_from_file(), 'kubernetes' in sys.modules, p('1Gi'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["True", "False", "1073741824"], (
        f"kubernetes/{'/'.join(kp.QUANTITY_FILE)} moved or changed: update _kubernetes_private ({out})"
    )


def test_it_is_kubernetes_own_parser() -> None:
    from kubernetes.utils import parse_quantity

    parse = kp.quantity_parser()
    assert parse is not None
    for text in ("500m", "2", "1.5", "8Gi", "512Mi", "1G", "100k"):
        assert parse(text) == parse_quantity(text) == Decimal(parse_quantity(text))
    for bad in ("lots", "8GB", "1.2.3", "Gi"):
        for parser in (parse, parse_quantity):
            try:
                parser(bad)
            except ValueError:
                continue
            raise AssertionError(f"{bad!r} parsed")
