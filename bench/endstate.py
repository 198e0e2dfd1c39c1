"""Where the migration ends, served as production would serve it: the FastAPI app alone,
under uvicorn with one worker and the options of `figway serve` (its head-limited
protocol, no access log), Flask absent from the process. Checked rather than assumed.

`python -m bench.endstate --port P --modules-out FILE` refuses to serve (exit 3) when
building the app imported Flask or werkzeug, and at exit writes what the process ended
with to FILE (JSON), so that the benchmark can refuse a figure from a process that
imported either while it served. The environment is the caller's: the memory benchmark
gives it the production settings (deploy/systemd/figway.env.example).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REFUSED_EXIT = 3
# Modules that an end-state process must not hold, by top-level package: Flask, its
# extensions, and werkzeug (Flask's toolkit; nothing on the FastAPI side needs it).
_FLASK = "flask"
_WERKZEUG = "werkzeug"


def flask_modules(modules: Iterable[str]) -> list[str]:
    """The top-level packages among `modules` that only Flask's side uses."""
    tops = {name.partition(".")[0] for name in modules}
    return sorted(t for t in tops if t in (_FLASK, _WERKZEUG) or t.startswith(_FLASK + "_"))


def findings() -> dict[str, object]:
    """This process's verdict: what it holds and must not."""
    return {"refused": flask_modules(sys.modules), "modules": len(sys.modules)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.endstate")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--modules-out", type=Path, required=True)
    args = parser.parse_args(argv)

    import uvicorn

    from fastapi_app import create_fastapi_app
    from gateway.protocol import protocol_class
    from shared.config import Settings

    settings = Settings()
    app = create_fastapi_app(settings)
    at_start = findings()
    if at_start["refused"]:
        print(f"bench.endstate: refusing to serve, loaded: {at_start['refused']}", file=sys.stderr)
        args.modules_out.write_text(json.dumps(at_start))
        return REFUSED_EXIT
    # As `figway serve --workers 1` runs uvicorn (gateway/cli.py), minus the gateway.
    uvicorn.run(
        _at_shutdown(app, lambda: args.modules_out.write_text(json.dumps(findings()))),
        host="127.0.0.1",
        port=args.port,
        workers=1,
        log_level="info",
        access_log=False,
        http=protocol_class(settings),
    )
    return 0


def _at_shutdown(app: ASGIApp, then: Callable[[], object]) -> ASGIApp:
    """`app`, calling `then` once its lifespan has shut down: the last moment this process
    is sure to reach, since uvicorn ends it by raising the SIGTERM it caught again."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                then()  # a small file, once, as the process ends: no request waits on it
            await send(message)

        await app(scope, receive, sending)

    return wrapped


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
