//! Serving a segmented, versioned, signed object (`picasso put`, the
//! service repo's images): the content is cut into segments
//! `<prefix>/v=<ver>/seg=<n>`, each a signed Data with FinalBlockId, made
//! once up front; Interests for a segment get it, and discovery Interests
//! (CanBePrefix for the prefix or the versioned name) get segment 0.
//!
//! It does not own the face: [`Publication::serve`] registers on a [`Client`].

use std::sync::Arc;

use picasso_tlv::{Component, Data, Interest, Name, Signer};

use super::{Client, RegisterError};

/// FreshnessPeriod of published segments, so discovery with MustBeFresh can
/// be answered from caches for a while.
pub const FRESHNESS_MS: u64 = 10_000;

/// A published object: every segment, signed.
#[derive(Debug)]
pub struct Publication {
    prefix: Name,
    versioned: Name,
    segments: Vec<Data>,
}

impl Publication {
    /// Cuts `content` into segments of `segment_size` bytes under
    /// `<prefix>/v=<version>` and signs each with `signer`.
    pub fn new(
        prefix: &Name,
        version: u64,
        content: &[u8],
        segment_size: usize,
        signer: &Signer,
    ) -> Self {
        let versioned = prefix.append(&Component::version(version));
        let size = segment_size.max(1);
        let chunks: Vec<&[u8]> = if content.is_empty() {
            vec![&[][..]]
        } else {
            content.chunks(size).collect()
        };
        let last = Component::segment(chunks.len() as u64 - 1);
        let segments = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut d = Data::new(versioned.append(&Component::segment(i as u64)))
                    .with_freshness_ms(FRESHNESS_MS)
                    .with_final_block_id(last.clone())
                    .with_content(bytes::Bytes::copy_from_slice(c));
                d.sign(signer);
                d
            })
            .collect();
        Self {
            prefix: prefix.clone(),
            versioned,
            segments,
        }
    }

    /// `<prefix>/v=<version>`.
    pub fn versioned_name(&self) -> &Name {
        &self.versioned
    }

    /// How many segments.
    pub fn segment_count(&self) -> u64 {
        self.segments.len() as u64
    }

    /// The Data answering `interest`, if any.
    pub fn answer(&self, interest: &Interest) -> Option<Data> {
        let name = interest.name();
        if name.len() == self.versioned.len() + 1 && self.versioned.is_prefix_of(name) {
            let seg = name.last()?.as_segment()?;
            return self.segments.get(usize::try_from(seg).ok()?).cloned();
        }
        let discovery =
            (*name == self.prefix || *name == self.versioned) && interest.can_be_prefix();
        discovery.then(|| self.segments[0].clone())
    }

    /// Registers the prefix on `client`'s forwarder and answers from this publication.
    pub async fn serve(self: &Arc<Self>, client: &Client) -> Result<(), RegisterError> {
        let me = self.clone();
        client
            .register(self.prefix.clone(), move |i: Interest| {
                let d = me.answer(&i);
                async move { d }
            })
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_answers() {
        let prefix = Name::from_uri("/a/b").unwrap();
        let p = Publication::new(&prefix, 7, &[1u8; 20_001], 10_000, &Signer::DigestSha256);
        assert_eq!(p.segment_count(), 3);
        let seg = |n| Interest::new(p.versioned_name().append(&Component::segment(n)));
        let d = p.answer(&seg(2)).unwrap();
        assert_eq!(d.content().len(), 1);
        assert_eq!(d.final_block_id().and_then(|c| c.as_segment()), Some(2));
        assert!(d.verify(&picasso_tlv::Verifier::DigestSha256).is_ok());
        assert!(p.answer(&seg(3)).is_none());
        let disc = Interest::new(prefix.clone()).with_can_be_prefix(true);
        assert_eq!(p.answer(&disc).unwrap().name(), seg(0).name());
        assert!(p.answer(&Interest::new(prefix)).is_none());
    }

    #[test]
    fn empty_content_is_one_empty_segment() {
        let p = Publication::new(
            &Name::from_uri("/e").unwrap(),
            1,
            &[],
            8000,
            &Signer::DigestSha256,
        );
        assert_eq!(p.segment_count(), 1);
    }
}
