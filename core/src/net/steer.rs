//! Steering datagrams to their owner shard inside the kernel.
//!
//! # Why
//!
//! Every shard has its own UDP socket per listen address, all of them in
//! one SO_REUSEPORT group (bound in shard order, so socket `i` of the group
//! belongs to shard `i`). Left alone, the kernel picks a socket of the
//! group by hashing the 4-tuple, which knows nothing of calls: with `n`
//! shards a datagram lands on its owner (`hash(Call-ID) % n`, see
//! [`crate::shard::owner`]) only once in `n` times, and every other one is
//! copied into the owner's ring and the owner woken up (a handoff: a
//! cross-CPU wake-up costs about 14 µs of CPU).
//!
//! # How
//!
//! A small eBPF program (`BPF_PROG_TYPE_SOCKET_FILTER`) is attached to the
//! group with `SO_ATTACH_REUSEPORT_EBPF`. The kernel runs it for every
//! datagram the group receives, with the UDP header already pulled, so
//! offset 0 of `bpf_skb_load_bytes` is the first byte of the SIP message.
//! Its return value is the index of the socket to deliver to; an index
//! outside the group makes the kernel fall back to its 4-tuple hash.
//!
//! The program scans the first [`SCAN_DEPTH`] bytes of the message for the
//! first line that starts with `Call-ID` or the compact `i` (any case),
//! optionally followed by spaces or tabs, then `:`. It skips the spaces and
//! tabs after the colon and runs FNV-1a 64 over the value up to the first
//! space, tab, CR or LF, folds it exactly as [`crate::shard::owner`] does,
//! and returns `hash % shards`. A valid Call-ID holds no white space, so
//! this is the trimmed value the parser sees; trailing white space is
//! therefore left out. It gives up (returns `u32::MAX`, i.e. "kernel, use
//! your hash") when it meets the empty line ending the headers, when the
//! value is empty, or when the value does not end within the scanned
//! bytes. User space still checks the owner of every message and hands off
//! on a mismatch, so a message the program gets wrong (folded Call-ID
//! header, Call-ID past the scan depth) is only slower, never lost.
//!
//! The program is written with the tiny assembler below (no C compiler,
//! no libbpf, no BTF): 179 instructions. Its shape is dictated by the
//! verifier, which walks a bounded loop once per iteration and gives up
//! after a million instructions:
//!
//! - the scan is one byte loop per parsing state (line scan, before the
//!   colon, after the colon, value), the state being where the program
//!   is rather than a register, so that the verifier sees few states per
//!   byte position (about 460 000 instructions walked for 2048 bytes, a
//!   second of verification, done once);
//! - `skb->len` is read afresh at each byte instead of being kept in a
//!   register or on the stack: a kept copy collects a different range at
//!   each position, which defeats the verifier's pruning (the walk grew
//!   quadratically with the depth that way);
//! - the message is read into the stack in [`CHUNK`]-byte pieces (plus a
//!   [`PEEK`]-byte overlap so that a header name can be matched in one go
//!   after a line feed), the last piece exactly up to the end of the
//!   datagram, since `bpf_skb_load_bytes` fails past it;
//! - branches leading out of the program (give up, found) are written
//!   "skip over an unconditional jump", so that the verifier, which
//!   follows the fall-through first, finishes them at once instead of
//!   keeping thousands of pending branches;
//! - should a kernel find it too complex anyway (E2BIG), shallower scans
//!   are tried ([`CallIdSteering::depth`] tells which one loaded).
//!
//! At run time the program costs a few instructions per byte up to the
//! end of the Call-ID value, and one `bpf_skb_load_bytes` per 256 bytes.

use std::io;
use std::net::UdpSocket;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// How many bytes of a message are searched for the Call-ID: its value
/// must end (CR, LF, space or tab) before this offset.
pub const SCAN_DEPTH: u32 = 2048;

/// Bytes read from the datagram per `bpf_skb_load_bytes` call.
const CHUNK: i32 = 256;
/// Bytes read past a chunk so that a header name after a line feed near
/// the end of the chunk is in the buffer too (`\n` + `call-id`).
const PEEK: i32 = 8;
/// Size of the stack buffer.
const CAP: i32 = CHUNK + PEEK;

/// The buffer's offset from the frame pointer R10 (CAP bytes, 8-aligned).
const BUF: i16 = -(CAP as i16);

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// `bpf_skb_load_bytes(skb, offset, to, len)`.
const HELPER_SKB_LOAD_BYTES: i32 = 26;

/// Returned to let the kernel choose (any index >= the group size).
const FALLBACK: i32 = -1; // as u32: 0xffff_ffff

// Linux UAPI constants (include/uapi/linux/bpf.h, asm-generic/socket.h).
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
#[cfg(any(target_arch = "sparc", target_arch = "sparc64"))]
const SO_ATTACH_REUSEPORT_EBPF: libc::c_int = 0x0036;
#[cfg(not(any(target_arch = "sparc", target_arch = "sparc64")))]
const SO_ATTACH_REUSEPORT_EBPF: libc::c_int = 52;

/// Verifier log kept when loading fails (its tail is what matters).
const LOG_SIZE: usize = 1 << 20;

// ---------------------------------------------------------------------
// A tiny eBPF assembler.
// ---------------------------------------------------------------------

/// One eBPF instruction, laid out as the kernel's `struct bpf_insn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    pub code: u8,
    /// Destination register in the low nibble, source in the high one (on
    /// little-endian hosts; swapped on big-endian, as the C bit-fields).
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        #[cfg(target_endian = "little")]
        let regs = (dst & 0xf) | (src << 4);
        #[cfg(target_endian = "big")]
        let regs = (dst << 4) | (src & 0xf);
        Insn {
            code,
            regs,
            off,
            imm,
        }
    }

    pub const fn dst(&self) -> u8 {
        #[cfg(target_endian = "little")]
        let r = self.regs & 0xf;
        #[cfg(target_endian = "big")]
        let r = self.regs >> 4;
        r
    }

    pub const fn src(&self) -> u8 {
        #[cfg(target_endian = "little")]
        let r = self.regs >> 4;
        #[cfg(target_endian = "big")]
        let r = self.regs & 0xf;
        r
    }
}

/// Registers.
pub mod reg {
    pub const R0: u8 = 0;
    pub const R1: u8 = 1;
    pub const R2: u8 = 2;
    pub const R3: u8 = 3;
    pub const R4: u8 = 4;
    pub const R5: u8 = 5;
    pub const R6: u8 = 6;
    pub const R7: u8 = 7;
    pub const R8: u8 = 8;
    pub const R9: u8 = 9;
    /// Frame pointer (read-only).
    pub const R10: u8 = 10;
}
use reg::*;

/// Opcode fields.
pub mod op {
    // Classes.
    pub const LD: u8 = 0x00;
    pub const LDX: u8 = 0x01;
    pub const STX: u8 = 0x03;
    pub const JMP: u8 = 0x05;
    pub const ALU64: u8 = 0x07;
    pub const ALU: u8 = 0x04;
    // Sizes and modes (loads and stores).
    pub const W: u8 = 0x00;
    pub const B: u8 = 0x10;
    pub const DW: u8 = 0x18;
    pub const IMM: u8 = 0x00;
    pub const MEM: u8 = 0x60;
    // Operand source (ALU and jumps).
    pub const K: u8 = 0x00;
    pub const X: u8 = 0x08;
    // ALU operations.
    pub const ADD: u8 = 0x00;
    pub const SUB: u8 = 0x10;
    pub const MUL: u8 = 0x20;
    pub const OR: u8 = 0x40;
    pub const AND: u8 = 0x50;
    pub const RSH: u8 = 0x70;
    pub const MOD: u8 = 0x90;
    pub const XOR: u8 = 0xa0;
    pub const MOV: u8 = 0xb0;
    // Jump operations (unsigned comparisons).
    pub const JA: u8 = 0x00;
    pub const JEQ: u8 = 0x10;
    pub const JGE: u8 = 0x30;
    pub const JNE: u8 = 0x50;
    pub const CALL: u8 = 0x80;
    pub const EXIT: u8 = 0x90;
    pub const JLT: u8 = 0xa0;
    pub const JLE: u8 = 0xb0;
}

/// A jump target, bound to an instruction index with [`Asm::bind`].
#[derive(Clone, Copy, Debug)]
struct Label(usize);

/// Instructions being assembled, with forward and backward jumps to
/// labels resolved by [`Asm::finish`].
#[derive(Default)]
struct Asm {
    insns: Vec<Insn>,
    labels: Vec<Option<usize>>,
    /// (index of a jump instruction, its target).
    fixups: Vec<(usize, Label)>,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    fn bind(&mut self, l: Label) {
        self.labels[l.0] = Some(self.insns.len());
    }

    fn emit(&mut self, i: Insn) {
        self.insns.push(i);
    }

    /// `dst op= imm` on 64 bits (imm is sign-extended).
    fn alu_k(&mut self, o: u8, dst: u8, imm: i32) {
        self.emit(Insn::new(op::ALU64 | o | op::K, dst, 0, 0, imm));
    }

    /// `dst op= src` on 64 bits.
    fn alu_x(&mut self, o: u8, dst: u8, src: u8) {
        self.emit(Insn::new(op::ALU64 | o | op::X, dst, src, 0, 0));
    }

    /// `dst = imm` on 32 bits, zero-extended.
    fn mov32_k(&mut self, dst: u8, imm: i32) {
        self.emit(Insn::new(op::ALU | op::MOV | op::K, dst, 0, 0, imm));
    }

    /// `dst = imm` (two instruction slots).
    fn ld_imm64(&mut self, dst: u8, imm: u64) {
        self.emit(Insn::new(
            op::LD | op::DW | op::IMM,
            dst,
            0,
            0,
            imm as u32 as i32,
        ));
        self.emit(Insn::new(0, 0, 0, 0, (imm >> 32) as u32 as i32));
    }

    /// `dst = *(size *)(src + off)`.
    fn ldx(&mut self, size: u8, dst: u8, src: u8, off: i16) {
        self.emit(Insn::new(op::LDX | size | op::MEM, dst, src, off, 0));
    }

    /// `if dst op imm goto l`.
    fn jmp_k(&mut self, o: u8, dst: u8, imm: i32, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.emit(Insn::new(op::JMP | o | op::K, dst, 0, 0, imm));
    }

    /// `if dst op src goto l`.
    fn jmp_x(&mut self, o: u8, dst: u8, src: u8, l: Label) {
        self.fixups.push((self.insns.len(), l));
        self.emit(Insn::new(op::JMP | o | op::X, dst, src, 0, 0));
    }

    /// `goto l`.
    fn ja(&mut self, l: Label) {
        self.jmp_k(op::JA, 0, 0, l);
    }

    /// `if dst == imm goto l`, written as "if not, skip over a `goto l`":
    /// for branches leaving the program, see the module notes.
    fn exit_if_eq(&mut self, dst: u8, imm: i32, l: Label) {
        self.emit(Insn::new(op::JMP | op::JNE | op::K, dst, 0, 1, imm));
        self.ja(l);
    }

    /// `if dst >= imm goto l` (unsigned), written as `exit_if_eq`.
    fn exit_if_ge(&mut self, dst: u8, imm: i32, l: Label) {
        self.emit(Insn::new(op::JMP | op::JLT | op::K, dst, 0, 1, imm));
        self.ja(l);
    }

    /// `if dst != imm goto l`, written as `exit_if_eq`.
    fn exit_if_ne(&mut self, dst: u8, imm: i32, l: Label) {
        self.emit(Insn::new(op::JMP | op::JEQ | op::K, dst, 0, 1, imm));
        self.ja(l);
    }

    fn call(&mut self, helper: i32) {
        self.emit(Insn::new(op::JMP | op::CALL, 0, 0, 0, helper));
    }

    fn exit(&mut self) {
        self.emit(Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0));
    }

    /// The instructions, with every jump pointing at its label.
    fn finish(mut self) -> io::Result<Vec<Insn>> {
        for &(at, l) in &self.fixups {
            let target = self.labels[l.0]
                .ok_or_else(|| invalid(format!("eBPF assembler: label {} not bound", l.0)))?;
            let off = target as i64 - at as i64 - 1;
            self.insns[at].off = i16::try_from(off)
                .map_err(|_| invalid(format!("eBPF assembler: jump too far ({off})")))?;
        }
        Ok(self.insns)
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

// ---------------------------------------------------------------------
// The program.
// ---------------------------------------------------------------------

/// The steering program for a group of `shards` sockets.
///
/// Registers: R6 the `__sk_buff`, R7 the current offset in the message
/// (`pos`), R8 the FNV hash, R9 the end of the chunk in the buffer
/// (`pos < R9` means byte `pos` is loaded). R0–R5 are scratch (a helper
/// call clobbers them); after a fetch R0 holds the byte at `pos` and R2
/// points so that `R2 + BUF + CHUNK + k` is the byte at `pos + k`.
pub fn program(shards: u32) -> io::Result<Vec<Insn>> {
    program_with_depth(shards, SCAN_DEPTH)
}

/// [`program`] scanning the first `depth` bytes (1 to 65535) instead of
/// [`SCAN_DEPTH`].
pub fn program_with_depth(shards: u32, depth: u32) -> io::Result<Vec<Insn>> {
    let depth = i32::try_from(depth)
        .ok()
        .filter(|d| (1..=65535).contains(d))
        .ok_or_else(|| invalid(format!("call-id steering: bad scan depth {depth}")))?;
    let n = i32::try_from(shards)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| invalid(format!("call-id steering: bad shard count {shards}")))?;
    let mut a = Asm::default();
    let fallback = a.label();
    let found = a.label();
    let scan_head = a.label();
    let scan_byte = a.label();
    let scan_next = a.label();
    let compact = a.label();
    let colon_head = a.label();
    let colon_next = a.label();
    let lws_head = a.label();
    let lws_next = a.label();
    let value_head = a.label();
    let value_byte = a.label();

    // Prologue.
    a.alu_x(op::MOV, R6, R1);
    a.alu_k(op::MOV, R7, 0);
    a.alu_k(op::MOV, R9, 0);
    a.ld_imm64(R8, FNV_OFFSET);

    // State 1, line scan: look for a line feed followed by a header name.
    a.bind(scan_head);
    fetch(&mut a, depth, fallback);
    a.bind(scan_byte);
    a.jmp_k(op::JNE, R0, i32::from(b'\n'), scan_next);
    let at = |k: i16| BUF + CHUNK as i16 + k;
    a.ldx(op::B, R1, R2, at(1));
    // An empty line: the headers are over.
    a.exit_if_eq(R1, i32::from(b'\r'), fallback);
    a.exit_if_eq(R1, i32::from(b'\n'), fallback);
    a.alu_k(op::OR, R1, 0x20);
    a.jmp_k(op::JEQ, R1, i32::from(b'i'), compact);
    a.jmp_k(op::JNE, R1, i32::from(b'c'), scan_next);
    for (k, &want) in b"call-id".iter().enumerate().skip(1) {
        a.ldx(op::B, R1, R2, at(k as i16 + 1));
        // '-' | 0x20 is '-' but so is '\r' | 0x20: compare it as is.
        if want.is_ascii_alphabetic() {
            a.alu_k(op::OR, R1, 0x20);
        }
        a.jmp_k(op::JNE, R1, i32::from(want), scan_next);
    }
    a.alu_k(op::ADD, R7, 8); // past "\ncall-id"
    a.ja(colon_head);
    a.bind(compact);
    a.alu_k(op::ADD, R7, 2); // past "\ni"
    a.ja(colon_head);
    a.bind(scan_next);
    a.alu_k(op::ADD, R7, 1);
    a.ja(scan_head);

    // State 2, after the name: spaces and tabs, then ':'. Anything else
    // means another header ("Call-Info", "In-Reply-To"): back to state 1
    // with the same byte (it may be a line feed).
    a.bind(colon_head);
    fetch(&mut a, depth, fallback);
    a.jmp_k(op::JEQ, R0, i32::from(b':'), lws_next);
    a.jmp_k(op::JEQ, R0, i32::from(b' '), colon_next);
    a.jmp_k(op::JEQ, R0, i32::from(b'\t'), colon_next);
    a.ja(scan_byte);
    a.bind(colon_next);
    a.alu_k(op::ADD, R7, 1);
    a.ja(colon_head);

    // State 3, after the colon: skip spaces and tabs; an empty value
    // gives up.
    a.bind(lws_next);
    a.alu_k(op::ADD, R7, 1);
    a.bind(lws_head);
    fetch(&mut a, depth, fallback);
    a.jmp_k(op::JEQ, R0, i32::from(b' '), lws_next);
    a.jmp_k(op::JEQ, R0, i32::from(b'\t'), lws_next);
    a.exit_if_eq(R0, i32::from(b'\r'), fallback);
    a.exit_if_eq(R0, i32::from(b'\n'), fallback);

    // State 4, the value: hash up to white space or the end of the line.
    a.bind(value_byte);
    a.alu_x(op::XOR, R8, R0);
    a.ld_imm64(R1, FNV_PRIME);
    a.alu_x(op::MUL, R8, R1);
    a.alu_k(op::ADD, R7, 1);
    a.bind(value_head);
    fetch(&mut a, depth, fallback);
    for end in [b' ', b'\t', b'\r', b'\n'] {
        a.exit_if_eq(R0, i32::from(end), found);
    }
    a.ja(value_byte);

    // Found: fold as shard::owner::call_id_hash does, then modulo.
    a.bind(found);
    a.alu_x(op::MOV, R0, R8);
    a.alu_k(op::RSH, R0, 32);
    a.alu_x(op::XOR, R0, R8);
    a.alu_k(op::MOD, R0, n);
    a.exit();

    a.bind(fallback);
    a.mov32_k(R0, FALLBACK);
    a.exit();

    a.finish()
}

/// Loads the byte at offset R7 into R0 (and R2, see [`program`]), reading
/// the chunk holding it first if needed; jumps to `fallback` when R7 is
/// past the end of the scan or the read fails.
fn fetch(a: &mut Asm, depth: i32, fallback: Label) {
    let in_scan = a.label();
    let have = a.label();
    let sized = a.label();
    let nonzero = a.label();
    // pos < depth: known to the verifier, this ends its walk of the loop.
    a.exit_if_ge(R7, depth, fallback);
    // pos < skb->len: loaded afresh each time, so that the verifier keeps
    // no range of it from one byte to the next (fewer distinct states).
    a.ldx(op::W, R1, R6, 0);
    a.jmp_x(op::JLT, R7, R1, in_scan);
    a.ja(fallback);
    a.bind(in_scan);
    a.jmp_x(op::JLT, R7, R9, have);
    // Read the chunk holding pos: from base = pos & !(CHUNK - 1), CAP
    // bytes or up to the end of the datagram.
    a.alu_x(op::MOV, R2, R7);
    a.alu_k(op::AND, R2, -CHUNK);
    a.alu_x(op::MOV, R9, R2);
    a.alu_k(op::ADD, R9, CHUNK);
    a.ldx(op::W, R4, R6, 0); // __sk_buff.len
    a.alu_x(op::SUB, R4, R2);
    a.jmp_k(op::JLE, R4, CAP, sized);
    a.alu_k(op::MOV, R4, CAP);
    a.bind(sized);
    // Never true (pos < skb->len), but the verifier wants a size >= 1.
    a.jmp_k(op::JGE, R4, 1, nonzero);
    a.ja(fallback);
    a.bind(nonzero);
    a.alu_x(op::MOV, R1, R6);
    a.alu_x(op::MOV, R3, R10);
    a.alu_k(op::ADD, R3, i32::from(BUF));
    a.call(HELPER_SKB_LOAD_BYTES);
    a.exit_if_ne(R0, 0, fallback);
    a.bind(have);
    // R2 = R10 + (pos - chunk end): byte pos is at R2 + BUF + CHUNK.
    a.alu_x(op::MOV, R1, R7);
    a.alu_x(op::SUB, R1, R9);
    a.alu_x(op::MOV, R2, R10);
    a.alu_x(op::ADD, R2, R1);
    a.ldx(op::B, R0, R2, BUF + CHUNK as i16);
}

// ---------------------------------------------------------------------
// Loading and attaching.
// ---------------------------------------------------------------------

/// The `BPF_PROG_LOAD` part of `union bpf_attr` (the kernel zero-fills the
/// rest of the union).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// Loads `insns` as a socket filter. With `log_level` > 0 the verifier
/// log comes back too (level 4: statistics only).
fn load(insns: &[Insn], log_level: u32) -> io::Result<(OwnedFd, String)> {
    let license = c"GPL";
    let mut log = vec![0u8; if log_level > 0 { LOG_SIZE } else { 0 }];
    let mut name = [0u8; 16];
    name[..10].copy_from_slice(b"ser_callid");
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insn_cnt: u32::try_from(insns.len())
            .map_err(|_| invalid("eBPF program too long".into()))?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level,
        log_size: log.len() as u32,
        log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        prog_name: name,
        ..ProgLoadAttr::default()
    };
    // SAFETY: `attr` is a valid, fully initialised prefix of `union
    // bpf_attr` for BPF_PROG_LOAD and its size is passed; the pointers in
    // it (instructions, license, log buffer of `log_size` bytes) stay
    // alive and unaliased for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>(),
        )
    };
    let err = io::Error::last_os_error();
    let text = {
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        String::from_utf8_lossy(&log[..end]).into_owned()
    };
    if ret < 0 {
        return Err(io::Error::new(err.kind(), format!("{err}\n{text}")));
    }
    let fd = libc::c_int::try_from(ret).map_err(|_| invalid("bpf returned a bad fd".into()))?;
    // SAFETY: BPF_PROG_LOAD succeeded and returned a new file descriptor
    // that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok((fd, text))
}

/// Scan depths tried in turn when the verifier finds the program too
/// complex (E2BIG): it walks the scan loop byte by byte, and a future
/// kernel may count differently; a shallower scan still steers most
/// messages.
const DEPTHS: [u32; 3] = [SCAN_DEPTH, 1024, 512];

/// The steering program, loaded in the kernel for a number of shards;
/// attach it to as many groups (listen addresses) as needed.
#[derive(Debug)]
pub struct CallIdSteering {
    prog: OwnedFd,
    depth: u32,
    insns: usize,
}

impl CallIdSteering {
    /// Loads the program for groups of `shards` sockets. Verifying it
    /// takes the kernel about a second (once); the error carries the end
    /// of the verifier's log when the kernel refuses it.
    pub fn load(shards: u32) -> io::Result<CallIdSteering> {
        let mut last = None;
        for depth in DEPTHS {
            let insns = program_with_depth(shards, depth)?;
            match load(&insns, 0) {
                Ok((prog, _)) => {
                    return Ok(CallIdSteering {
                        prog,
                        depth,
                        insns: insns.len(),
                    });
                }
                Err(e) if e.raw_os_error() == Some(libc::E2BIG) => last = Some((e, insns)),
                Err(e) => return Err(explain(e, &insns)),
            }
        }
        match last {
            Some((e, insns)) => Err(explain(e, &insns)),
            None => Err(invalid("call-id steering: no scan depth".into())),
        }
    }

    /// How many bytes of a message the loaded program scans.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// The program's size in instructions.
    pub fn instructions(&self) -> usize {
        self.insns
    }

    /// Attaches the program to the SO_REUSEPORT group of `sock` (any
    /// socket of the group, once every shard's socket is bound: socket
    /// `i` in bind order is shard `i`). It replaces any program the group
    /// had. The group holds its own reference to the program.
    pub fn attach(&self, sock: &UdpSocket) -> io::Result<()> {
        let fd: libc::c_int = self.prog.as_raw_fd();
        // SAFETY: plain setsockopt on a socket we borrow, with a pointer to
        // a c_int that lives across the call and its exact size.
        let ret = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_ATTACH_REUSEPORT_EBPF,
                &fd as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if ret != 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("attaching the call-id steering program: {e}"),
            ));
        }
        Ok(())
    }
}

/// `e` (a refused load of `insns`) with the end of the verifier's log,
/// got by loading again with the log on (not the first time: a long log
/// can make the load fail by itself).
fn explain(e: io::Error, insns: &[Insn]) -> io::Error {
    let log = match load(insns, 1) {
        Ok(_) => String::from("(loaded with the log on)"),
        Err(again) => again.to_string(),
    };
    let mut start = log.len().saturating_sub(4096);
    while !log.is_char_boundary(start) {
        start += 1;
    }
    io::Error::new(
        e.kind(),
        format!(
            "loading the call-id steering program: {}; verifier log: {}",
            e.to_string().lines().next().unwrap_or(""),
            log[start..].trim()
        ),
    )
}

/// Steers every datagram received by the SO_REUSEPORT group of `sock` to
/// the socket of index `owner(Call-ID, shards)` in the group (bind order),
/// in the kernel; datagrams whose Call-ID is not found go where the
/// kernel's hash sends them.
///
/// Call it once per listen address, after every shard's socket is bound
/// (through any socket of the group). The group keeps the program; the
/// program's own descriptor is closed before returning. On error (no BPF
/// privilege, old kernel, socket not bound with SO_REUSEPORT) nothing is
/// attached and the caller can run without steering. With several listen
/// addresses, [`CallIdSteering`] loads the program once for all.
pub fn attach_call_id_steering(sock: &UdpSocket, shards: u32) -> io::Result<()> {
    CallIdSteering::load(shards)?.attach(sock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::owner::owner;
    use socket2::{Domain, Socket, Type};
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, mpsc};
    use std::time::Duration;

    #[test]
    fn program_is_accepted() {
        for n in [1, 2, 3, 64] {
            let insns = program(n).unwrap();
            let (_fd, log) = load(&insns, 4).unwrap_or_else(|e| {
                panic!("the kernel refused the program (root or CAP_BPF needed): {e}")
            });
            if n == 3 {
                eprintln!("{} instructions; verifier: {}", insns.len(), log.trim());
            }
        }
        // The shallower fallbacks load too.
        for depth in &DEPTHS[1..] {
            load(&program_with_depth(3, *depth).unwrap(), 0).unwrap();
        }
        let s = CallIdSteering::load(4).unwrap();
        assert_eq!(s.depth(), SCAN_DEPTH);
        assert_eq!(s.instructions(), program(4).unwrap().len());
        assert!(program(0).is_err());
        assert!(program_with_depth(2, 0).is_err());
        assert!(program_with_depth(2, 70_000).is_err());
    }

    #[test]
    fn attach_needs_reuseport() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(attach_call_id_steering(&s, 2).is_err());
    }

    /// The assembler's jumps land on their labels.
    #[test]
    fn jumps_resolve() {
        let mut a = Asm::default();
        let (fwd, back) = (a.label(), a.label());
        a.bind(back);
        a.jmp_k(op::JEQ, R1, 7, fwd);
        a.ja(back);
        a.exit_if_eq(R1, 3, fwd);
        a.bind(fwd);
        a.exit();
        let p = a.finish().unwrap();
        assert_eq!(p[0].off, 3);
        assert_eq!(p[1].off, -2);
        assert_eq!((p[2].code, p[2].off, p[3].off), (0x55, 1, 0));
        assert_eq!((p[0].dst(), p[0].src(), p[0].imm), (R1, 0, 7));
        let mut a = Asm::default();
        let l = a.label();
        a.ja(l);
        assert!(a.finish().is_err());
    }

    /// n sockets bound to one port of 127.0.0.1, in order.
    fn group(n: usize) -> (Vec<UdpSocket>, SocketAddr) {
        let mut socks = Vec::new();
        let mut addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        for _ in 0..n {
            let s = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
            s.set_reuse_port(true).unwrap();
            s.bind(&addr.into()).unwrap();
            let s: UdpSocket = s.into();
            addr = s.local_addr().unwrap();
            socks.push(s);
        }
        (socks, addr)
    }

    /// Where a message must arrive.
    enum Expect {
        /// On socket `owner(call_id, n)`.
        Owner(String),
        /// Where the kernel's 4-tuple hash sends it: sent from every
        /// client, it must reach more than one socket.
        Fallback,
    }

    struct Case {
        data: Vec<u8>,
        expect: Expect,
    }

    fn head(request: bool, k: usize) -> String {
        if request {
            format!(
                "INVITE sip:bob@example.com SIP/2.0\r\n\
                 Via: SIP/2.0/UDP 192.0.2.{}:5060;branch=z9hG4bK{k}\r\n\
                 Max-Forwards: 70\r\n",
                k % 250
            )
        } else {
            format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK{k}\r\n\
                 To: <sip:bob@example.com>;tag={k}\r\n"
            )
        }
    }

    fn tail(k: usize) -> String {
        format!(
            "From: <sip:alice@example.com>;tag=a{k}\r\nCSeq: {k} INVITE\r\n\
             Contact: <sip:alice@192.0.2.1>\r\nContent-Length: 0\r\n\r\n"
        )
    }

    /// A header line of exactly `len` bytes (CRLF included, len >= 9).
    fn pad(len: usize) -> String {
        format!("X-Pad: {}\r\n", "p".repeat(len - 9))
    }

    const START: &str = "OPTIONS sip:a@example.com SIP/2.0\r\n";

    fn cases() -> Vec<Case> {
        let mut out = Vec::new();
        let mut owner_case = |data: String, cid: &str| {
            // Self-check: the value must end within the scan depth.
            let at = data.find(cid).unwrap() + cid.len();
            assert!(at < SCAN_DEPTH as usize, "test case too long: {at}");
            out.push(Case {
                data: data.into_bytes(),
                expect: Expect::Owner(cid.to_owned()),
            });
        };
        let forms = [
            "Call-ID: {}\r\n",
            "call-id :{}\r\n",
            "CALL-ID:\t{}\r\n",
            "i: {}\r\n",
            "I:{}\r\n",
            "Call-Id \t: \t{}  \r\n",
            "i\t:{}\t\r\n",
            "cAlL-iD:{}\n",
        ];
        for i in 0..240 {
            let cid = match i % 4 {
                0 => format!("{i}-a84b4c76e66710@pc33.atlanta.example.com"),
                1 => format!("{:x}{}", i * 7919, "z".repeat(i % 60)),
                2 => format!("c{i}"),
                _ => format!("{i}@192.0.2.{}", i % 250),
            };
            let line = forms[i % forms.len()].replace("{}", &cid);
            // Before the Call-ID: nothing, up to 300 bytes, or 900 to
            // 1600 bytes, so that it starts at many offsets modulo the
            // chunk size, and beyond 1000 bytes.
            let pad_len = match i % 3 {
                0 => 0,
                1 => 9 + (i * 37) % 300,
                _ => 900 + (i * 53) % 700,
            };
            let mut m = head(i % 5 != 0, i);
            if pad_len > 0 {
                m += &pad(pad_len);
            }
            // Decoys: other headers starting like Call-ID or like 'i'.
            if i % 7 == 0 {
                m += "Call-Info: <http://www.example.com/alice/photo.jpg>\r\n";
                m += "In-Reply-To: 70710@saturn.bell-tel.com\r\n";
                m += "X-Call-ID: decoy\r\ni-x: decoy\r\nCall-IDs: decoy\r\n";
            }
            m += &line;
            m += &tail(i);
            owner_case(m, &cid);
        }
        // The header's line feed at every offset around the first two
        // chunk boundaries (256 and 512).
        for t in (248..=266).chain(504..=522) {
            let cid = format!("edge-{t}");
            let form = if t % 2 == 0 { "Call-ID: " } else { "i:" };
            let m = format!("{START}{}{form}{cid}\r\n\r\n", pad(t + 1 - START.len()));
            assert_eq!(m.as_bytes()[t], b'\n');
            owner_case(m, &cid);
        }
        // The value ends on the last byte scanned.
        let last = SCAN_DEPTH as usize - 1;
        let m = format!("{START}{}Call-ID: last\r\n", pad(last - 13 - START.len()));
        assert_eq!(m.as_bytes()[last], b'\r');
        owner_case(m.clone(), "last");
        // Short messages.
        owner_case("OPTIONS sip:a SIP/2.0\r\ni:x\r\n\r\n".into(), "x");
        owner_case(
            "BYE sip:a SIP/2.0\ncall-id: short-lf\n\n".into(),
            "short-lf",
        );
        owner_case("ACK sip:a SIP/2.0\r\nCall-ID: eod\r\n".into(), "eod");
        owner_case("ACK sip:a SIP/2.0\r\nCall-ID: eod2 ".into(), "eod2");

        let mut fallback = |data: String| {
            out.push(Case {
                data: data.into_bytes(),
                expect: Expect::Fallback,
            })
        };
        // The value ends one byte too far.
        fallback(format!(
            "{START}{}Call-ID: last\r\n",
            pad(last + 1 - 13 - START.len())
        ));
        fallback(format!("{START}{}Call-ID: far-away\r\n\r\n", pad(2100)));
        // In the body only.
        fallback(format!(
            "{START}Content-Length: 16\r\n\r\nCall-ID: body\r\n\r\n"
        ));
        fallback(format!(
            "{START}Content-Length: 16\n\nCall-ID: body\r\n\r\n"
        ));
        // None, or unusable.
        fallback(format!("{START}CSeq: 1 OPTIONS\r\n\r\n"));
        fallback("Call-ID: no-start-line\r\n\r\n".into());
        fallback(format!("{START}Call-ID:\r\n\r\n"));
        fallback(format!("{START}Call-ID:   \r\n\r\n"));
        fallback(format!("{START}Call-ID: no-line-end"));
        fallback(format!("{START}Call-ID"));
        fallback("\r\n\r\n".into());
        fallback("x".into());
        fallback(String::new());
        out
    }

    fn steer(n: usize) {
        let (socks, addr) = group(n);
        attach_call_id_steering(&socks[0], n as u32).unwrap_or_else(|e| {
            panic!("attaching needs root/CAP_BPF; this test must not be skipped: {e}")
        });

        // One receiving thread per socket, reporting (socket index, data).
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<(usize, Vec<u8>)>();
        let mut threads = Vec::new();
        for (i, s) in socks.into_iter().enumerate() {
            let (tx, stop) = (tx.clone(), stop.clone());
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            threads.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(len) = s.recv(&mut buf) {
                        let _ = tx.send((i, buf[..len].to_vec()));
                    }
                }
            }));
        }

        let clients: Vec<UdpSocket> = (0..30)
            .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let mut per_socket = vec![0usize; n];
        let mut sent = 0;
        for (c, case) in cases().iter().enumerate() {
            // Each owner case from 5 clients, the fallback ones from all.
            let step = match case.expect {
                Expect::Owner(_) => 6,
                Expect::Fallback => 1,
            };
            let mut landed = vec![0usize; n];
            for client in clients.iter().cycle().skip(c % 30).take(30).step_by(step) {
                client.send_to(&case.data, addr).unwrap();
                sent += 1;
                let (got, data) = rx
                    .recv_timeout(Duration::from_secs(2))
                    .expect("datagram not received");
                assert_eq!(data, case.data);
                landed[got] += 1;
                per_socket[got] += 1;
            }
            let text = String::from_utf8_lossy(&case.data);
            match &case.expect {
                Expect::Owner(cid) => {
                    let want = owner(cid.as_bytes(), n);
                    assert_eq!(
                        landed[want], 5,
                        "n={n} call-id {cid:?}, want socket {want}, got {landed:?}: {text:?}"
                    );
                }
                Expect::Fallback => {
                    assert!(
                        landed.iter().filter(|&&l| l > 0).count() > 1,
                        "n={n}: not spread by the kernel ({landed:?}): {text:?}"
                    );
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        assert!(rx.try_recv().is_err(), "unexpected datagram");
        assert_eq!(per_socket.iter().sum::<usize>(), sent);
        // Every socket got its share.
        assert!(
            per_socket.iter().all(|&s| s * n * 2 > sent),
            "{per_socket:?}"
        );
    }

    #[test]
    fn steers_two_shards() {
        steer(2);
    }

    #[test]
    fn steers_three_shards() {
        steer(3);
    }
}
