"""Benchmark: the local endpoint's Step Functions + Lambda, out of process.

    python -m benchmarks.endpoint [--items 200] [--concurrency 1 4 16] [--repeat 3] [--starts 3]
                                  [--cpu-items 200] [--cpu-concurrency 1 2 4]

Starts real `qldb-dr local up` processes and measures:

* start-up: from process start to the first successful AWS request (an S3 ListBuckets,
  polled every 10 ms), the median of --starts starts; it must stay under 3 s;
* Lambda-task items per second through a Distributed Map: the Map reads --items items
  from a JSON list in S3 (ItemReader s3:getObject) and runs each as a child execution
  whose one Task state calls `benchmarks.endpoint.noop`, a trivial real handler, at each
  MaxConcurrency; timed from StartExecution to SUCCEEDED, the best of --repeat runs, with
  ratios against MaxConcurrency 1 measured in the same run;
* the same Map over --cpu-items items whose handler is CPU-bound (`benchmarks.endpoint.cpu`,
  ~20 ms of SHA-256 per item) at each --cpu-concurrency, once with the endpoint's Lambda
  execution environments (worker processes, `QLDB_DR_LOCAL_LAMBDA=process`, what users run)
  and once with the handlers in the endpoint's process (`inline`, the old behaviour and the
  baseline: GIL-bound, ≈1× whatever MaxConcurrency says). On 2 cores MaxConcurrency 4
  should give ≥ 1.6× the items/s of MaxConcurrency 1 in process mode.

Compare the ratios, not the seconds (a noisy 2-core machine).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
START_LIMIT = 3.0


def noop(event: Any, context: Any) -> dict[str, Any]:
    """The benchmark's Lambda handler: as little work as a handler can do."""
    return {"id": event.get("id")}


CPU_BUFFER = bytes(range(256)) * 8  # 2 KiB
CPU_ROUNDS = 10_000  # ≈ 20 ms of SHA-256 on this machine's cores


def cpu(event: Any, context: Any) -> dict[str, Any]:
    """The CPU-bound handler: chains SHA-256 over a 2 KiB buffer CPU_ROUNDS times. Each call stays
    under hashlib's 2048-byte GIL-release threshold, so like most Python work it holds the GIL:
    handlers in one process cannot run it side by side."""
    digest = b""
    for _ in range(CPU_ROUNDS):
        digest = hashlib.sha256(digest + CPU_BUFFER[:2047]).digest()
    return {"id": event.get("id"), "digest": digest.hex()[:16]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Endpoint:
    """A `qldb-dr local up` child process on a port chosen here."""

    def __init__(self, data_dir: Path, lambda_mode: str = "process") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
        env.update(AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION="us-east-1")
        env.pop("AWS_ENDPOINT_URL", None)
        env["QLDB_DR_LOCAL_LAMBDA"] = lambda_mode
        self.started = time.perf_counter()
        command = [sys.executable, "-m", "qldb_dr.cli.main", "local", "up", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--data-dir", str(data_dir)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            region_name="us-east-1",
            endpoint_url=self.url,
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(retries={"max_attempts": 0}, connect_timeout=2, read_timeout=120),
        )

    def cpu_seconds(self) -> float:
        """CPU time of the endpoint's own process (not its Lambda workers), from /proc."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_ready(self) -> float:
        """Seconds from process start to the first successful request."""
        s3 = self.client("s3")
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"qldb-dr local up exited: {self.process.stderr.read() if self.process.stderr else ''}"
                )
            try:
                s3.list_buckets()
                return time.perf_counter() - self.started
            except Exception:
                time.sleep(0.01)
        raise RuntimeError("the endpoint never answered")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_up(starts: int) -> list[float]:
    times = []
    for _ in range(starts):
        with tempfile.TemporaryDirectory() as data:
            endpoint = Endpoint(Path(data))
            try:
                times.append(endpoint.wait_ready())
            finally:
                endpoint.stop()
    return times


def machine(function_arn: str, concurrency: int, key: str = "items.json") -> str:
    return json.dumps(
        {
            "StartAt": "Run Items",
            "States": {
                "Run Items": {
                    "Type": "Map",
                    "ItemReader": {
                        "Resource": "arn:aws:states:::s3:getObject",
                        "ReaderConfig": {"InputType": "JSON"},
                        "Parameters": {"Bucket": "bench", "Key": key},
                    },
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "Noop",
                        "States": {"Noop": {"Type": "Task", "Resource": function_arn, "End": True}},
                    },
                    "MaxConcurrency": concurrency,
                    "ResultSelector": {"count.$": "States.ArrayLength($)"},
                    "End": True,
                }
            },
        }
    )


def items_per_second(
    endpoint: Endpoint,
    items: int,
    levels: list[int],
    repeat: int,
    handler: str = "benchmarks.endpoint.noop",
    endpoint_cpu: dict[int, float] | None = None,
) -> dict[int, float]:
    """Best items/s per MaxConcurrency; `endpoint_cpu` gets the endpoint process's own CPU
    seconds per item in that best run (the per-item work that stays on one GIL)."""
    from qldb_dr.local.aws.lambdas import deploy_function

    s3, sfn = endpoint.client("s3"), endpoint.client("stepfunctions")
    name = handler.rsplit(".", 1)[1]
    key = f"{name}-items.json"
    if "bench" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="bench")
    s3.put_object(Bucket="bench", Key=key, Body=json.dumps([{"id": i} for i in range(items)]))
    function = deploy_function(endpoint.client("lambda"), name, handler, iam=endpoint.client("iam"))
    rates: dict[int, float] = {}
    # The first run warms the executor (and for the CPU handler, its execution environments) up;
    # it is not reported.
    for concurrency in [max(levels), *levels]:
        arn = sfn.create_state_machine(
            name=f"bench-{name}-{concurrency}-{time.monotonic_ns()}",
            roleArn="arn:aws:iam::123456789012:role/bench",
            definition=machine(function, concurrency, key),
        )["stateMachineArn"]
        for _ in range(repeat):
            started, cpu_started = time.perf_counter(), endpoint.cpu_seconds()
            execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
            while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
            assert described["status"] == "SUCCEEDED", described
            assert json.loads(described["output"]) == {"count": items}, described["output"]
            if items / elapsed > rates.get(concurrency, 0.0):
                rates[concurrency] = items / elapsed
                if endpoint_cpu is not None:
                    endpoint_cpu[concurrency] = (endpoint.cpu_seconds() - cpu_started) / items
    return rates


def cpu_rates(
    mode: str, items: int, levels: list[int], repeat: int, endpoint_cpu: dict[int, float]
) -> dict[int, float]:
    with tempfile.TemporaryDirectory() as data:
        endpoint = Endpoint(Path(data), lambda_mode=mode)
        try:
            endpoint.wait_ready()
            return items_per_second(
                endpoint, items, levels, repeat, handler="benchmarks.endpoint.cpu", endpoint_cpu=endpoint_cpu
            )
        finally:
            endpoint.stop()


def timeit_cpu() -> float:
    """CPU seconds of one `cpu` invocation here, the best of 5."""
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        cpu({}, None)
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=200, help="items in the Distributed Map (200)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16], help="MaxConcurrency levels")
    parser.add_argument("--repeat", type=int, default=3, help="runs per level, the best counts (3)")
    parser.add_argument("--starts", type=int, default=3, help="start-ups to time (3)")
    parser.add_argument("--cpu-items", type=int, default=200, help="items in the CPU-bound Map (200)")
    parser.add_argument(
        "--cpu-concurrency", type=int, nargs="+", default=[1, 2, 4], help="MaxConcurrency levels, CPU-bound"
    )
    args = parser.parse_args()

    times = start_up(args.starts)
    median = statistics.median(times)
    print(
        f"start-up to first request : {median:6.2f} s median of {len(times)} "
        f"({', '.join(f'{t:.2f}' for t in times)}; limit {START_LIMIT:.0f} s)"
    )
    with tempfile.TemporaryDirectory() as data:
        endpoint = Endpoint(Path(data))
        try:
            endpoint.wait_ready()
            rates = items_per_second(endpoint, args.items, args.concurrency, args.repeat)
        finally:
            endpoint.stop()
    base = rates[args.concurrency[0]]
    for concurrency in args.concurrency:
        print(
            f"Distributed Map, MaxConcurrency {concurrency:>3}: {rates[concurrency]:7.1f} Lambda-task items/s "
            f"({rates[concurrency] / base:.2f}x MaxConcurrency {args.concurrency[0]})"
        )
    per_item = timeit_cpu()
    print(f"CPU-bound handler: {per_item * 1000:.1f} ms of CPU per item (in this process)")
    base_level = args.cpu_concurrency[0]
    for mode in ("process", "inline"):
        own: dict[int, float] = {}
        cpu = cpu_rates(mode, args.cpu_items, args.cpu_concurrency, args.repeat, own)
        for concurrency in args.cpu_concurrency:
            print(
                f"CPU-bound Map, Lambda {mode:<7}, MaxConcurrency {concurrency:>3}: {cpu[concurrency]:6.1f} items/s "
                f"({cpu[concurrency] / cpu[base_level]:.2f}x MaxConcurrency {base_level}); "
                f"endpoint process {own[concurrency] * 1000:.1f} ms CPU/item"
            )
    if median > START_LIMIT:
        sys.exit(f"start-up {median:.2f} s is over the {START_LIMIT:.0f} s limit")


if __name__ == "__main__":
    main()
