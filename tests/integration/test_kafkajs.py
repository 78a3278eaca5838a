"""kafkajs 2.2.4 (npm) produces to samsa unchanged: keys, values and headers
arrive intact, exactly once. tests/run.sh installs kafkajs under
build/kafkajs (SAMSA_KAFKAJS_DIR)."""
import os
import subprocess

from conftest import ROOT, BUILD

KAFKAJS_DIR = os.environ.get("SAMSA_KAFKAJS_DIR") or os.path.join(BUILD, "kafkajs")


def test_kafkajs_producer(broker):
    modules = os.path.join(KAFKAJS_DIR, "node_modules")
    assert os.path.isdir(os.path.join(modules, "kafkajs")), "kafkajs not installed in %s (tests/run.sh does it)" % modules
    script = os.path.join(ROOT, "tests", "integration", "kafkajs_produce.js")
    out = subprocess.run(["node", script, broker.bootstrap, "kjs", "1000"], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, NODE_PATH=modules, KAFKAJS_NO_PARTITIONER_WARNING="1"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "sent 1000"
    read = subprocess.run(["kcat", "-b", broker.bootstrap, "-t", "kjs", "-C", "-e", "-o", "beginning", "-q",
                           "-f", "%k %s %h\n"], capture_output=True, text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    rows = sorted(read.stdout.split("\n")[:-1])
    assert rows == sorted("k%d v%d h=%d" % (i, i, i) for i in range(1000))
