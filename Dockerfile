# figway: the gateway (uvicorn) and the Celery worker run from this one image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffmpeg from the distribution: streaming, transcodes and thumbnails shell out to it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first (figway's and the demo's), from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import subprocess, sys, tomllib; \
project = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
extras = project['optional-dependencies']; \
deps = project['dependencies'] + extras['demo'] + extras['legacy']; \
subprocess.check_call([sys.executable, '-m', 'pip', 'install', *deps])"

COPY . .
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info

# Non-root; /data holds what must outlive the container (media is a volume in compose).
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home figway \
    && mkdir -p /data/media /data/var \
    && chown -R figway:figway /data \
    && chown figway:figway /app/migration_status.yaml

ENV MEDIA_ROOT=/data/media \
    FIGWAY_VAR_DIR=/data/var \
    FIGWAY_MANIFEST=/app/migration_status.yaml \
    FFMPEG_PATH=/usr/bin/ffmpeg

USER figway
EXPOSE 8000
CMD ["figway", "serve", "--host", "0.0.0.0", "--port", "8000"]
