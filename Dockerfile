# The exchange service image: `emx serve` (core) or `emx serve --gateway`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    # import the package from /app so that the pages in /app/web are served as well
    PYTHONPATH=/app

WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY matching_engine ./matching_engine
COPY settlement ./settlement
COPY exchange ./exchange
COPY web ./web
# The compiled parts (setup.py: the Cython-compiled book and engine, two small C
# modules, settlement's and the core's hot modules) need a C compiler, which the
# slim image lacks: gcc is installed for the build and removed in the same layer.
# Without it the build would only warn and the service would run the pure-Python
# path (same behaviour, slower). The install is editable so that the modules are built beside the
# sources in /app, which PYTHONPATH puts first (Cython itself is only in pip's
# build environment). `python -c "import matching_engine.engine as e;
# print(e.IMPLEMENTATION)"` in the image says which path it got. Modules built on
# the host for another interpreter are not copied along (rm before the build).
RUN rm -rf build matching_engine/*.so settlement/*.so exchange/core/*.so \
    && apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install -e . \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app emx
USER emx

EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=5 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
CMD ["emx", "serve", "--host", "0.0.0.0", "--port", "8000"]
