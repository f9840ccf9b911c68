"""A Dask cluster of Slurm jobs for ``course grade --scheduler`` (a worked dask-jobqueue example).

Run it on a node that can submit jobs, with the course venv (it has dask-jobqueue):

    .venv/bin/python deploy/slurm/grading_cluster.py 20 --queue short --account rnn-course
    .venv/bin/python deploy/slurm/grading_cluster.py --print-job-script   # what each job runs; no Slurm needed

The scheduler runs inside this process (port 8786); each Slurm job is one Dask worker that grades
one student at a time. The script prints the ``course grade --scheduler ...`` line to run and keeps
the cluster up until Ctrl-C, which cancels the jobs. Book: "Grading on a cluster".
"""
import argparse
import sys
import time

from dask_jobqueue import SLURMCluster


def make_cluster(queue: str | None = None, account: str | None = None, walltime: str = "02:00:00",
                 python: str = sys.executable, memory: str = "6GB", cpus: int = 2,
                 local_directory: str = "$TMPDIR", port: int = 8786, interface: str | None = None) -> SLURMCluster:
    """A SLURMCluster whose jobs are grading workers; no job is submitted until ``scale``.

    - queue, account: Slurm's partition (-p) and account (-A); None leaves them to the site's defaults
    - walltime: how long each job (worker) lives; a worker killed at its walltime has its student
      graded again elsewhere, so give the jobs the length of the batch
    - python: the interpreter each job runs; it needs the course's packages and course_lib
      (requirements.txt, then `pip install --no-deps -e .`) but not solutions/: the checks travel
      with each task
    - memory: what Slurm books per job (--mem), for all the job's processes: the student's kernel
      (the sandbox allows it 4096 MB by default, course grade --memory-mb) plus the worker and
      nbgrader, so at least 1 GB more; dask-jobqueue also passes it as the worker's --memory-limit
    - cpus: CPUs Slurm books per job (--cpus-per-task); with one thread per worker the student's
      kernel gets all of them
    - local_directory: the worker's scratch, on node-local disk; "$TMPDIR" is expanded by the
      job's shell (most Slurm sites set it per job; where not, pass a node-local path such as
      "/local/scratch"); each student is graded in a folder under it
    - port: the scheduler's port, where workers and `course grade` connect
    - interface: the network interface for scheduler and workers (e.g. "ib0"); None: the default
    """
    return SLURMCluster(
        # One worker process per job with one thread: one task (one student) at a time per job.
        # dask-jobqueue derives --nthreads from cores // processes, so cores=1 here, and job_cpu
        # books the CPUs the student's kernel uses.
        cores=1, processes=1, job_cpu=cpus,
        memory=memory, walltime=walltime, queue=queue, account=account,
        job_name="rnn-grader", local_directory=local_directory, python=python, interface=interface,
        death_timeout=120,  # a worker whose scheduler is gone exits, ending its job
        # A worker that is not a daemon process forks each student's grading process from a server
        # with nbgrader and torch loaded (seconds faster per student than a fresh Python).
        job_script_prologue=["export DASK_DISTRIBUTED__WORKER__DAEMON=False"],
        scheduler_options={"port": port},
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("jobs", type=int, nargs="?", default=10, help="Slurm jobs (workers) to start (default 10)")
    p.add_argument("--queue", default=None, help="Slurm partition (placeholder: your site's)")
    p.add_argument("--account", default=None, help="Slurm account (placeholder: your site's)")
    p.add_argument("--walltime", default="02:00:00")
    p.add_argument("--python", default=sys.executable, help="the workers' Python (default: this one)")
    p.add_argument("--memory", default="6GB")
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--local-directory", default="$TMPDIR", help="node-local scratch (default: $TMPDIR)")
    p.add_argument("--port", type=int, default=8786)
    p.add_argument("--interface", default=None)
    p.add_argument("--print-job-script", action="store_true", help="print one job's script and exit")
    args = p.parse_args(argv)
    cluster = make_cluster(args.queue, args.account, args.walltime, args.python, args.memory, args.cpus,
                           args.local_directory, args.port, interface=args.interface)
    try:
        if args.print_job_script:
            print(cluster.job_script())
            return 0
        cluster.scale(jobs=args.jobs)
        print(f"scheduler: {cluster.scheduler_address}  ({args.jobs} Slurm jobs submitted; squeue -u $USER)")
        print(f"then run:  course grade --submissions DIR --assignment rnn --scheduler {cluster.scheduler_address}")
        print("Ctrl-C stops the scheduler and cancels the jobs.", flush=True)
        while True:
            time.sleep(60)
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.close()


if __name__ == "__main__":
    sys.exit(main())
