//! The link service (NFD's `GenericLinkService`): turns link frames into
//! network-layer packets and back. Receiving: NDNLPv2 decoding, fragment
//! reassembly, Nack / PitToken / CachePolicy / CongestionMark /
//! NextHopFaceId headers. Sending: bare packets when no header is needed,
//! an LpPacket otherwise, fragmented to the MTU on links that have one
//! (never on streams to local apps: python-ndn drops fragments).
//!
//! Synchronous and free of I/O; the transports call it.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use picasso_tlv::lp::{self, CachePolicyType, Nack, NackReason, Reassembler, ReassemblerConfig};
use picasso_tlv::{types, Data, DecodeError, Interest, LpPacket};

use crate::fw::OutPacket;

/// A network-layer packet received on a face, with its link headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The packet.
    pub packet: NetPacket,
    /// PitToken to echo.
    pub pit_token: Option<Bytes>,
    /// CachePolicy NoCache was set.
    pub no_cache: bool,
    /// CongestionMark, if any.
    pub congestion_mark: Option<u64>,
    /// NextHopFaceId requested by a local app.
    pub next_hop_face_id: Option<u64>,
    /// Size of the frame(s) on the wire.
    pub wire_len: usize,
}

/// A decoded network-layer packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetPacket {
    /// Interest.
    Interest(Interest),
    /// Data.
    Data(Data),
    /// Nack with its Interest.
    Nack {
        /// The Nacked Interest.
        interest: Interest,
        /// NackReason code (0 when absent).
        reason: u64,
    },
}

/// Why a frame was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The frame or its fragment is malformed.
    #[error("malformed packet: {0}")]
    Malformed(#[from] DecodeError),
    /// Reassembly refused a fragment.
    #[error("reassembly: {0}")]
    Reassembly(#[from] lp::ReassemblyError),
    /// Fragmentation failed (MTU too small).
    #[error("fragmentation: {0}")]
    Fragment(#[from] lp::FragmentError),
    /// A Data without wire encoding cannot be sent.
    #[error("data packet has no wire encoding")]
    Unencoded,
}

/// Per-face link state.
#[derive(Debug)]
pub struct LinkService {
    mtu: Option<usize>,
    reassembler: Reassembler,
    next_sequence: u64,
}

impl LinkService {
    /// A link service for a link of the given MTU (`None`: no fragmentation).
    pub fn new(mtu: Option<usize>) -> Self {
        Self {
            mtu,
            reassembler: Reassembler::new(ReassemblerConfig::default()),
            next_sequence: rand::random::<u32>() as u64,
        }
    }

    /// Decodes one received frame; `Ok(None)` while a fragmented packet is incomplete.
    pub fn receive(&mut self, frame: Bytes, now: Instant) -> Result<Option<Received>, LinkError> {
        let wire_len = frame.len();
        let first = frame.first().copied().unwrap_or(0);
        // Fast path: a bare Interest or Data.
        if u64::from(first) == types::INTEREST {
            return Ok(Some(Received::bare(
                NetPacket::Interest(Interest::decode(frame)?),
                wire_len,
            )));
        }
        if u64::from(first) == types::DATA {
            return Ok(Some(Received::bare(
                NetPacket::Data(Data::decode(frame)?),
                wire_len,
            )));
        }
        let lp = LpPacket::decode(frame)?;
        let lp = if lp.is_fragmented() {
            match self.reassembler.receive(0, lp, now)? {
                Some(whole) => whole,
                None => return Ok(None),
            }
        } else {
            lp
        };
        let Some(fragment) = lp.fragment.clone() else {
            // An LpPacket with no fragment (an idle Ack): nothing to forward.
            return Ok(None);
        };
        let packet = match (lp.nack, u64::from(fragment.first().copied().unwrap_or(0))) {
            (Some(n), types::INTEREST) => NetPacket::Nack {
                interest: Interest::decode(fragment)?,
                reason: n.reason.map_or(0, |r| r.code()),
            },
            (None, types::INTEREST) => NetPacket::Interest(Interest::decode(fragment)?),
            (None, types::DATA) => NetPacket::Data(Data::decode(fragment)?),
            (_, t) => {
                return Err(LinkError::Malformed(DecodeError::UnexpectedType {
                    expected: types::INTEREST,
                    found: t,
                }))
            }
        };
        Ok(Some(Received {
            packet,
            pit_token: lp.pit_token,
            no_cache: lp.cache_policy == Some(CachePolicyType::NoCache),
            congestion_mark: lp.congestion_mark,
            next_hop_face_id: lp.next_hop_face_id,
            wire_len,
        }))
    }

    /// Encodes a packet for this link: one frame, or several fragments.
    pub fn send(
        &mut self,
        packet: &OutPacket,
        pit_token: Option<Bytes>,
    ) -> Result<Vec<Bytes>, LinkError> {
        let (net, nack) = match packet {
            OutPacket::Interest(i) => (i.to_wire(), None),
            OutPacket::Data(d) => (d.wire().cloned().ok_or(LinkError::Unencoded)?, None),
            OutPacket::Nack { interest, reason } => (interest.to_wire(), Some(*reason)),
        };
        if pit_token.is_none() && nack.is_none() && self.mtu.is_none_or(|m| net.len() <= m) {
            return Ok(vec![net]);
        }
        let mut lp = LpPacket::wrap(net);
        lp.pit_token = pit_token;
        lp.nack = nack.map(|r| Nack {
            reason: (r != 0).then(|| NackReason::from_code(r)),
        });
        match self.mtu {
            Some(mtu) if lp.wire_len() > mtu => {
                let frames = lp::fragment(&lp, mtu, self.next_sequence)?;
                self.next_sequence = self.next_sequence.wrapping_add(frames.len() as u64);
                Ok(frames)
            }
            _ => Ok(vec![lp.encode()]),
        }
    }

    /// [`LinkService::send`], appending the frame(s) to `buf` (a stream's
    /// write buffer): a bare packet is copied straight from its wire, with
    /// no frame list allocated.
    pub fn send_into(
        &mut self,
        packet: &OutPacket,
        pit_token: Option<Bytes>,
        buf: &mut BytesMut,
    ) -> Result<(), LinkError> {
        if pit_token.is_none() && self.mtu.is_none() {
            match packet {
                OutPacket::Interest(i) => {
                    buf.extend_from_slice(&i.to_wire());
                    return Ok(());
                }
                OutPacket::Data(d) => {
                    buf.extend_from_slice(d.wire().ok_or(LinkError::Unencoded)?);
                    return Ok(());
                }
                OutPacket::Nack { .. } => {}
            }
        }
        for f in self.send(packet, pit_token)? {
            buf.extend_from_slice(&f);
        }
        Ok(())
    }

    /// Drops partial packets older than the reassembly timeout.
    pub fn expire(&mut self, now: Instant) {
        self.reassembler.expire(now);
    }
}

impl Received {
    fn bare(packet: NetPacket, wire_len: usize) -> Self {
        Self {
            packet,
            pit_token: None,
            no_cache: false,
            congestion_mark: None,
            next_hop_face_id: None,
            wire_len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use picasso_tlv::{Name, Signer};

    fn interest() -> Interest {
        Interest::new(Name::from_uri("/a/b").unwrap()).with_nonce(1)
    }

    #[test]
    fn bare_packets_pass_through() {
        let mut ls = LinkService::new(None);
        let frames = ls.send(&OutPacket::Interest(interest()), None).unwrap();
        assert_eq!(frames, vec![interest().to_wire()]);
        let r = ls
            .receive(frames[0].clone(), Instant::now())
            .unwrap()
            .unwrap();
        assert_eq!(r.packet, NetPacket::Interest(interest()));
    }

    #[test]
    fn nack_and_pit_token_round_trip() {
        let mut ls = LinkService::new(None);
        let out = OutPacket::Nack {
            interest: interest(),
            reason: 150,
        };
        let frames = ls.send(&out, Some(Bytes::from_static(b"tk"))).unwrap();
        let r = ls
            .receive(frames[0].clone(), Instant::now())
            .unwrap()
            .unwrap();
        assert_eq!(r.pit_token.as_deref(), Some(&b"tk"[..]));
        assert_eq!(
            r.packet,
            NetPacket::Nack {
                interest: interest(),
                reason: 150
            }
        );
    }

    #[test]
    fn large_data_is_fragmented_and_reassembled() {
        let mut d = Data::new(Name::from_uri("/big").unwrap()).with_content(vec![5u8; 8000]);
        d.sign(&Signer::DigestSha256);
        let mut tx = LinkService::new(Some(1400));
        let mut rx = LinkService::new(Some(1400));
        let frames = tx.send(&OutPacket::Data(d.clone()), None).unwrap();
        assert!(frames.len() >= 6);
        assert!(frames.iter().all(|f| f.len() <= 1400));
        let now = Instant::now();
        let mut got = None;
        for f in frames {
            if let Some(r) = rx.receive(f, now).unwrap() {
                got = Some(r);
            }
        }
        match got.unwrap().packet {
            NetPacket::Data(x) => assert_eq!(x.content(), d.content()),
            p => panic!("unexpected {p:?}"),
        }
    }

    #[test]
    fn send_into_writes_what_send_returns() {
        let mut d = Data::new(Name::from_uri("/d").unwrap()).with_content(vec![1u8; 50]);
        d.sign(&Signer::DigestSha256);
        let packets = [
            (OutPacket::Interest(interest()), None),
            (OutPacket::Data(d.clone()), None),
            (OutPacket::Data(d), Some(Bytes::from_static(b"tok"))),
            (
                OutPacket::Nack {
                    interest: interest(),
                    reason: 100,
                },
                None,
            ),
        ];
        for (p, token) in packets {
            let mut ls = LinkService::new(None);
            let want: Vec<u8> = ls.send(&p, token.clone()).unwrap().concat();
            let mut buf = BytesMut::from(&b"x"[..]);
            ls.send_into(&p, token, &mut buf).unwrap();
            assert_eq!(&buf[1..], &want[..], "{p:?}");
        }
        let mut ls = LinkService::new(None);
        let unsigned = OutPacket::Data(Data::new(Name::from_uri("/u").unwrap()));
        let mut buf = BytesMut::new();
        assert_eq!(
            ls.send_into(&unsigned, None, &mut buf),
            Err(LinkError::Unencoded)
        );
    }

    #[test]
    fn malformed_is_an_error_not_a_panic() {
        let mut ls = LinkService::new(None);
        for junk in [
            &b"\x05\x01"[..],
            b"\x64\x03\x50\x05\x01",
            b"\xff",
            b"",
            b"\x06\x00",
        ] {
            assert!(ls
                .receive(Bytes::copy_from_slice(junk), Instant::now())
                .is_err());
        }
    }
}
