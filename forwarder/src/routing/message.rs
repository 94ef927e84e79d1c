//! The routing protocol's two messages and their TLV encoding.
//!
//! Both travel inside ordinary NDN packets: a [`Hello`] in the
//! ApplicationParameters of a multicast discovery Interest and in the
//! content of every hello / update reply; an [`Update`] in the
//! ApplicationParameters of an update Interest. TLV-TYPE numbers are taken
//! from the application-specific range 128–252 of the NDN packet format
//! (§1.3) and are odd, i.e. critical: a decoder that meets one it does not
//! know rejects the message, and unknown even (non-critical) types are skipped.
//!
//! ```text
//! Hello  = HELLO-TYPE TLV-LENGTH
//!            NodeName            ; UTF-8, 1–64 octets
//!            Instance            ; NNI, random per router start
//!            [UdpAddress]        ; UTF-8 "ip:port" of the sender's unicast UDP channel
//!            [HeldInstance HeldVersion] ; which of the receiver's vectors the sender holds
//! Update = UPDATE-TYPE TLV-LENGTH
//!            NodeName Instance Version
//!            *Entry              ; at most MAX_ENTRIES
//! Entry  = ENTRY-TYPE TLV-LENGTH Name Cost Hops
//! ```
//!
//! Decoding never panics; every failure is a [`MessageError`], which the
//! router counts and drops.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use picasso_tlv::wire::{self, Reader};
use picasso_tlv::{types, DecodeError, Name};

/// TLV-TYPE of a Hello.
pub const HELLO: u64 = 201;
/// TLV-TYPE of an Update.
pub const UPDATE: u64 = 203;
/// TLV-TYPE of one vector entry.
pub const ENTRY: u64 = 205;
/// TLV-TYPE of the node name (UTF-8).
pub const NODE_NAME: u64 = 207;
/// TLV-TYPE of the router instance (NNI).
pub const INSTANCE: u64 = 209;
/// TLV-TYPE of the vector version (NNI).
pub const VERSION: u64 = 211;
/// TLV-TYPE of a path cost (NNI).
pub const COST: u64 = 213;
/// TLV-TYPE of a hop count (NNI).
pub const HOPS: u64 = 215;
/// TLV-TYPE of a unicast UDP address (UTF-8 `ip:port`).
pub const UDP_ADDRESS: u64 = 217;
/// TLV-TYPE of the instance of the vector the sender holds from the receiver.
pub const HELD_INSTANCE: u64 = 219;
/// TLV-TYPE of the version of the vector the sender holds from the receiver.
pub const HELD_VERSION: u64 = 221;

/// Longest node name, in octets.
pub const MAX_NODE_NAME: usize = 64;
/// Most entries in one Update (keeps it well under the 8800-octet packet limit).
pub const MAX_ENTRIES: usize = 256;

/// Why a routing message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The TLV structure is broken.
    #[error("malformed routing message: {0}")]
    Tlv(#[from] DecodeError),
    /// A field is missing.
    #[error("routing message lacks TLV type {0}")]
    Missing(u64),
    /// A field has an impossible value.
    #[error("routing message field {field} is invalid")]
    Invalid {
        /// Which field.
        field: &'static str,
    },
    /// An Update with more than [`MAX_ENTRIES`] entries.
    #[error("routing update has more than {MAX_ENTRIES} entries")]
    TooManyEntries,
}

/// Checks a node name: 1–64 octets of printable ASCII without `/`.
pub fn valid_node_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NODE_NAME
        && s.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
}

/// A neighbour's hello: who it is, where to reach it, and which of our
/// vectors it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    /// The sender's node name.
    pub node: String,
    /// The sender's router instance (changes when it restarts).
    pub instance: u64,
    /// The sender's unicast UDP address (discovery only).
    pub udp: Option<SocketAddr>,
    /// `(instance, version)` of the receiver's vector the sender holds.
    pub held: Option<(u64, u64)>,
}

/// One advertised route: a prefix with its path cost and hop count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The prefix.
    pub prefix: Name,
    /// Accumulated path cost from the sender.
    pub cost: u64,
    /// Hops from the sender to the node serving the prefix (0 = the sender).
    pub hops: u64,
}

/// A node's full distance vector for one neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The sender's node name.
    pub node: String,
    /// The sender's router instance.
    pub instance: u64,
    /// Version of this vector (per receiver, increasing).
    pub version: u64,
    /// The routes.
    pub entries: Vec<Entry>,
}

fn write_str(out: &mut BytesMut, typ: u64, s: &str) {
    wire::write_tlv(out, typ, s.as_bytes());
}

fn read_str(value: &Bytes, field: &'static str) -> Result<String, MessageError> {
    std::str::from_utf8(value)
        .map(str::to_string)
        .map_err(|_| MessageError::Invalid { field })
}

fn read_node(value: &Bytes) -> Result<String, MessageError> {
    let s = read_str(value, "NodeName")?;
    if !valid_node_name(&s) {
        return Err(MessageError::Invalid { field: "NodeName" });
    }
    Ok(s)
}

/// Reads the single outer element of `typ` and returns a reader over its value.
fn outer(buf: Bytes, typ: u64) -> Result<Reader, MessageError> {
    let e = wire::read_single(buf)?;
    if e.typ != typ {
        return Err(DecodeError::UnexpectedType {
            expected: typ,
            found: e.typ,
        }
        .into());
    }
    Ok(e.reader())
}

fn unknown(typ: u64) -> Result<(), MessageError> {
    if wire::is_critical(typ) {
        Err(DecodeError::UnknownCritical(typ).into())
    } else {
        Ok(())
    }
}

impl Hello {
    /// Encodes the Hello TLV.
    pub fn encode(&self) -> Bytes {
        let mut v = BytesMut::new();
        write_str(&mut v, NODE_NAME, &self.node);
        wire::write_nni_tlv(&mut v, INSTANCE, self.instance);
        if let Some(a) = self.udp {
            write_str(&mut v, UDP_ADDRESS, &a.to_string());
        }
        if let Some((i, ver)) = self.held {
            wire::write_nni_tlv(&mut v, HELD_INSTANCE, i);
            wire::write_nni_tlv(&mut v, HELD_VERSION, ver);
        }
        let mut out = BytesMut::with_capacity(v.len() + 4);
        wire::write_tlv(&mut out, HELLO, &v);
        out.freeze()
    }

    /// Decodes a Hello TLV.
    pub fn decode(buf: Bytes) -> Result<Self, MessageError> {
        let mut r = outer(buf, HELLO)?;
        let (mut node, mut instance, mut udp) = (None, None, None);
        let (mut held_i, mut held_v) = (None, None);
        while !r.is_empty() {
            let e = r.read()?;
            match e.typ {
                NODE_NAME => node = Some(read_node(&e.value)?),
                INSTANCE => instance = Some(e.nni()?),
                UDP_ADDRESS => {
                    let s = read_str(&e.value, "UdpAddress")?;
                    udp = Some(s.parse().map_err(|_| MessageError::Invalid {
                        field: "UdpAddress",
                    })?);
                }
                HELD_INSTANCE => held_i = Some(e.nni()?),
                HELD_VERSION => held_v = Some(e.nni()?),
                t => unknown(t)?,
            }
        }
        Ok(Self {
            node: node.ok_or(MessageError::Missing(NODE_NAME))?,
            instance: instance.ok_or(MessageError::Missing(INSTANCE))?,
            udp,
            held: held_i.zip(held_v),
        })
    }
}

impl Update {
    /// Encodes the Update TLV.
    pub fn encode(&self) -> Bytes {
        let mut v = BytesMut::new();
        write_str(&mut v, NODE_NAME, &self.node);
        wire::write_nni_tlv(&mut v, INSTANCE, self.instance);
        wire::write_nni_tlv(&mut v, VERSION, self.version);
        for e in &self.entries {
            let mut ev = BytesMut::new();
            e.prefix.encode_to(&mut ev);
            wire::write_nni_tlv(&mut ev, COST, e.cost);
            wire::write_nni_tlv(&mut ev, HOPS, e.hops);
            wire::write_tlv(&mut v, ENTRY, &ev);
        }
        let mut out = BytesMut::with_capacity(v.len() + 4);
        wire::write_tlv(&mut out, UPDATE, &v);
        out.freeze()
    }

    /// Decodes an Update TLV.
    pub fn decode(buf: Bytes) -> Result<Self, MessageError> {
        let mut r = outer(buf, UPDATE)?;
        let (mut node, mut instance, mut version) = (None, None, None);
        let mut entries = Vec::new();
        while !r.is_empty() {
            let e = r.read()?;
            match e.typ {
                NODE_NAME => node = Some(read_node(&e.value)?),
                INSTANCE => instance = Some(e.nni()?),
                VERSION => version = Some(e.nni()?),
                ENTRY => {
                    if entries.len() == MAX_ENTRIES {
                        return Err(MessageError::TooManyEntries);
                    }
                    entries.push(decode_entry(&e.value)?);
                }
                t => unknown(t)?,
            }
        }
        Ok(Self {
            node: node.ok_or(MessageError::Missing(NODE_NAME))?,
            instance: instance.ok_or(MessageError::Missing(INSTANCE))?,
            version: version.ok_or(MessageError::Missing(VERSION))?,
            entries,
        })
    }
}

fn decode_entry(value: &Bytes) -> Result<Entry, MessageError> {
    let mut r = Reader::new(value.clone());
    let name = r.expect(types::NAME)?;
    let prefix = Name::decode(name.wire)?;
    let cost = r.expect(COST)?.nni()?;
    let hops = r.expect(HOPS)?.nni()?;
    while !r.is_empty() {
        unknown(r.read()?.typ)?;
    }
    Ok(Entry { prefix, cost, hops })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_uri(s).unwrap()
    }

    fn sample_update() -> Update {
        Update {
            node: "n1".into(),
            instance: 7,
            version: 3,
            entries: vec![Entry {
                prefix: n("/p"),
                cost: 2,
                hops: 1,
            }],
        }
    }

    #[test]
    fn test_emit_update() {
        // UPDATE(203) len 23: NodeName "n1", Instance 7, Version 3,
        // Entry(205) len 9: Name(/p) Cost 2 Hops 1.
        let want: &[u8] = &[
            0xCB, 23, 0xCF, 2, b'n', b'1', 0xD1, 1, 7, 0xD3, 1, 3, 0xCD, 11, 0x07, 3, 0x08, 1,
            b'p', 0xD5, 1, 2, 0xD7, 1, 1,
        ];
        assert_eq!(&sample_update().encode()[..], want);
        assert_eq!(
            Update::decode(Bytes::from_static(want)),
            Ok(sample_update())
        );
    }

    #[test]
    fn test_hello_round_trip() {
        let h = Hello {
            node: "edge-2".into(),
            instance: u64::MAX,
            udp: Some("127.0.0.1:6363".parse().unwrap()),
            held: Some((5, 9)),
        };
        assert_eq!(Hello::decode(h.encode()), Ok(h.clone()));
        let bare = Hello {
            udp: None,
            held: None,
            ..h
        };
        assert_eq!(Hello::decode(bare.encode()), Ok(bare));
    }

    #[test]
    fn test_impossible_len_and_bad_fields() {
        // Length beyond the buffer.
        assert!(Hello::decode(Bytes::from_static(&[0xC9, 40, 0xCF, 1, b'a'])).is_err());
        // Wrong outer type.
        assert!(Update::decode(
            Hello {
                node: "a".into(),
                instance: 1,
                udp: None,
                held: None
            }
            .encode()
        )
        .is_err());
        // A node name with a slash.
        assert!(Hello::decode(Bytes::from_static(&[0xC9, 6, 0xCF, 1, b'/', 0xD1, 1, 1])).is_err());
        // Unknown critical element inside.
        assert!(Hello::decode(Bytes::from_static(&[
            0xC9, 8, 0xCF, 1, b'a', 0xD1, 1, 1, 0xE1, 0
        ]))
        .is_err());
        // Unknown non-critical element is skipped.
        assert!(Hello::decode(Bytes::from_static(&[
            0xC9, 8, 0xCF, 1, b'a', 0xD1, 1, 1, 0xE0, 0
        ]))
        .is_ok());
    }

    #[test]
    fn decoding_never_panics() {
        let good = sample_update().encode();
        for cut in 0..good.len() {
            assert!(Update::decode(good.slice(..cut)).is_err());
        }
        for _ in 0..2000 {
            let len = rand::random::<usize>() % 64;
            let mut b: Vec<u8> = (0..len).map(|_| rand::random()).collect();
            if let Some(x) = b.first_mut() {
                *x = if rand::random() { 0xCB } else { 0xC9 };
            }
            let b = Bytes::from(b);
            let _ = Update::decode(b.clone());
            let _ = Hello::decode(b);
        }
    }
}
