# Closeout's production image: gunicorn by default; the same image runs the consumers and the migrations.
#   docker build -t closeout .
#   docker run --env-file closeout.env -p 8000:8000 closeout
#   docker run --env-file closeout.env closeout flask --app addon worker

# htmx comes from the npm registry at build time (pinned by package-lock.json), as `make setup` does.
FROM node:22-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev \
 && cp node_modules/htmx.org/dist/htmx.min.js /build/htmx.min.js

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PROMETHEUS_MULTIPROC_DIR=/metrics \
    PORT=8000

# A fixed, unprivileged user (compose gives the shared metrics volume to the same uid).
RUN groupadd --system --gid 10001 closeout \
 && useradd --system --uid 10001 --gid closeout --home-dir /app --no-create-home --shell /usr/sbin/nologin closeout

WORKDIR /app
# Runtime dependencies only (no [dev] extras); the sandbox and the tests stay out of the image.
# (A stub package first, so the dependency layer is rebuilt only when pyproject.toml changes.)
COPY pyproject.toml ./
RUN mkdir addon && touch addon/__init__.py \
 && pip install --editable . \
 && rm -rf /root/.cache
COPY addon ./addon
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY manifest.json gunicorn.conf.py ./
COPY --from=assets /build/htmx.min.js ./static/vendor/htmx.min.js
RUN mkdir -p /app/instance /metrics && chown closeout:closeout /app/instance /metrics

USER closeout
EXPOSE 8000
# Liveness only (/healthz); orchestrators route traffic on /readyz (database, queue, Redis).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz\", timeout=4).status != 200)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
