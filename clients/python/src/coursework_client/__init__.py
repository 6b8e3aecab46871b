"""Python client for the Coursework intake API.

    from coursework_client import Client
    with Client("http://intake:8000", api_key) as cw:
        accepted = cw.enqueue("ping", {"echo": "hi"})
        job = cw.wait(accepted.job.id)

``AsyncClient`` has the same methods, to ``await``.
"""
__version__ = "1.0.0"

from coursework_client._retry import Policy  # noqa: E402
from coursework_client.aio import AsyncClient  # noqa: E402
from coursework_client.errors import ApiError, CourseworkError, JobFailed, StreamError  # noqa: E402
from coursework_client.models import *  # noqa: E402,F401,F403
from coursework_client.sync import Client  # noqa: E402

__all__ = ["Client", "AsyncClient", "Policy", "ApiError", "CourseworkError", "JobFailed", "StreamError"]
