"""samsa-broker --check-config: Kafka's keys and defaults, file errors, --override."""
import os
import subprocess

from conftest import ROOT, binary


def check_config(*args):
    return subprocess.run([binary("broker/samsa-broker"), "--check-config", *args],
                          capture_output=True, text=True, timeout=30)


def effective(stdout):
    values = {}
    for line in stdout.splitlines():
        if line.startswith("\t") and " = " in line:
            k, v = line.strip().split(" = ", 1)
            values[k] = v
    return values


def test_shipped_configs_load_cleanly():
    for name in ("server.properties", "broker-1.properties", "broker-2.properties", "broker-3.properties"):
        out = check_config(os.path.join(ROOT, "conf", name))
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[-1] == "configuration OK (0 unknown keys)"
        assert "WARN" not in out.stderr


def test_broker_configs_describe_a_local_three_broker_cluster():
    for i in (1, 2, 3):
        values = effective(check_config(os.path.join(ROOT, "conf", "broker-%d.properties" % i)).stdout)
        assert values["broker.id"] == str(i)
        assert values["listeners"] == "PLAINTEXT://127.0.0.1:%d" % (9091 + i)
        assert values["zookeeper.connect"] == "127.0.0.1:2181"


def test_override_wins_over_the_file():
    conf = os.path.join(ROOT, "conf", "server.properties")
    values = effective(check_config(conf).stdout)
    assert values["num.partitions"] == "1"
    out = check_config(conf, "--override", "num.partitions=6", "--override", "log.retention.hours=1")
    assert out.returncode == 0, out.stderr
    values = effective(out.stdout)
    assert values["num.partitions"] == "6"
    assert values["log.retention.hours"] == "1"


def test_bad_value_names_file_line_key_and_value(tmp_path):
    conf = tmp_path / "bad.properties"
    conf.write_text("broker.id=1\nzookeeper.connect=127.0.0.1:2181\nnum.partitions=abc\n")
    out = check_config(str(conf))
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "samsa-broker: %s:3: invalid value 'abc' for num.partitions: expected an integer" % conf)


def test_bad_override_is_an_error():
    out = check_config(os.path.join(ROOT, "conf", "server.properties"), "--override", "num.partitions=0")
    assert out.returncode == 1
    assert "num.partitions" in out.stderr and "'0'" in out.stderr


def test_unknown_key_is_a_warning_not_an_error(tmp_path):
    conf = tmp_path / "unknown.properties"
    conf.write_text("broker.id=1\nzookeeper.connect=127.0.0.1:2181\nsome.plugin.setting=7\n")
    out = check_config(str(conf))
    assert out.returncode == 0, out.stderr
    assert "some.plugin.setting" in out.stderr
    assert out.stdout.splitlines()[-1] == "configuration OK (1 unknown key)"
