"""Launch files: validation before anything starts, and real supervised processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from facewire import cli
from facewire.launch import launcher as launcher_mod
from facewire.launch.model import LaunchError, NodeSpec, Where, graph_delay, load
from tests.conftest import facewire_cmd

CHAIN = """\
args:
  rate: {default: 50.0, description: talker rate}
  path: {description: sink output}
  prefix: "r: "
nodes:
  - name: talker
    node: talker
    params: {rate: $(arg rate)}
    remap: {output: chatter}
  - name: relay
    node: relay
    params: {prefix: $(arg prefix)}
    remap: {input: chatter, output: relayed}
    respawn: true
    respawn_delay: 0.2
  - name: sink
    node: sink
    params: {path: $(arg path)}
    remap: {input: relayed}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def alive(pid: int) -> bool:
    """A pid that still runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def lines_of(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


class Launch:
    """A ``facewire launch`` process whose output is collected by a thread."""

    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "FACEWIRE_BUS"}
        self.proc = subprocess.Popen(facewire_cmd("launch", *args), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout_s: float = 20.0, after: int = 0) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                m = re.search(pattern, line)
                if m:
                    return m
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r}; output:\n{self.text}")

    def pids(self) -> dict[str, int]:
        """Every process the launcher reported starting (latest pid per name)."""
        out = {}
        for line in self.lines:
            m = re.search(r"started (\S+) \(pid (\d+)\)", line)
            if m:
                out[m.group(1)] = int(m.group(2))
        return out

    def interrupt(self, timeout_s: float = 15.0) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout_s)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_lines(path: Path, n: int, timeout_s: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = lines_of(path)
        if len(got) >= n:
            return got
        time.sleep(0.05)
    raise AssertionError(f"{path}: {len(lines_of(path))} lines, wanted {n}")


# -- real processes -----------------------------------------------------------------------
def test_chain_passes_messages_and_stops_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "sink.jsonl"
    file = write(tmp_path, "chain.yaml", CHAIN)
    run = Launch(str(file), "--arg", f"path={out}", "--arg", "prefix=via relay: ")
    try:
        got = wait_lines(out, 5)
        assert [g["text"] for g in got[:5]] == [f"via relay: hello {i}" for i in range(5)]
        pids = run.pids()
        assert set(pids) == {"registry", "talker", "relay", "sink"}
        assert all(alive(p) for p in pids.values())
        run.wait_for(r"graph delay 0\.0 ms along talker -> relay -> sink$")
        assert run.interrupt() == 0, run.text
    finally:
        run.kill()
    assert "died" not in run.text, run.text
    assert "SIGKILL" not in run.text, run.text  # every node stopped on SIGTERM, in time
    assert run.lines[-1].endswith("stopped")
    time.sleep(0.2)
    assert [name for name, pid in pids.items() if alive(pid)] == [], run.text


def test_bundled_file_by_name_and_sigterm(tmp_path: Path) -> None:
    out = tmp_path / "sink.jsonl"
    run = Launch("chain", "--arg", f"path={out}", "--arg", "rate=40")
    try:
        assert wait_lines(out, 3)[0]["text"] == "relayed: hello 0"
        pids = run.pids()
        run.proc.send_signal(signal.SIGTERM)
        assert run.proc.wait(15) == 0, run.text
    finally:
        run.kill()
    time.sleep(0.2)
    assert not any(alive(p) for p in pids.values())


def test_respawn_after_sigkill(tmp_path: Path) -> None:
    out = tmp_path / "sink.jsonl"
    run = Launch(str(write(tmp_path, "chain.yaml", CHAIN)), "--arg", f"path={out}")
    try:
        wait_lines(out, 3)
        old = run.pids()["relay"]
        os.kill(old, signal.SIGKILL)
        run.wait_for(r"node relay died \(killed by SIGKILL\) .* respawning in 0\.2 s")
        new = int(run.wait_for(r"started relay \(pid (\d+)\) \(restart 1\)").group(1))
        assert new != old and alive(new)
        before = len(lines_of(out))
        got = wait_lines(out, before + 5)
        assert got[-1]["text"].startswith("r: hello ")
        assert run.interrupt() == 0, run.text
    finally:
        run.kill()


def test_host_runs_only_its_part(tmp_path: Path) -> None:
    out = tmp_path / "sink.jsonl"
    file = write(tmp_path, "multi.yaml", CHAIN.replace(
        "    respawn: true\n", "    host: gpu\n    respawn: true\n"))
    address = f"ipc://{tmp_path}/bus-{uuid.uuid4().hex[:6]}.sock"
    primary = Launch(str(file), "--arg", f"path={out}", "--registry", address)
    secondary = None
    try:
        primary.wait_for(r"started talker")
        primary.wait_for(r"started sink")  # the start lines come in any order
        primary.wait_for(r"1 node\(s\) belong to other hosts \(gpu\)")
        assert set(primary.pids()) == {"registry", "talker", "sink"}
        assert not out.exists()  # no relay yet: nothing can reach the sink
        secondary = Launch(str(file), "--arg", f"path={out}", "--host", "gpu",
                           "--registry", address)
        secondary.wait_for(r"started relay")
        assert set(secondary.pids()) == {"relay"}
        assert "using the registry at" in secondary.text
        assert wait_lines(out, 3)[0]["text"].startswith("r: hello ")
        assert secondary.interrupt() == 0, secondary.text
        assert primary.interrupt() == 0, primary.text
    finally:
        primary.kill()
        if secondary is not None:
            secondary.kill()


def test_dead_nodes_are_reported_and_a_required_one_stops_the_launch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "crashing_node.py", """\
import os, time
from facewire.bus.node import Node, Param

class Crash(Node):
    params = {"code": Param(int, 3, "exit code"), "after": Param(float, 0.0, "seconds")}

    def on_start(self):
        time.sleep(self.p.after)
        os._exit(self.p.code)
""")
    file = write(tmp_path, "crash.yaml", """\
nodes:
  - {name: quitter, node: "crashing_node:Crash", params: {code: 0}}
  - {name: loser, node: "crashing_node:Crash", params: {code: 4}}
  - {name: crasher, node: "crashing_node:Crash", required: true, params: {after: 1.5}}
  - {name: sink, node: sink}
""")
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    run = Launch(str(file))
    try:
        assert run.proc.wait(30) == 1, run.text
        run._reader.join(5)
    finally:
        run.kill()
    assert "required node crasher died (exit code 3)" in run.text, run.text
    assert "stopping everything" in run.text
    assert "node quitter ended (exit code 0)" in run.text
    assert "node loser died (exit code 4)" in run.text
    pids = run.pids()
    assert not any(alive(p) for p in pids.values())


def test_graph_delay_reported_from_running_nodes(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "lagging_node.py", """\
from facewire.nodes.testing import Relay
from facewire.bus.node import Param

class Lag(Relay):
    params = {**Relay.params, "lag_ms": Param(float, 0.0, "declared delay")}

    def on_start(self):
        self.delay_s = self.p.lag_ms / 1000  # known only once running, like a smoother's
""")
    file = write(tmp_path, "lag.yaml", """\
nodes:
  - {name: talker, node: talker, remap: {output: a}}
  - {name: slow, node: "lagging_node:Lag", params: {lag_ms: 30}, remap: {input: a, output: b}}
  - {name: slower, node: "lagging_node:Lag", params: {lag_ms: 20}, remap: {input: b, output: c}}
  - {name: side, node: "lagging_node:Lag", params: {lag_ms: 40}, remap: {input: x, output: c}}
  - {name: sink, node: sink, remap: {input: c}}
""")
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    run = Launch(str(file))
    try:
        run.wait_for(r"graph delay 50\.0 ms along talker -> slow -> slower -> sink "
                     r"\(ms per node: slow 30\.0, slower 20\.0, side 40\.0\)$")
        assert run.interrupt() == 0
    finally:
        run.kill()


# -- validation before anything starts ----------------------------------------------------
@pytest.fixture
def no_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to start processes fails the test."""

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the launcher was started")

    monkeypatch.setattr(launcher_mod.Launcher, "__init__", refuse)
    monkeypatch.delenv("FACEWIRE_BUS", raising=False)


BAD_CASES = {
    "unknown node type": (
        CHAIN.replace("node: relay", "node: relya"), ["path=x"],
        r"bad.yaml:11: nodes\[1\]\(relay\)\.node: unknown node type 'relya'"),
    "missing arg": (CHAIN, [], r"bad.yaml:3: args\.path: arg 'path' is required: sink output"),
    "bad param type": (
        CHAIN.replace("{rate: $(arg rate)}", "{rate: fast}"), ["path=x"],
        r"bad.yaml:8: nodes\[0\]\(talker\)\.params\.rate: Talker: parameter 'rate' must be "
        r"float, got 'fast'"),
    "bad param type from arg": (
        CHAIN, ["path=x", "rate=fast"], r"bad.yaml:8: nodes\[0\]\(talker\)\.params\.rate: "),
    "unknown param": (
        CHAIN.replace("{prefix: $(arg prefix)}", "{prefix: a, preffix: b}"), ["path=x"],
        r"bad.yaml:12: nodes\[1\]\(relay\)\.params\.preffix: Relay has no parameter 'preffix'"),
    "unknown port": (
        CHAIN.replace("{input: relayed}", "{inptu: relayed}"), ["path=x"],
        r"bad.yaml:19: nodes\[2\]\(sink\)\.remap\.inptu: Sink has no port 'inptu'"),
    "unknown arg on the command line": (
        CHAIN, ["path=x", "rat=3"], r"bad.yaml:1: --arg rat: unknown arg 'rat'"),
    "duplicate node name": (
        CHAIN.replace("name: sink", "name: relay"), ["path=x"],
        r"bad.yaml:16: nodes\[2\]\(relay\)\.name: duplicate node name /relay \(first at "),
    "unknown key": (
        CHAIN.replace("respawn_delay", "respawn_dleay"), ["path=x"],
        r"bad.yaml:15: nodes\[1\]\(relay\)\.respawn_dleay: unknown key"),
    "undeclared arg": (
        CHAIN.replace("$(arg prefix)", "$(arg prefx)"), ["path=x"],
        r"bad.yaml:12: nodes\[1\]\(relay\)\.params\.prefix: \$\(arg prefx\): no such arg"),
    "include not found": (
        "include:\n  - file: nowhere.yaml\n", [],
        r"bad.yaml:2: include\[0\]\.file: include file 'nowhere.yaml' not found"),
    "yaml syntax": ("nodes:\n  - name: [a\n", [], r"bad.yaml:3: not valid YAML"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_launch_file_fails_before_anything_starts(
    case: str, tmp_path: Path, no_start: None, capsys: pytest.CaptureFixture[str]
) -> None:
    text, args, expected = BAD_CASES[case]
    file = write(tmp_path, "bad.yaml", text)
    argv = ["launch", str(file)] + [a for kv in args for a in ("--arg", kv)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(expected, err), err
    assert str(file) in err


def test_bad_file_fails_as_a_real_command(tmp_path: Path) -> None:
    file = write(tmp_path, "bad.yaml", CHAIN.replace("node: sink", "node: snik"))
    proc = subprocess.run(facewire_cmd("launch", str(file), "--arg", "path=x"),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"{file}:17: nodes[2](sink).node: unknown node type 'snik'" in proc.stderr
    assert "started" not in proc.stdout


def test_secondary_host_needs_a_running_registry(
    tmp_path: Path, no_start: None, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from facewire.commands import launch as command

    monkeypatch.setattr(command, "SECONDARY_WAIT_S", 0.2)
    file = write(tmp_path, "multi.yaml", CHAIN.replace("    respawn: true\n", "    host: gpu\n"))
    base = ["launch", str(file), "--arg", "path=x"]
    assert cli.main([*base, "--host", "gpu"]) == 2
    assert "give the primary's registry" in capsys.readouterr().err
    assert cli.main([*base, "--host", "gpu", "--registry", f"ipc://{tmp_path}/none"]) == 2
    assert "no registry answers" in capsys.readouterr().err
    assert cli.main([*base, "--host", "cpu", "--registry", f"ipc://{tmp_path}/none"]) == 2
    assert "no node has host 'cpu' (hosts in the file: gpu)" in capsys.readouterr().err


# -- the model ----------------------------------------------------------------------------
def test_arg_override_keeps_yaml_types(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_TEST_TEXT", "from env")
    file = write(tmp_path, "a.yaml", CHAIN.replace(
        "params: {rate: $(arg rate)}", "params: {rate: $(arg rate), text: $(env FW_TEST_TEXT)}"
    ).replace("{path: $(arg path)}", "{path: $(arg path)/$(env FW_NOT_SET out).jsonl}"))
    spec = load(file, {"path": "/tmp", "rate": "25", "prefix": "42"})
    talker, relay, sink = spec.nodes
    assert talker.params["rate"] == 25.0 and talker.params["text"] == "from env"
    assert relay.params["prefix"] == "42"  # the default is text, so the value stays text
    assert sink.params["path"] == "/tmp/out.jsonl"
    assert spec.values == {"rate": 25, "path": "/tmp", "prefix": "42"}
    assert load(file, {"path": "/p"}).nodes[0].params["rate"] == 50.0


def test_include_with_namespace_and_args(tmp_path: Path) -> None:
    write(tmp_path, "parts/chain.yaml", CHAIN)
    file = write(tmp_path, "top.yaml", """\
namespace: studio
args:
  out: {default: /tmp/x}
include:
  - file: parts/chain.yaml
    namespace: alice
    args: {path: $(arg out)/alice, rate: 5}
  - file: parts/chain.yaml
    namespace: /bob
    host: gpu
    args: {path: $(arg out)/bob}
nodes:
  - {name: monitor, node: sink, remap: {input: /bob/relayed}}
""")
    spec = load(file)
    labels = [n.label for n in spec.nodes]
    assert labels == ["studio/monitor", "studio/alice/talker", "studio/alice/relay",
                      "studio/alice/sink", "bob/talker", "bob/relay", "bob/sink"]
    by = {n.label: n for n in spec.nodes}
    assert by["studio/alice/talker"].params["rate"] == 5.0
    assert by["studio/alice/sink"].params["path"] == "/tmp/x/alice"
    assert by["studio/alice/relay"].inputs == {"input": "/studio/alice/chatter"}
    assert by["bob/sink"].inputs == {"input": "/bob/relayed"} == by["studio/monitor"].inputs
    assert [n.label for n in spec.nodes_for("gpu")] == ["bob/talker", "bob/relay", "bob/sink"]
    assert spec.hosts == ["gpu"]
    cmd = by["studio/alice/relay"].command()
    assert cmd[cmd.index("--ns") + 1] == "/studio/alice"
    assert cmd[cmd.index("--name") + 1] == "studio/alice/relay"

    bad = write(tmp_path, "bad.yaml", "include:\n  - file: parts/chain.yaml\n")
    with pytest.raises(LaunchError, match=r"bad.yaml:2: include\[0\]\.file: chain.yaml needs "
                                          r"arg 'path'"):
        load(bad)
    bad = write(tmp_path, "bad2.yaml",
                "include:\n  - file: parts/chain.yaml\n    args: {path: x, speed: 3}\n")
    with pytest.raises(LaunchError, match=r"bad2.yaml:3: include\[0\]\.args\.speed: unknown arg"):
        load(bad)
    loop = write(tmp_path, "loop.yaml", "include:\n  - file: loop.yaml\n")
    with pytest.raises(LaunchError, match="include cycle"):
        load(loop)


def test_bundled_two_characters() -> None:
    spec = load("two_characters", {"rate": "3"})
    assert [n.label for n in spec.nodes if n.node == "talker"] == ["alice/talker", "bob/talker"]
    assert {n.outputs["output"] for n in spec.nodes if n.node == "relay"} == {
        "/alice/relayed", "/bob/relayed"}


def test_graph_delay_sums_along_the_longest_path(tmp_path: Path) -> None:
    def spec(name: str, delay: float, ins: list[str], outs: list[str]) -> NodeSpec:
        return NodeSpec(name, "x", "/", {}, {}, False, 1.0, False, None, delay,
                        {t: t for t in ins}, {t: t for t in outs}, Where(tmp_path, 1, name))

    nodes = [spec("mic", 0.0, [], ["/a"]), spec("feat", 0.02, ["/a"], ["/f"]),
             spec("bs", 0.1, ["/f"], ["/b"]), spec("smooth", 0.05, ["/b"], ["/s"]),
             spec("rec", 0.0, ["/a"], []), spec("loop", 0.01, ["/s"], ["/f"])]
    total, path = graph_delay(nodes)
    assert total == pytest.approx(0.18)
    assert path == ["mic", "feat", "bs", "smooth", "loop"]
