"""Beat entries of the notifications family."""
from celery.schedules import crontab

ENTRIES = {
    "send-daily-notification-digests": {"task": "tasks.notifications.queue_digests",
                                        "schedule": crontab(hour=7, minute=0)},
    "purge-expired-in-app-notifications": {"task": "tasks.notifications.purge_expired_in_app",
                                           "schedule": crontab(minute=23)},
}
