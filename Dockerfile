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
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app emx
USER emx

EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=5 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
CMD ["emx", "serve", "--host", "0.0.0.0", "--port", "8000"]
