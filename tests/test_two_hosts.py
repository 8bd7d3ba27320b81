"""Two hosts, simulated by two network namespaces joined by a veth pair (198.18.0.0/15 is
reserved for network tests): registry and publisher on one "host", subscribers on the
other, over tcp://; then the same with CURVE, where only the authorised subscriber gets
anything. Skips with the reason where namespaces cannot be made."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bus_helpers import read_lines, wait_until
from conftest import facewire_cmd, stop_process

pytestmark = pytest.mark.netns

ADDR_A, ADDR_B = "198.18.0.1", "198.18.0.2"
REGISTRY = f"tcp://{ADDR_A}:7447"


@dataclass
class Hosts:
    a: str  # namespace holding the registry and the publisher
    b: str  # namespace holding the subscribers


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)


def _must(*args: str) -> None:
    out = _ip(*args)
    if out.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {out.stderr.strip()}")


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    if shutil.which("ip") is None:
        pytest.skip("iproute2's 'ip' command is not installed")
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (run as root, or skip -m 'not netns')")
    tag = uuid.uuid4().hex[:8]
    ns = Hosts(f"fw-{tag}-a", f"fw-{tag}-b")
    veth_a, veth_b = f"fwa{tag}", f"fwb{tag}"
    made: list[str] = []
    try:
        for name in (ns.a, ns.b):
            out = _ip("netns", "add", name)
            if out.returncode != 0:
                pytest.skip(f"cannot make network namespaces here: {out.stderr.strip()}")
            made.append(name)
        out = _ip("link", "add", veth_a, "type", "veth", "peer", "name", veth_b)
        if out.returncode != 0:
            pytest.skip(f"cannot make a veth pair here: {out.stderr.strip()}")
        _must("link", "set", veth_a, "netns", ns.a)
        _must("link", "set", veth_b, "netns", ns.b)
        for name, dev, addr in ((ns.a, veth_a, ADDR_A), (ns.b, veth_b, ADDR_B)):
            _must("-n", name, "addr", "add", f"{addr}/24", "dev", dev)
            _must("-n", name, "link", "set", dev, "up")
            _must("-n", name, "link", "set", "lo", "up")
        yield ns
    finally:
        for name in made:
            _ip("netns", "del", name)  # takes its end of the veth pair (and so both) along
        _ip("link", "del", veth_a)  # in case it never left the root namespace


def _env(curve: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("FACEWIRE_TRANSPORT", "FACEWIRE_CURVE", "FACEWIRE_HOST_IP")}
    env["FACEWIRE_BUS"] = REGISTRY
    if curve is not None:
        env["FACEWIRE_CURVE"] = str(curve)
    return env


def in_ns(ns: str, args: list[str], log: Path, curve: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", ns, *args], env=_env(curve),
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"))  # noqa: SIM115


class Graph:
    """Processes started in the namespaces; all stopped at the end of the test."""

    def __init__(self, hosts: Hosts, tmp: Path) -> None:
        self.hosts, self.tmp, self.procs = hosts, tmp, []

    def start(self, ns: str, name: str, args: list[str], curve: Path | None = None
              ) -> subprocess.Popen:
        proc = in_ns(ns, args, self.tmp / f"{name}.log", curve)
        self.procs.append(proc)
        return proc

    def registry(self, curve: Path | None = None) -> None:
        self.start(self.hosts.a, "registry", facewire_cmd("bus", "--address", REGISTRY), curve)
        # from the other host, over the veth pair: the registry answers
        def answers() -> bool:
            out = subprocess.run(["ip", "netns", "exec", self.hosts.b,
                                  *facewire_cmd("topic", "list", "--json")],
                                 env=_env(curve), capture_output=True, timeout=30)
            return out.returncode == 0
        wait_until(answers, 20, f"the registry at {REGISTRY} from the other namespace")

    def sink(self, name: str, curve: Path | None = None) -> Path:
        path = self.tmp / f"{name}.jsonl"
        self.start(self.hosts.b, name, facewire_cmd(
            "node", "run", "sink", "--name", name, "--remap", "input=/chat",
            "--param", f"path={path}"), curve)
        return path

    def talker(self, curve: Path | None = None) -> None:
        self.start(self.hosts.a, "talker", facewire_cmd(
            "node", "run", "talker", "--param", "rate=50", "--remap", "output=/chat"), curve)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()


@pytest.fixture
def graph(hosts: Hosts, tmp_path: Path) -> Iterator[Graph]:
    g = Graph(hosts, tmp_path)
    try:
        yield g
    finally:
        g.stop()


def assert_consecutive(lines: list[dict]) -> None:
    numbers = [int(r["text"].split()[-1]) for r in lines]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers


def test_messages_flow_between_namespaces(graph: Graph) -> None:
    graph.registry()
    out = graph.sink("far_sink")
    time.sleep(1.0)  # the sink is declared before the talker starts: nothing may be lost
    graph.talker()
    wait_until(lambda: len(read_lines(out)) >= 10, 20,
               "messages across the veth pair\n" + graph.log("far_sink"))
    lines = read_lines(out)
    assert lines[0]["text"] == "hello 0", lines[:3]
    assert_consecutive(lines)


def test_curve_only_the_authorised_subscriber_receives(graph: Graph, tmp_path: Path) -> None:
    keys, stranger = tmp_path / "keys", tmp_path / "stranger-keys"
    for folder in (keys, stranger):
        subprocess.run(facewire_cmd("bus", "keys", str(folder)), check=True,
                       capture_output=True, timeout=30)
    graph.registry(curve=keys)  # the registry is authenticated too
    good = graph.sink("authorised", curve=keys)
    bad = graph.sink("stranger", curve=stranger)  # its own fresh keys, not authorised
    plain = graph.sink("plain")  # no CURVE at all
    time.sleep(1.0)
    graph.talker(curve=keys)
    wait_until(lambda: len(read_lines(good)) >= 10, 20,
               "encrypted messages at the authorised subscriber\n" + graph.log("authorised"))
    time.sleep(1.0)  # the others had every chance
    assert_consecutive(read_lines(good))
    assert read_lines(bad) == []
    assert read_lines(plain) == []
    # the unauthorised ones could not even join: the registry never answered them
    for name, proc in (("stranger", graph.procs[2]), ("plain", graph.procs[3])):
        assert proc.wait(15) == 2, name
        assert "no answer from the facewire registry" in graph.log(name)
    for proc in (graph.procs[0], graph.procs[1], graph.procs[4]):
        assert proc.poll() is None, "a process died"

