#!/usr/bin/env python3
"""A point-to-point link between two TUN devices with packet loss and delay, done in user space.

Stand-in for `tc qdisc ... netem` on kernels built without sch_netem. Usage:
    impair-link.py DEV_A DEV_B
creates the two TUN devices (the caller moves them into namespaces and addresses them), prints
"ready", then forwards every IP packet A->B and B->A. Settings arrive as JSON lines on stdin:
    {"a2b": {"delayMs": 200, "lossPercent": 5}, "b2a": {...}}
Each packet is dropped with probability lossPercent/100, else delivered delayMs later, in order.
Exits (and the devices vanish) when stdin closes.
"""
import collections
import fcntl
import json
import os
import random
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
QUEUE_LIMIT = 1000  # packets per direction, like netem's default limit


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    dev_a, dev_b = sys.argv[1], sys.argv[2]
    fds = {"a2b": open_tun(dev_a), "b2a": open_tun(dev_b)}
    out = {"a2b": fds["b2a"], "b2a": fds["a2b"]}
    settings = {"a2b": {"delayMs": 0, "lossPercent": 0}, "b2a": {"delayMs": 0, "lossPercent": 0}}
    queues = {"a2b": collections.deque(), "b2a": collections.deque()}
    stdin = sys.stdin.fileno()
    os.set_blocking(stdin, False)
    pending = b""
    print("ready", flush=True)

    while True:
        now = time.monotonic()
        heads = [q[0][0] - now for q in queues.values() if q]
        timeout = max(0.0, min(heads)) if heads else 1.0
        readable, _, _ = select.select([fds["a2b"], fds["b2a"], stdin], [], [], timeout)
        for fd in readable:
            if fd == stdin:
                data = os.read(stdin, 65536)
                if not data:
                    return
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if line.strip():
                        for direction, value in json.loads(line).items():
                            settings[direction] = {"delayMs": float(value.get("delayMs", 0)), "lossPercent": float(value.get("lossPercent", 0))}
                continue
            direction = "a2b" if fd == fds["a2b"] else "b2a"
            rule = settings[direction]
            for _ in range(256):
                try:
                    packet = os.read(fd, 65536)
                except (BlockingIOError, OSError):
                    break
                if rule["lossPercent"] and random.random() * 100 < rule["lossPercent"]:
                    continue
                if len(queues[direction]) >= QUEUE_LIMIT:
                    continue
                queues[direction].append((now + rule["delayMs"] / 1000.0, packet))
        now = time.monotonic()
        for direction, queue in queues.items():
            while queue and queue[0][0] <= now:
                _, packet = queue.popleft()
                try:
                    os.write(out[direction], packet)
                except OSError:
                    pass  # the far device is down: the packet is lost, as on a cut cable


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
