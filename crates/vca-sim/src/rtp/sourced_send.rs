//! [`SourcedBatch`]: outbound datagrams for one `sendmmsg(2)` on a socket bound to the
//! wildcard address, each with its own source address (an `IP_PKTINFO` control message
//! per message), so one socket sends as many simulated Asterisk channels, each from the
//! loopback address it announced. nix's `sendmmsg` shares one set of control messages
//! among all messages, hence this file's few lines of `libc`.

#![allow(unsafe_code)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::libc;

use crate::rtp::peer_core::PACKET_MAX;

/// Datagrams per system call.
pub(crate) const BATCH: usize = 64;

// SAFETY: CMSG_SPACE only computes an aligned size from its argument.
const CMSG_BYTES: usize =
    unsafe { libc::CMSG_SPACE(std::mem::size_of::<libc::in_pktinfo>() as u32) } as usize;

/// Room for one `IP_PKTINFO` control message, aligned as `cmsghdr` must be.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct CmsgBuf([u8; CMSG_BYTES]);

/// What one datagram was: whose it is (the caller's key) and whether the kernel took it.
pub(crate) type SentFn<'a> = dyn FnMut(u32, bool) + 'a;

/// Datagrams waiting for one `sendmmsg`.
pub(crate) struct SourcedBatch {
    packets: Box<[[u8; PACKET_MAX]; BATCH]>,
    lens: [usize; BATCH],
    from: [Ipv4Addr; BATCH],
    to: [SocketAddrV4; BATCH],
    keys: [u32; BATCH],
    len: usize,
    names: Box<[libc::sockaddr_in; BATCH]>,
    iovs: Box<[libc::iovec; BATCH]>,
    cmsgs: Box<[CmsgBuf; BATCH]>,
    headers: Box<[libc::mmsghdr; BATCH]>,
}

impl SourcedBatch {
    pub(crate) fn new() -> Self {
        // SAFETY: all-zero is a valid value of these plain C structs (null pointers, zero
        // lengths); every field the kernel reads is filled in `send` before the call.
        let (names, iovs, headers) = unsafe {
            (
                Box::new(std::mem::zeroed::<[libc::sockaddr_in; BATCH]>()),
                Box::new(std::mem::zeroed::<[libc::iovec; BATCH]>()),
                Box::new(std::mem::zeroed::<[libc::mmsghdr; BATCH]>()),
            )
        };
        SourcedBatch {
            packets: Box::new([[0; PACKET_MAX]; BATCH]),
            lens: [0; BATCH],
            from: [Ipv4Addr::UNSPECIFIED; BATCH],
            to: [SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0); BATCH],
            keys: [0; BATCH],
            len: 0,
            names,
            iovs,
            cmsgs: Box::new([CmsgBuf([0; CMSG_BYTES]); BATCH]),
            headers,
        }
    }

    /// Whether another datagram fits.
    pub(crate) fn is_full(&self) -> bool {
        self.len == BATCH
    }

    /// Forgets what is queued (tests of what fills a batch).
    #[cfg(test)]
    pub(crate) fn clear_for_test(&mut self) {
        self.len = 0;
    }

    /// What is queued: source, destination, caller key and RTP sequence number.
    #[cfg(test)]
    pub(crate) fn queued_for_test(&self) -> Vec<(Ipv4Addr, SocketAddrV4, u32, u16)> {
        (0..self.len)
            .map(|i| {
                let p = &self.packets[i];
                (
                    self.from[i],
                    self.to[i],
                    self.keys[i],
                    u16::from_be_bytes([p[2], p[3]]),
                )
            })
            .collect()
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffer the next datagram is written into (`None` when full).
    pub(crate) fn next_buffer(&mut self) -> Option<&mut [u8; PACKET_MAX]> {
        self.packets.get_mut(self.len)
    }

    /// Queues the `len` bytes written into [`Self::next_buffer`], from `from` to `to`, on
    /// behalf of the caller `key`.
    pub(crate) fn commit(&mut self, len: usize, from: Ipv4Addr, to: SocketAddrV4, key: u32) {
        let i = self.len;
        if i >= BATCH {
            return;
        }
        self.lens[i] = len.min(PACKET_MAX);
        self.from[i] = from;
        self.to[i] = to;
        self.keys[i] = key;
        self.len += 1;
    }

    /// Sends everything queued on `socket`; tells `sent` of each datagram whether the
    /// kernel took it (a full send buffer loses the datagram, as on a wire).
    pub(crate) fn flush(&mut self, socket: BorrowedFd<'_>, sent: &mut SentFn<'_>) {
        let mut from = 0;
        while from < self.len {
            match self.send(socket, from) {
                Ok(0) | Err(_) => {
                    if let Some(&key) = self.keys.get(from) {
                        sent(key, false);
                    }
                    from += 1;
                }
                Ok(n) => {
                    for &key in self.keys.get(from..from + n).unwrap_or(&[]) {
                        sent(key, true);
                    }
                    from += n;
                }
            }
        }
        self.len = 0;
    }

    /// One `sendmmsg` of the datagrams `start..len`; how many the kernel took.
    fn send(&mut self, socket: BorrowedFd<'_>, start: usize) -> Result<usize, nix::Error> {
        let count = self.len - start;
        for k in 0..count {
            let i = start + k;
            self.names[k] = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: self.to[i].port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*self.to[i].ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            self.iovs[k] = libc::iovec {
                iov_base: self.packets[i].as_mut_ptr().cast(),
                iov_len: self.lens[i],
            };
            let header = &mut self.headers[k];
            header.msg_len = 0;
            let msg = &mut header.msg_hdr;
            msg.msg_name = std::ptr::from_mut(&mut self.names[k]).cast();
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            msg.msg_iov = std::ptr::from_mut(&mut self.iovs[k]);
            msg.msg_iovlen = 1;
            msg.msg_control = self.cmsgs[k].0.as_mut_ptr().cast();
            msg.msg_controllen = CMSG_BYTES as _;
            msg.msg_flags = 0;
            let info = libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: libc::in_addr {
                    s_addr: u32::from(self.from[i]).to_be(),
                },
                ipi_addr: libc::in_addr { s_addr: 0 },
            };
            // SAFETY: `msg` points at this batch's own control buffer of CMSG_BYTES, room
            // for exactly one cmsghdr with an in_pktinfo, so CMSG_FIRSTHDR is non-null and
            // CMSG_DATA lies inside the buffer; the write is unaligned-safe.
            unsafe {
                let cmsg = libc::CMSG_FIRSTHDR(msg);
                if cmsg.is_null() {
                    return Err(nix::Error::EINVAL);
                }
                (*cmsg).cmsg_level = libc::IPPROTO_IP;
                (*cmsg).cmsg_type = libc::IP_PKTINFO;
                (*cmsg).cmsg_len =
                    libc::CMSG_LEN(std::mem::size_of::<libc::in_pktinfo>() as u32) as _;
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::in_pktinfo>(), info);
            }
        }
        loop {
            // SAFETY: the first `count` headers point at this batch's names, iovecs and
            // control buffers, all alive and unmoved (boxed) for the duration of the call;
            // the iovecs point at initialised packet bytes of their stated lengths.
            let r = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    self.headers.as_mut_ptr(),
                    count as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            match nix::errno::Errno::result(r) {
                Ok(n) => return Ok(usize::try_from(n).unwrap_or(0)),
                Err(nix::Error::EINTR) => {}
                Err(e) => return Err(e),
            }
        }
    }
}
