"""Paused queues: a trigger holds their waiting jobs back from every worker.

procrastinate's workers fetch `todo` jobs whose `scheduled_at` has passed. While a queue is
paused, its waiting jobs (and any deferred or retried meanwhile) are scheduled at
'infinity', their own schedule kept in slidecast_held_jobs; resuming puts it back. Running
jobs are not touched, and the state lives in the database, so it survives worker restarts.
"""

from django.db import migrations

FORWARD = """
CREATE TABLE slidecast_held_jobs (
    job_id bigint PRIMARY KEY,
    original_scheduled_at timestamptz NULL
);

CREATE FUNCTION slidecast_hold_paused_queue_job() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.status = 'todo'
       AND NEW.scheduled_at IS DISTINCT FROM 'infinity'::timestamptz
       AND EXISTS (SELECT 1 FROM jobs_queuepause WHERE queue_name = NEW.queue_name) THEN
        INSERT INTO slidecast_held_jobs (job_id, original_scheduled_at)
            VALUES (NEW.id, NEW.scheduled_at)
            ON CONFLICT (job_id) DO UPDATE
            SET original_scheduled_at = EXCLUDED.original_scheduled_at;
        NEW.scheduled_at := 'infinity'::timestamptz;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER slidecast_hold_paused_queue_job
    BEFORE INSERT OR UPDATE OF status, scheduled_at ON procrastinate_jobs
    FOR EACH ROW EXECUTE FUNCTION slidecast_hold_paused_queue_job();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS slidecast_hold_paused_queue_job ON procrastinate_jobs;
DROP FUNCTION IF EXISTS slidecast_hold_paused_queue_job();
DROP TABLE IF EXISTS slidecast_held_jobs;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0003_oversight"),
        ("procrastinate", "0041_post_retry_failed_job"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
