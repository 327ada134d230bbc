# The platform's one image: the web tier, the Celery workers and beat are this image with other
# commands (docker-compose.yml, the Procfile). `docker build -t quant-platform .`
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# LightGBM's wheel needs the GNU OpenMP runtime, which the slim image lacks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

# The processes run as this user; the code stays root's and read-only to them. VAR_DIR is theirs
# (artifacts when they are local, the numba cache): a volume in docker-compose.yml.
RUN useradd --system --uid 10001 --create-home --home-dir /home/quant quant \
    && mkdir -p /var/lib/quant \
    && chown quant:quant /var/lib/quant

WORKDIR /app
# The pinned requirements before the code: a code change rebuilds only the layers below.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

ENV DEBUG=false \
    VAR_DIR=/var/lib/quant \
    STATIC_ROOT=/app/staticfiles \
    NUMBA_CACHE_DIR=/var/lib/quant/numba \
    WEB_BIND=0.0.0.0:8000

# The static files collected into the image (hashed names, compressed) for whitenoise to serve. The
# key and host exist for this one command, so that settings load with DEBUG off: no secret is kept.
RUN SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost VAR_DIR=/tmp/collectstatic \
    python manage.py collectstatic --no-input -v 0 \
    && rm -rf /tmp/collectstatic

USER quant
EXPOSE 8000
CMD ["gunicorn", "-c", "quantsite/gunicorn.conf.py"]
