# One image for every Coursework process (intake, workers, beat, flower, migrate):
# the command picks the role, settings come from COURSEWORK_* environment variables.
FROM python:3.11-slim-bookworm

# system tools the families call: ffmpeg (video), bubblewrap + gcc/g++/node (sandbox),
# poppler/zbar + fonts (certificates); tini: PID 1 of the container (reaps orphans, forwards signals)
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      tini ffmpeg bubblewrap gcc g++ libc6-dev nodejs poppler-utils zbar-tools libzbar0 \
      fonts-noto-core fonts-noto-cjk fonts-dejavu-core fonts-droid-fallback fonts-nanum fonts-symbola \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml alembic.ini celeryconfig.py ./
COPY cli cli
COPY domain domain
COPY intake intake
COPY migrations migrations
COPY schedules schedules
COPY tasks tasks
COPY workers workers
RUN pip install --no-cache-dir -e .

RUN useradd --create-home --uid 10001 coursework && mkdir -p /data && chown coursework /data
USER coursework
ENV PYTHONUNBUFFERED=1 COURSEWORK_LOG_JSON=true
# tini as PID 1: the process it starts is never PID 1, so orphans are reaped and SIGTERM reaches
# Celery's warm shutdown. (The sandbox worker also makes itself a child subreaper and reaps what
# it orphans: it stays safe under `docker run --init`, compose `init: true`, or none at all.)
ENTRYPOINT ["/usr/bin/tini", "--", "coursework"]
CMD ["intake", "--host", "0.0.0.0", "--port", "8000"]
