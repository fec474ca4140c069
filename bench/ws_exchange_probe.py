#!/usr/bin/env python3
"""What one fuzz_websocket input costs on the socket, without the fuzzer: the exchange of
tests/fuzz/fuzz_server.cpp's ws_exchange (upgrade, half-close, read until the server closes)
against a running plain mextd, timed. Prints the medians of ROUNDS, with and without a cookie.

    bench/ws_exchange_probe.py PORT TOKEN [ROUNDS]     (mextd started with --plain-http)
"""
import socket
import statistics
import sys
import time


def exchange(port, token):
    started = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port))
    head = ("GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n")
    if token:
        head += "Cookie: mext_session=" + token + "\r\n"
    s.sendall((head + "\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    upgraded = time.monotonic()
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    closed = time.monotonic()
    s.close()
    return (upgraded - started) * 1000, (closed - upgraded) * 1000


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    port, token = int(sys.argv[1]), sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    for label, t in (("cookie", token), ("no cookie", "")):
        runs = [exchange(port, t) for _ in range(rounds)]
        print("%s: upgrade %.2f ms, close after half-close %.2f ms (medians of %d)" % (
            label, statistics.median(r[0] for r in runs),
            statistics.median(r[1] for r in runs), rounds))


if __name__ == "__main__":
    main()
