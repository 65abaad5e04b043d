"""The clients under gevent monkey-patching, as Locust runs them: greenlets, gRPC gevent integration, clean exit."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from loadtest.embedded import EmbeddedTriton

SCRIPT = textwrap.dedent(
    """
    from gevent import monkey
    monkey.patch_all()
    import grpc.experimental.gevent
    grpc.experimental.gevent.init_gevent()
    import sys
    import gevent
    import numpy as np
    from pytriton_client import DecoupledModelClient, FuturesModelClient, ModelClient

    http_url, grpc_url = sys.argv[1], sys.argv[2]
    x = np.ones(2, dtype=np.float32)
    records = []

    def user(url):
        with ModelClient(url, "Linear", observer=records.append) as client:
            for _ in range(20):
                assert client.infer_sample(x, parameters={"p": 1}, headers={"x-h": "v"})["OUTPUT_1"].shape == (3,)

    def futures_user(url):
        with FuturesModelClient(url, "Linear", max_workers=4) as client:
            assert len([f.result() for f in [client.infer_sample(x) for _ in range(16)]]) == 16

    def stream_user():
        with DecoupledModelClient(grpc_url, "streaming_bot", observer=records.append) as client:
            for _ in range(3):
                assert len(list(client.infer_sample(np.array([b"hi"]), parameters={"tokens": 2}))) == 3
            iterator = client.infer_sample(np.array([b"hi"]), parameters={"tokens": 50, "token_delay_ms": 5})
            next(iterator)
            iterator.close()

    jobs = [gevent.spawn(user, url) for url in (http_url, grpc_url) for _ in range(4)]
    jobs += [gevent.spawn(futures_user, url) for url in (http_url, grpc_url)]
    jobs += [gevent.spawn(stream_user) for _ in range(2)]
    gevent.joinall(jobs, timeout=60, raise_error=True)
    assert all(job.successful() for job in jobs)
    print(len(records), sum(r.cancelled for r in records))
    """
)


def test_clients_work_in_greenlets_and_the_process_exits(triton_server: EmbeddedTriton) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, triton_server.http_url, triton_server.grpc_url],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [str(8 * 20 + 2 * 4), "2"]
