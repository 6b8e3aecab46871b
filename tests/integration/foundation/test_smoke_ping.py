from tests.support.jobs import run_job


def test_ping_runs_through_the_whole_lifecycle(api):
    # Given a worker and intake; When a ping is enqueued over HTTP
    job = run_job(api, "ping", {"echo": "hello"})
    # Then it succeeds with its echo and one attempt
    assert job["state"] == "succeeded", job
    assert job["result"]["echo"] == "hello"
    assert job["attempts"] == 1
