#!/usr/bin/env python3
"""Hostile control-socket clients, for benches/ctl/run.sh: for DURATION
seconds, junk and truncated packets over unix stream and datagram, TCP
and UDP, 200 clients that connect and never send, and bursts of 300
clients asking core.version at once. Prints how many were answered."""
import os, random, socket, struct, sys, threading, time

unix, unixd, tcp_port, udp_port, duration = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])

def request(cookie, method):
    body = bytes([0x91, len(method) + 1]) + method.encode() + b"\0"
    return bytes([0xA1, 0x03, len(body)]) + struct.pack(">I", cookie) + body

def ask(i, answered):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect(unix)
        s.sendall(request(i, "core.version"))
        if s.recv(4096):
            answered.append(i)
        s.close()
    except OSError:
        pass

rnd = random.Random(7)
idle = []
for _ in range(200):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(unix)
        idle.append(s)
    except OSError:
        pass
end = time.time() + duration
answered, asked, junk = [], 0, 0
while time.time() < end:
    for k in range(50):
        data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300)))
        if k % 3 == 0:
            data = request(k, "core.version")[:5]
        for fam, kind, addr in ((socket.AF_UNIX, socket.SOCK_STREAM, unix),
                                (socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", tcp_port))):
            try:
                s = socket.socket(fam, kind)
                s.connect(addr)
                s.sendall(data)
                s.close()
            except OSError:
                pass
        for fam, addr in ((socket.AF_INET, ("127.0.0.1", udp_port)), (socket.AF_UNIX, unixd)):
            try:
                s = socket.socket(fam, socket.SOCK_DGRAM)
                s.sendto(data, addr)
                s.close()
            except OSError:
                pass
        junk += 4
    threads = [threading.Thread(target=ask, args=(asked + i, answered)) for i in range(300)]
    asked += 300
    for t in threads:
        t.start()
    for t in threads:
        t.join()
print(f"junk packets {junk}, clients asking {asked}, answered {len(answered)}")
