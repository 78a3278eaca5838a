"""The Prometheus endpoint (metrics.listener): the text a broker serves
passes Debian's promtool, a real Prometheus scrapes it (target up) and sees
kafka_server_replicamanager_underreplicatedpartitions turn 1 on the leader
while a follower is SIGSTOPped and 0 again after SIGCONT; /health answers
200 while the broker is registered with a live ZooKeeper session and 503
while ZooKeeper is gone; BrokerTopicMetrics count exactly what was
produced and consumed."""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import Broker, ZooKeeper, free_port
from test_controller import Cluster, kcat, wait_for

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")


def http_get(port, path, timeout=5):
    """(status, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def samples(text):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def metrics_port(log_text):
    m = re.search(r"serving /metrics and /health on 127\.0\.0\.1:(\d+)", log_text)
    return int(m.group(1)) if m else None


def test_promtool_exact_counts_and_health(workdir):
    zk = ZooKeeper(workdir)
    zport = free_port()
    zk.start("--port", str(zport))
    port = free_port()
    b = Broker(workdir, overrides=["metrics.listener=127.0.0.1:%d" % port,
                                   "zookeeper.session.timeout.ms=6000"],
               zk_connect="%s/metrics" % zk.address).start()
    try:
        assert http_get(port, "/health") == (200, "ok\n")
        assert http_get(port, "/nope")[0] == 404

        records = 1000
        kcat("-P", "-b", b.bootstrap, "-t", "counted", "-p", "0", "-X", "batch.num.messages=100",
             input_data="".join("r%d\n" % i for i in range(records)).encode())
        out = kcat("-C", "-b", b.bootstrap, "-t", "counted", "-p", "0", "-o", "beginning", "-e", "-q")
        assert len(out.splitlines()) == records

        status, text = http_get(port, "/metrics")
        assert status == 200
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                               timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
        s = samples(text)
        assert s['kafka_server_brokertopicmetrics_messagesin_total{topic="counted"}'] == records
        assert s["kafka_server_brokertopicmetrics_messagesin_total"] == records
        bytes_in = s['kafka_server_brokertopicmetrics_bytesin_total{topic="counted"}']
        # the consumer read the log once, batch for batch as they were appended
        assert bytes_in > records
        assert s['kafka_server_brokertopicmetrics_bytesout_total{topic="counted"}'] == bytes_in
        assert s['kafka_network_requestmetrics_totaltimems_count{request="Produce"}'] >= 1
        assert s['kafka_network_requestmetrics_totaltimems_bucket{request="Produce",le="+Inf"}'] == \
            s['kafka_network_requestmetrics_totaltimems_count{request="Produce"}']
        assert s['kafka_network_requestmetrics_totaltimems_count{request="FetchConsumer"}'] >= 1
        assert s["kafka_server_replicamanager_leadercount"] == 3  # num.partitions=3, one broker
        assert s["kafka_server_replicamanager_partitioncount"] == 3
        assert s["kafka_server_replicamanager_underreplicatedpartitions"] == 0
        assert s["kafka_controller_kafkacontroller_activecontrollercount"] == 1
        assert s["kafka_controller_kafkacontroller_offlinepartitionscount"] == 0
        assert s['kafka_server_sessionexpirelistener_sessionstate{state="CONNECTED"}'] == 1
        assert s["process_open_fds"] > 0

        # ZooKeeper gone: the session is not connected, /health says 503 (and
        # the broker keeps serving the endpoint); back once ZooKeeper is.
        zk.stop()
        wait_for("/health 503", lambda: http_get(port, "/health")[0] == 503, timeout=30, interval=0.3)
        s = samples(http_get(port, "/metrics")[1])
        assert s['kafka_server_sessionexpirelistener_sessionstate{state="CONNECTED"}'] == 0
        assert s["kafka_server_sessionexpirelistener_zookeeperdisconnects_total"] == 1
        zk.start("--port", str(zport))
        wait_for("/health 200", lambda: http_get(port, "/health")[0] == 200, timeout=60, interval=0.3)
    finally:
        rc = b.stop()
        zk.stop()
    assert rc == 0, b.read_log()[-4000:]


def prometheus_query(port, expr):
    """The value of an instant query's single sample, or None."""
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": expr}))
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            result = json.load(r)["data"]["result"]
    except (OSError, ValueError, KeyError):
        return None
    return float(result[0]["value"][1]) if len(result) == 1 else None


def prometheus_target_health(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/targets" % port, timeout=5) as r:
            targets = json.load(r)["data"]["activeTargets"]
    except (OSError, ValueError, KeyError):
        return None
    return targets[0]["health"] if len(targets) == 1 else None


def test_prometheus_sees_under_replicated_partition(workdir):
    """A real Prometheus scrapes the leader every second; a SIGSTOPped
    follower (never the controller: a stopped controller answers no
    AlterIsr) falls out of the ISR once records arrive (an idle partition
    never shrinks), and the leader's gauge turns 1; after SIGCONT it
    catches up and the gauge is 0 again."""
    c = Cluster(workdir, overrides=["replica.lag.time.max.ms=1500", "metrics.listener=127.0.0.1:0"])
    c.overrides = [o for o in c.overrides if not o.startswith("zookeeper.session.timeout.ms=")]
    c.overrides.append("zookeeper.session.timeout.ms=30000")
    c.start()
    prom = None
    stopped = None
    try:
        c.topics("--create", "--topic", "watched", "--partitions", "1", "--replication-factor", "3")
        leader, replicas, _ = wait_for("3 in sync", lambda: (lambda d: d[0] if d.get(0) and d[0][0] > 0 and
                                                              len(d[0][2]) == 3 else None)(c.describe("watched")))
        mport = metrics_port(c.log(leader))
        assert mport, c.log(leader)[-2000:]

        pdir = os.path.join(workdir, "prometheus")
        os.makedirs(pdir)
        with open(os.path.join(pdir, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: samsa\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % mport)
        pport = free_port()
        with open(os.path.join(pdir, "prometheus.log"), "w") as plog:
            prom = subprocess.Popen([PROMETHEUS, "--config.file", os.path.join(pdir, "prometheus.yml"),
                                     "--storage.tsdb.path", os.path.join(pdir, "data"),
                                     "--web.listen-address", "127.0.0.1:%d" % pport],
                                    stdout=plog, stderr=subprocess.STDOUT)
        wait_for("the target up", lambda: prometheus_target_health(pport) == "up", timeout=60, interval=0.5)
        gauge = "kafka_server_replicamanager_underreplicatedpartitions"
        wait_for("%s 0" % gauge, lambda: prometheus_query(pport, gauge) == 0, timeout=30, interval=0.5)

        ctrl = c.controller()
        follower = next(r for r in replicas if r not in (leader, ctrl))
        with open(os.path.join(c.dir, "broker-%d" % follower, "pid")) as f:
            stopped = int(f.read().strip())
        os.kill(stopped, signal.SIGSTOP)
        kcat("-P", "-b", c.bootstrap(leader), "-t", "watched", "-p", "0", "-X", "request.required.acks=1",
             input_data=b"a\nb\nc\n")
        wait_for("%s 1" % gauge, lambda: prometheus_query(pport, gauge) == 1, timeout=40, interval=0.5)
        assert prometheus_query(pport, "kafka_server_replicamanager_isrshrinks_total") == 1

        os.kill(stopped, signal.SIGCONT)
        stopped = None
        wait_for("%s 0 again" % gauge, lambda: prometheus_query(pport, gauge) == 0, timeout=40, interval=0.5)
        assert prometheus_query(pport, "kafka_server_replicamanager_isrexpands_total") == 1
        assert prometheus_query(pport, 'kafka_server_brokertopicmetrics_messagesin_total{topic="watched"}') == 3
    finally:
        if stopped:
            os.kill(stopped, signal.SIGCONT)
        if prom:
            prom.terminate()
            try:
                prom.wait(timeout=30)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
        c.stop()
