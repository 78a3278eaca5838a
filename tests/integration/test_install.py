"""Installing as a server: `make install DESTDIR=...` puts every program,
its man page, conf/ and the systemd units in place (the broker's unit
naming the installed paths, both units accepted by systemd-analyze), the
man pages render, and the broker speaks systemd's readiness protocol
(Type=notify: READY=1 once serving, STOPPING=1 on SIGTERM)."""
import os
import re
import shutil
import socket
import subprocess

from conftest import BUILD, Broker

PROGRAMS = ["samsa-broker", "samsa-cluster", "samsa-console-consumer", "samsa-console-producer",
            "samsa-consumer-groups", "samsa-consumer-perf-test", "samsa-dump-log", "samsa-failover-bench", "samsa-kill-rounds",
            "samsa-producer-perf-test", "samsa-topics", "samsa-zookeeper"]
CONF = ["broker-1.properties", "broker-2.properties", "broker-3.properties", "server.properties",
        "zookeeper.properties"]


def make_variable(name):
    with open(os.path.join(BUILD, "Makefile")) as f:
        m = re.search(r"^%s = (.*)$" % re.escape(name), f.read(), re.M)
    return m.group(1).strip()


def test_make_install_destdir(tmp_path):
    dest = str(tmp_path / "root")
    out = subprocess.run(["make", "-C", BUILD, "install", "DESTDIR=" + dest], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    prefix = make_variable("prefix")
    root = dest + prefix
    installed = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
    assert installed == sorted(["bin/" + p for p in PROGRAMS] +
                               ["share/man/man1/%s.1" % p for p in PROGRAMS] +
                               ["etc/samsa/" + c for c in CONF] +
                               ["bin/failover-report.py",  # samsa-failover-bench's plots
                                "lib/systemd/system/samsa-broker.service",
                                "share/samsa/systemd/samsa-zookeeper.service"])
    for p in PROGRAMS:
        assert os.access(os.path.join(root, "bin", p), os.X_OK), p

    with open(os.path.join(root, "lib/systemd/system/samsa-broker.service")) as f:
        unit = f.read()
    assert "\nExecStart=%s/bin/samsa-broker %s/etc/samsa/server.properties\n" % (prefix, prefix) in unit
    assert "\nType=notify\n" in unit and "\nRestart=on-failure\n" in unit and "\nUser=samsa\n" in unit
    assert re.search(r"\nLimitNOFILE=\d+\n", unit)

    # man samsa-topics renders, without a groff warning
    env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0")
    out = subprocess.run(["man", "-l", "--warnings", os.path.join(root, "share/man/man1/samsa-topics.1")],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert out.stdout.startswith("SAMSA-TOPICS(1)")
    assert "samsa-topics - create, list, describe, alter and delete topics" in out.stdout

    # systemd accepts both units (the broker's pointed at the DESTDIR copy)
    # (systemd-analyze: Debian's systemd, which tools/install-deps.sh installs)
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze not found: run tools/install-deps.sh"
    units = tmp_path / "units"
    units.mkdir()
    (units / "samsa-broker.service").write_text(unit.replace("ExecStart=" + prefix, "ExecStart=" + root))
    shutil.copy(os.path.join(root, "share/samsa/systemd/samsa-zookeeper.service"), units)
    env = dict(os.environ, MANPATH=os.path.join(root, "share/man"))
    out = subprocess.run([analyze, "verify", str(units / "samsa-broker.service"),
                          str(units / "samsa-zookeeper.service")], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def test_systemd_notify_ready_and_stopping(workdir, monkeypatch):
    path = os.path.join(workdir, "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(path)
        s.settimeout(60)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        b = Broker(workdir).start()
        try:
            assert s.recv(256) == b"READY=1"
        finally:
            rc = b.stop()
        assert rc == 0, b.read_log()[-3000:]
        assert s.recv(256) == b"STOPPING=1"
