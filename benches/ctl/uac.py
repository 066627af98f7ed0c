#!/usr/bin/env python3
"""OPTIONS at a fixed rate to the router, each answer's round trip timed
(benches/ctl/run.sh). Prints: answered, p50, p99, max in ms."""
import socket, sys, time

port, count, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
me = s.getsockname()[1]
s.setblocking(False)
sent, rtts = {}, []
start = time.perf_counter()
i = 0
deadline = start + count / rate + 3
while time.perf_counter() < deadline and (i < count or len(rtts) + 0 < i):
    now = time.perf_counter()
    if i < count and now >= start + i / rate:
        msg = (f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-{i}\r\n"
               f"From: <sip:b@127.0.0.1>;tag={i}\r\nTo: <sip:ping@127.0.0.1>\r\n"
               f"Call-ID: bench-{i}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
               f"Content-Length: 0\r\n\r\n").encode()
        sent[f"bench-{i}"] = time.perf_counter()
        s.sendto(msg, ("127.0.0.1", port))
        i += 1
        continue
    try:
        data = s.recv(4096)
    except BlockingIOError:
        time.sleep(0.0002)
        continue
    t = time.perf_counter()
    for line in data.split(b"\r\n"):
        if line.lower().startswith(b"call-id:"):
            cid = line.split(b":", 1)[1].strip().decode()
            if cid in sent:
                rtts.append((t - sent.pop(cid)) * 1000)
rtts.sort()
q = lambda p: rtts[min(len(rtts) - 1, int(p * len(rtts)))] if rtts else float("nan")
print(f"{len(rtts)} {q(0.5):.3f} {q(0.99):.3f} {rtts[-1] if rtts else float('nan'):.3f}")
