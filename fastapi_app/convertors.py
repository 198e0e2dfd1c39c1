"""Path convertors that match as Flask's do, registered before any route is declared.

werkzeug's `<int:…>` is `\\d+` over Unicode: `/api/artists/٣` is artist 3 to Flask, and
the gateway (which matches with werkzeug) sends it to the twin. Starlette's `{…:int}`
takes only ASCII digits and would answer a bare 404, before any auth check.
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class LegacyInt(Convertor[int]):
    regex = r"\d+"

    def convert(self, value: str) -> int:
        return int(value)  # int() reads every Unicode decimal digit, as werkzeug's does

    def to_string(self, value: int) -> str:
        if value < 0:
            raise ValueError("negative ids do not exist")
        return str(value)


# At import: fastapi_app/__init__.py imports this module before any router.
register_url_convertor("int", LegacyInt())
