"""The one place for configuration: Celery settings plus the platform's own settings.

Every value comes from an environment variable (prefix ``COURSEWORK_``) with a safe
default for the embedded demo. The README's configuration table lists them all.
Celery reads the flat lowercase names below (``app.config_from_object("celeryconfig")``);
the rest of the code reads ``settings``.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from kombu import Exchange, Queue
from pydantic_settings import BaseSettings, SettingsConfigDict

STATE_DIR = Path.cwd() / ".coursework"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COURSEWORK_", extra="ignore")

    # --- shared infrastructure -------------------------------------------------
    redis_url: str = "redis://127.0.0.1:6379/0"           # broker, locks, rate limits, pub/sub
    database_url: str = f"sqlite:///{STATE_DIR / 'coursework.db'}"  # SQLAlchemy URL; postgresql+psycopg://... in production
    # storage: "local:///path" (a folder) or "s3://bucket" (boto3; endpoint below)
    storage_url: str = f"local://{STATE_DIR / 'storage'}"  # s3://bucket (boto3) or local:///folder
    s3_endpoint_url: str | None = None                      # S3-compatible endpoint (MinIO, moto); unset = AWS
    s3_region: str = "us-east-1"                            # S3 region
    env: Literal["development", "production"] = "development"  # production: every process refuses to start on a default or weak secret (`coursework config --check`)
    public_base_url: str = "http://127.0.0.1:8000"          # how browsers reach intake (links, local file URLs); https in production
    signing_secret: str = "dev-only-change-me"              # root of the per-purpose HMAC keys (file URLs, unsubscribe, stream tokens): 32+ bytes in production
    signing_previous_secret: str | None = None              # the secret before the last rotation: still verifies until COURSEWORK_SIGNING_PREVIOUS_UNTIL
    signing_previous_until: datetime | None = None          # when links and tokens signed with the previous secret stop being accepted (ISO 8601)

    # --- job lifecycle ----------------------------------------------------------
    lease_seconds: int = 30              # a running job's lease; renewed by a heartbeat
    heartbeat_seconds: float = 5.0       # lease renewal and cancel check period
    retry_backoff_max: int = 300         # seconds; well under the visibility timeout
    visibility_timeout: int = 3600       # Redis transport: unacked messages come back after this
    relay_interval: float = 1.0          # outbox relay / reaper loop period (seconds)
    relay_in_intake: bool = True         # intake runs the relay loop in a thread too
    stranded_seconds: float = 120.0      # a job queued this long (or retrying this long past due) with no claim is published again
    publish_timeout: float = 0.5         # seconds one attempt to publish a job message may take (no connection retries)
    job_retention_days: int = 30         # finished jobs older than this are purged (beat)
    task_sent_events: bool = False       # a Celery task-sent event per enqueue (Flower's SENT state): one more Redis publish per job
    db_pool_size: int = 10               # SQLAlchemy pool per process (PostgreSQL); raise with thread-pool concurrency
    db_max_overflow: int = 20            # extra connections a busy process may open beyond the pool

    # --- intake -------------------------------------------------------------------
    max_body_bytes: int = 1_000_000      # larger request bodies get 413
    rate_limit_per_minute: int = 600     # per API key, kept in Redis (0 = off)
    anonymous_rate_per_minute: int = 120 # requests without a valid key, per client address (0 = off)
    verify_rate_per_minute: int = 60     # public certificate checks per client address (0 = off)
    key_cache_size: int = 10_000         # API keys (and unknown tokens) remembered per process, least recently used out
    key_cache_seconds: float = 10.0      # how long a remembered key (or miss) is trusted before the database is asked again
    http_header_timeout: float = 10.0    # seconds a client has to send a request's line and headers
    http_body_timeout: float = 30.0      # seconds a client may pause while sending a request body
    http_keep_alive_timeout: int = 5     # seconds an idle keep-alive connection stays open
    intake_batch_max: int = 64           # group commit: most jobs concurrent requests share in one transaction
    jobs_batch_max: int = 500            # POST /v1/jobs/batch: most jobs in one request (one transaction)

    # --- workers ------------------------------------------------------------------
    worker_concurrency: int = 2          # default -c of `coursework worker`
    worker_metrics_port: int = 0         # `coursework worker` serves Prometheus metrics on this port (0 = off)
    log_level: str = "INFO"              # DEBUG / INFO / WARNING
    log_json: bool = False               # structlog JSON lines instead of console format

    # --- flower -------------------------------------------------------------------
    flower_port: int = 5555              # `coursework flower` port
    flower_basic_auth: str = "admin:admin"  # user:password for Flower: set it in production

    # --- video (family block) ----------------------------------------------------------
    ffmpeg_bin: str = "ffmpeg"                # path or name of the ffmpeg binary
    ffprobe_bin: str = "ffprobe"              # path or name of the ffprobe binary
    video_ladder: str = "1080,720,480,360"    # rendition short sides; never upscaled
    video_segment_seconds: float = 6.0        # CMAF segment length (keyframes forced on boundaries)
    video_thumbnail_interval: float = 10.0    # seconds between sprite-sheet thumbnails
    video_max_duration_seconds: float = 4 * 3600   # longer sources fail permanently (too_long)
    video_max_bytes: int = 10 * 1024**3       # larger uploads are refused at intake and in the worker
    video_ffmpeg_timeout: float = 3 * 3600    # one ffmpeg run; its process group is killed after this
    video_tmp_dir: str | None = None          # scratch folder for transcodes (default: the system temp)
    video_probe_timeout: float = 120.0        # one ffprobe run
    video_preset: str = "veryfast"            # x264 preset: speed vs size
    video_upload_url_seconds: int = 3600      # presigned PUT lifetime
    video_playback_url_seconds: int = 3600    # lifetime of a learner's signed playback URL
    video_playback_rate_per_minute: int = 1200   # /v1/play requests per client address (0 = off)
    video_version_grace_seconds: float = 86400   # a replaced version's files stay this long (> URL lifetime + CDN TTL)
    video_sweep_interval_seconds: float = 600    # how often the beat sweeps versions past their grace
    video_sprite_max_side: int = 8192         # sprite sheets are split before a side exceeds this (px)

    # --- sandbox (family block) ----------------------------------------------------------
    sandbox_time_limit: float = 10.0             # cap on an exercise's CPU seconds per test case
    sandbox_memory_mb: int = 1024                # cap on an exercise's memory limit (peak RSS)
    sandbox_max_processes: int = 64              # RLIMIT_NPROC per run (threads count)
    sandbox_max_output_bytes: int = 1_000_000    # stdout budget per run: more is Output Limit Exceeded
    sandbox_max_file_bytes: int = 16_000_000     # RLIMIT_FSIZE and the size of the run's /tmp
    sandbox_compile_seconds: float = 10.0        # CPU limit of the compile step (C, C++)
    sandbox_wall_factor: float = 2.0             # wall clock = CPU limit x factor + 1 s
    sandbox_uid_base: int = 61000                # a root worker runs slot n as host uid base + n
    sandbox_slots: int = 0                       # concurrent runs per host (one uid each); 0: usable cores
    sandbox_slot_wait_seconds: float = 300.0     # a run waits this long for a free slot, then is retried
    sandbox_tmp_inodes: int = 4096               # files + folders in a case's /tmp (and /dev/shm)
    sandbox_cgroups: bool = True                 # whole-case limits in cgroups where the host allows
    sandbox_work_dir: str = "/tmp/coursework-sandbox"   # per-run folders, slot locks, the launch and runner helpers
    sandbox_bwrap: str = "bwrap"                 # path or name of the bubblewrap binary

    # --- grading (family block) ----------------------------------------------------------
    grading_chunk_size: int = 500                # learners per batch when a regrade recomputes a course
    grading_recompute_delay: float = 2.0         # seconds a course-grade recompute waits to absorb a burst of gradings

    # --- certificates (family block) -----------------------------------------------------
    certificate_key_file: str | None = None       # PEM Ed25519 private key that signs certificates; development: one made under .coursework/
    certificate_previous_key_files: str = ""      # comma-separated PEM files (private or public) of earlier keys: still published, old certificates keep verifying
    certificate_page_size: str = "A4"              # A4 or letter
    certificate_chunk_size: int = 200              # learners per sub-job of a cohort certification
    certificate_preview_dpi: int = 96              # PNG preview resolution
    certificate_download_expires: int = 3600       # seconds a presigned PDF/PNG link lives
    certificate_render_threads: int = 2            # render/upload threads inside one bulk job

    # --- notifications (family block) ----------------------------------------------------
    email_provider: str = "smtp"                 # smtp | sendgrid
    email_from: str = "Coursework <no-reply@coursework.local>"   # From header of every email (display name may be non-ASCII)
    smtp_host: str = "127.0.0.1"                 # SMTP server (email_provider=smtp)
    smtp_port: int = 1025                        # SMTP port (587 with STARTTLS at most providers)
    smtp_user: str | None = None                 # SMTP login; unset: no AUTH
    smtp_password: str | None = None             # SMTP password (masked in `coursework config`)
    smtp_starttls: bool = False                  # upgrade the SMTP connection with STARTTLS
    smtp_timeout: float = 10.0                   # seconds for each SMTP connect and command
    sendgrid_api_key: str | None = None          # SendGrid API key (email_provider=sendgrid)
    sendgrid_base_url: str = "https://api.sendgrid.com"   # SendGrid API endpoint (a local server in tests)
    sendgrid_webhook_public_key: str | None = None   # Event Webhook verification key (base64, as SendGrid shows it); unset: the webhook answers 404
    sendgrid_webhook_max_age: int = 600          # seconds a signed Event Webhook post stays acceptable (replays older than this are refused)
    notify_chunk_size: int = 1000                # recipients per fan-out chunk job
    email_rate_per_second: float = 50.0          # emails per second across all workers (Redis token bucket)

    # --- tutor (family block) --------------------------------------------------------------
    openai_api_key: str | None = None            # unset: the built-in offline tutor answers
    openai_base_url: str | None = None           # any OpenAI-compatible server (vLLM, llama.cpp, Ollama): http://host:port/v1
    openai_model: str = "gpt-4o-mini"            # model name sent to the provider
    tutor_daily_token_budget: int = 20_000       # tokens per learner per UTC day (prompt + reply)
    tutor_request_timeout: float = 60.0          # seconds for one whole model reply
    tutor_idle_timeout: float = 20.0             # seconds without a streamed chunk before the reply fails
    tutor_max_retry_wait: float = 30.0           # cap on the total wait retrying 429 / 5xx / timeouts
    tutor_stream_token_ttl: int = 300            # seconds a signed SSE stream token is valid
    tutor_replay_ttl: int = 3600                 # seconds a reply's streamed tokens stay in Redis

    # --- analytics (family block) ----------------------------------------------------------
    analytics_max_batch: int = 1000               # events per POST /v1/events request (all or nothing)
    rollup_interval_seconds: float = 120.0        # beat: how often new learning events are rolled up
    trending_window_days: int = 7                 # course popularity window (against the window before it)
    analytics_digest_local_time: str = "18:00"    # learners' local time of the daily digest (HH:MM)
    analytics_digest_check_seconds: float = 300.0 # how often beat looks for learners whose digest is due
    analytics_digest_batch: int = 500             # learners per digest job the beat sweep enqueues
    # beat (owned by the analytics family): RedBeat keeps the schedule in Redis and holds a
    # lock so only one of several started beats fires the entries
    beat_scheduler: str = "redbeat.RedBeatScheduler"   # Celery beat scheduler class (RedBeat: one firing beat)
    beat_lock_timeout: int = 25                   # seconds; a dead beat's lock expires after this

    # --- achievements (family block) -------------------------------------------------------
    achievements_chunk: int = 1000                # learners per chunk of a badge backfill (one transaction and one progress report each)


settings = Settings()

from domain import db as _db  # noqa: E402  (the one place database pool sizes come from)

_db.POOL_OPTIONS.update(pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)

# ---------------------------------------------------------------------------------
# Celery settings (flat lowercase names, read by workers/app.py)
# ---------------------------------------------------------------------------------
from domain.registry import ALL_QUEUES, CONTROL_QUEUE, ROUTES  # noqa: E402

broker_url = settings.redis_url
broker_transport_options = {
    "visibility_timeout": settings.visibility_timeout,
    "socket_connect_timeout": 3,
    "socket_timeout": 10,
}
broker_connection_retry_on_startup = True
result_backend = None                   # job state lives in the database, not Redis
task_ignore_result = True
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
event_serializer = "json"
timezone = "UTC"
enable_utc = True

task_acks_late = True
task_reject_on_worker_lost = True
task_track_started = False
worker_prefetch_multiplier = 1
worker_hijack_root_logger = False
worker_send_task_events = True          # Flower
task_send_sent_event = settings.task_sent_events   # off by default: workers' events are what Flower shows
task_publish_retry = True
task_publish_retry_policy = {"max_retries": 3, "interval_start": 0, "interval_step": 0.2, "interval_max": 1}

_default_exchange = Exchange("coursework", type="direct")
task_queues = tuple(
    Queue(name, _default_exchange, routing_key=name) for name in ALL_QUEUES
)
task_default_queue = CONTROL_QUEUE
task_default_exchange = "coursework"
task_default_routing_key = CONTROL_QUEUE
task_create_missing_queues = False
# tasks are named tasks.<module>.<name>; the module is the family, routed to its queue (domain.registry)
task_routes = {f"tasks.{module}.*": {"queue": queue} for module, queue in ROUTES.items()}

beat_max_loop_interval = 5
beat_scheduler = settings.beat_scheduler
redbeat_redis_url = settings.redis_url
redbeat_key_prefix = "cw:redbeat:"
redbeat_lock_key = "cw:redbeat::lock"
redbeat_lock_timeout = max(settings.beat_lock_timeout, 2)
