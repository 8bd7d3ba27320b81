"""A graph's algorithmic delay: the slowest path through its nodes' declared ``delay_s``."""

from __future__ import annotations

from facewire.launch.spec import NodeSpec


def graph_delay(nodes: list[NodeSpec]) -> tuple[float, list[str]]:
    """The largest sum of ``delay_s`` along any path of the graph, and that path's nodes.

    Edges go from a node's output topic to every node subscribing to it; cycles are cut.
    Exhaustive over simple paths: fine for the dozen-node graphs launch files describe.
    """
    by_topic: dict[str, list[NodeSpec]] = {}
    for n in nodes:
        for topic in n.inputs.values():
            by_topic.setdefault(topic, []).append(n)

    def walk(n: NodeSpec, seen: frozenset[str]) -> tuple[float, list[str]]:
        tail: tuple[float, list[str]] = (0.0, [])
        for topic in n.outputs.values():
            for nxt in by_topic.get(topic, []):
                if nxt.full_name in seen:
                    continue
                cand = walk(nxt, seen | {n.full_name})
                if cand[0] > tail[0] or (cand[0] == tail[0] and len(cand[1]) > len(tail[1])):
                    tail = cand
        return n.delay_s + tail[0], [n.label, *tail[1]]

    total: tuple[float, list[str]] = (0.0, [])
    for n in nodes:
        cand = walk(n, frozenset())
        if cand[0] > total[0] or (cand[0] == total[0] and len(cand[1]) > len(total[1])):
            total = cand
    return total
